"""Moderators working together through the review API: notes for the next moderator, who is in
the queue and what they hold, each one's last action (undoable from anywhere in its window),
and an audit log and CSV that say which comment each decision was about."""

from __future__ import annotations

import csv
import io
import json
import uuid

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from core.db import session_scope
from core.settings import Settings
from core.store import NewSource
from core.tables import Comment, Event
from tests.service.review_support import Account, add_comment, bearer, make_account, sign_in

pytestmark = pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture
def ann(settings: Settings) -> Account:
    # E-mails unique in the run: PostgreSQL's database is shared by its tests.
    return make_account(settings, "moderator", email=f"ann-{uuid.uuid4().hex[:8]}@example.org")


@pytest.fixture
def bob(settings: Settings) -> Account:
    return make_account(settings, "moderator", email=f"bob-{uuid.uuid4().hex[:8]}@example.org")


def statuses(settings: Settings, ids: list[str]) -> list[str]:
    with session_scope(settings) as session:
        return [session.get(Comment, i).status for i in ids]  # type: ignore[union-attr]


class TestNotes:
    def test_a_note_reaches_the_next_moderator_and_never_the_cms(
        self, client: FlaskClient, settings: Settings, source: NewSource, ann: Account, bob: Account
    ) -> None:
        comment_id = add_comment(settings, source.source.id)
        response = client.post(
            f"/v1/review/comments/{comment_id}/notes",
            json={"body": "  Checked the thread: this is a regular, sarcasm.  "},
            headers=bearer(ann),
        )
        assert response.status_code == 201, response.json
        assert response.json["author"] == ann.email  # type: ignore[index]
        assert response.json["body"] == "Checked the thread: this is a regular, sarcasm."  # type: ignore[index]

        detail = client.get(f"/v1/review/comments/{comment_id}", headers=bearer(bob)).json
        assert [n["body"] for n in detail["notes"]] == [  # type: ignore[index]
            "Checked the thread: this is a regular, sarcasm."
        ]
        queue = client.get(f"/v1/review/queue?source={source.source.id}", headers=bearer(bob)).json
        (item,) = queue["items"]  # type: ignore[index]
        assert [n["author"] for n in item["notes"]] == [ann.email]

        client.post(
            f"/v1/review/comments/{comment_id}/decision",
            json={"status": "approved"},
            headers=bearer(bob),
        )
        with session_scope(settings) as session:
            payloads = [e.payload for e in session.scalars(select(Event))]
        assert payloads and not any("sarcasm" in json.dumps(p) for p in payloads)

    @pytest.mark.parametrize(
        ("body", "status"), [({"body": ""}, 422), ({"body": "x" * 1001}, 422), ({}, 422)]
    )
    def test_a_note_must_have_some_text_within_the_limit(
        self,
        client: FlaskClient,
        settings: Settings,
        source: NewSource,
        ann: Account,
        body: dict[str, str],
        status: int,
    ) -> None:
        comment_id = add_comment(settings, source.source.id)
        response = client.post(
            f"/v1/review/comments/{comment_id}/notes", json=body, headers=bearer(ann)
        )
        assert response.status_code == status
        assert response.content_type == "application/problem+json"

    def test_a_note_on_no_comment_is_404(self, client: FlaskClient, ann: Account) -> None:
        response = client.post(
            "/v1/review/comments/cmt_nope/notes", json={"body": "hi"}, headers=bearer(ann)
        )
        assert response.status_code == 404

    def test_the_page_form_leaves_a_note(
        self, client: FlaskClient, settings: Settings, source: NewSource, ann: Account
    ) -> None:
        comment_id = add_comment(settings, source.source.id)
        sign_in(client, ann)
        page = client.get(f"/moderate?source={source.source.id}").get_data(as_text=True)
        token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        response = client.post(
            f"/moderate/comments/{comment_id}/notes",
            data={"csrf_token": token, "body": "<b>ask legal</b>", "return_to": "/moderate"},
        )
        assert response.status_code == 302
        page = client.get(f"/moderate?source={source.source.id}").get_data(as_text=True)
        assert "&lt;b&gt;ask legal&lt;/b&gt;" in page


class TestPresence:
    def test_presence_lists_who_is_in_the_queue_and_what_they_hold(
        self, client: FlaskClient, settings: Settings, source: NewSource, ann: Account, bob: Account
    ) -> None:
        comment_id = add_comment(settings, source.source.id)
        assert client.get("/v1/review/queue", headers=bearer(ann)).status_code == 200
        claimed = client.post(f"/v1/review/comments/{comment_id}/claim", headers=bearer(bob))
        assert claimed.status_code == 200

        people = client.get("/v1/review/presence", headers=bearer(ann)).json["moderators"]  # type: ignore[index]
        by_email = {p["email"]: p for p in people}
        assert people[0]["email"] == ann.email and people[0]["you"] is True
        assert by_email[ann.email]["seen_at"] is not None
        assert by_email[bob.email]["holding"] == [comment_id]
        assert by_email[bob.email]["you"] is False

        sign_in(client, ann)
        page = client.get("/moderate").get_data(as_text=True)
        assert "Also in the queue:" in page and f"{bob.email} (holds 1)" in page


class TestLastAction:
    def test_no_body_undo_takes_back_the_whole_last_action(
        self, client: FlaskClient, settings: Settings, source: NewSource, ann: Account
    ) -> None:
        ids = [add_comment(settings, source.source.id) for _ in range(3)]
        assert client.get("/v1/review/undo", headers=bearer(ann)).status_code == 404
        bulk = client.post(
            "/v1/review/decisions", json={"ids": ids, "status": "approved"}, headers=bearer(ann)
        ).json
        decided = sorted(d["id"] for d in bulk["decisions"])  # type: ignore[index]

        last = client.get("/v1/review/undo", headers=bearer(ann))
        assert last.status_code == 200
        assert sorted(last.json["decision_ids"]) == decided  # type: ignore[index]
        assert last.json["undo_until"] == bulk["undo_until"]  # type: ignore[index]

        undone = client.post("/v1/review/undo", headers=bearer(ann))
        assert undone.status_code == 201
        assert len(undone.json["decisions"]) == 3  # type: ignore[index]
        assert statuses(settings, ids) == ["flagged"] * 3
        assert client.get("/v1/review/undo", headers=bearer(ann)).status_code == 404

    def test_the_queue_page_carries_the_last_action_for_the_toast(
        self, client: FlaskClient, settings: Settings, source: NewSource, ann: Account
    ) -> None:
        comment_id = add_comment(settings, source.source.id)
        decided = client.post(
            f"/v1/review/comments/{comment_id}/decision",
            json={"status": "approved"},
            headers=bearer(ann),
        ).json
        sign_in(client, ann)
        page = client.get("/moderate").get_data(as_text=True)
        decision_id = decided["decisions"][0]["id"]  # type: ignore[index]
        assert f'data-undo-ids="{decision_id}"' in page


class TestAuditContext:
    def test_audit_api_and_csv_name_the_comment(
        self, client: FlaskClient, settings: Settings, source: NewSource, ann: Account
    ) -> None:
        add_comment(settings, source.source.id, body="=HYPERLINK(1) rude words", author="Eve")
        query = f"?source={source.source.id}"
        audit = client.get(f"/v1/review/audit{query}", headers=bearer(ann)).json
        (row,) = audit["decisions"]  # type: ignore[index]
        assert row["comment"]["excerpt"] == "=HYPERLINK(1) rude words"
        assert row["comment"]["author_name"] == "Eve"
        assert row["comment"]["source_name"] == "Test CMS"
        assert row["comment"]["thread_id"] == "article-7"

        text = client.get(f"/v1/review/audit.csv{query}", headers=bearer(ann)).get_data(
            as_text=True
        )
        (line,) = list(csv.DictReader(io.StringIO(text)))
        assert line["author"] == "Eve" and line["source"] == "Test CMS"
        assert line["thread"] == "Title of article-7"
        # Still safe to open in a spreadsheet.
        assert line["comment"] == "'=HYPERLINK(1) rude words"
