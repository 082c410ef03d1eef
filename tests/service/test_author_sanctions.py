"""Suspending, banning and reinstating an author through the review API and the author page."""

from __future__ import annotations

import pytest
import redis
from flask.testing import FlaskClient
from sqlalchemy import select

from core.db import session_scope
from core.domain import Status
from core.settings import Settings
from core.store import NewSource
from core.tables import AuthorSanction, Event
from tests.service.conftest import queued_tasks
from tests.service.review_support import (
    Account,
    add_comment,
    bearer,
    csrf_token,
    make_account,
    sign_in,
)


@pytest.fixture
def moderator(settings: Settings) -> Account:
    return make_account(settings, "moderator")


def path(source: NewSource, author: str = "u-9", action: str = "sanctions") -> str:
    return f"/v1/review/sources/{source.source.id}/authors/{author}/{action}"


def suspend(client: FlaskClient, source: NewSource, moderator: Account, **body: object) -> dict:
    response = client.post(
        path(source),
        headers=bearer(moderator),
        json={"kind": "suspension", "reason": "insults", "days": 3, **body},
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    return dict(response.get_json())


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
class TestSanctionApi:
    def test_suspension_is_stored_told_and_queued(
        self,
        client: FlaskClient,
        source: NewSource,
        moderator: Account,
        settings: Settings,
        broker: redis.Redis,
    ) -> None:
        body = suspend(client, source, moderator)
        assert (body["kind"], body["active"], body["created_by"]) == (
            "suspension",
            True,
            moderator.email,
        )
        with session_scope(settings) as session:
            event = session.get_one(Event, body["event_id"])
            assert event.type == "author.suspended"
        tasks = queued_tasks(broker, settings.delivery_queue_name)
        assert [args for _, args, _ in tasks] == [[body["event_id"]]]

    def test_listing_shows_the_one_in_force_and_the_history(
        self, client: FlaskClient, source: NewSource, moderator: Account
    ) -> None:
        first = suspend(client, source, moderator)
        banned = client.post(
            path(source), headers=bearer(moderator), json={"kind": "ban", "reason": "again"}
        ).get_json()
        listing = client.get(path(source), headers=bearer(moderator)).get_json()
        assert listing["active"]["id"] == banned["id"]
        assert [s["id"] for s in listing["sanctions"]] == [banned["id"], first["id"]]
        assert listing["sanctions"][1]["active"] is False

    def test_reinstate_lifts_and_a_second_one_conflicts(
        self, client: FlaskClient, source: NewSource, moderator: Account
    ) -> None:
        suspend(client, source, moderator)
        lifted = client.post(
            path(source, action="reinstate"), headers=bearer(moderator), json={"reason": "ok"}
        )
        assert lifted.status_code == 200
        assert lifted.get_json()["lifted_by"] == moderator.email
        again = client.post(
            path(source, action="reinstate"), headers=bearer(moderator), json={"reason": "ok"}
        )
        assert again.status_code == 409
        assert again.mimetype == "application/problem+json"

    @pytest.mark.parametrize(
        "body",
        [
            {"kind": "suspension", "reason": "x"},
            {"kind": "ban", "reason": "x", "days": 3},
            {"kind": "ban", "reason": "   "},
            {"kind": "exile", "reason": "x"},
        ],
    )
    def test_nonsense_is_refused(
        self, client: FlaskClient, source: NewSource, moderator: Account, body: dict
    ) -> None:
        response = client.post(path(source), headers=bearer(moderator), json=body)
        assert response.status_code == 422

    def test_unknown_source_is_not_found(self, client: FlaskClient, moderator: Account) -> None:
        response = client.post(
            "/v1/review/sources/src_nope/authors/u-9/sanctions",
            headers=bearer(moderator),
            json={"kind": "ban", "reason": "x"},
        )
        assert response.status_code == 404

    def test_author_view_shows_the_sanction_in_force(
        self, client: FlaskClient, source: NewSource, moderator: Account, settings: Settings
    ) -> None:
        comment_id = add_comment(settings, source.source.id, author_id="u-9")
        suspend(client, source, moderator)
        body = client.get(
            f"/v1/review/comments/{comment_id}/author", headers=bearer(moderator)
        ).get_json()
        assert body["sanction"]["kind"] == "suspension"

    def test_sanctions_need_a_moderator(self, client: FlaskClient, source: NewSource) -> None:
        response = client.post(path(source), json={"kind": "ban", "reason": "x"})
        assert response.status_code == 401


class TestSanctionPage:
    def test_author_page_suspends_and_reinstates(
        self, client: FlaskClient, source: NewSource, moderator: Account, settings: Settings
    ) -> None:
        comment_id = add_comment(settings, source.source.id, author_id="u-9")
        sign_in(client, moderator)
        page = f"/moderate/comments/{comment_id}/author"
        assert "In good standing." in client.get(page).get_data(as_text=True)
        token = csrf_token(client, page)
        response = client.post(
            f"{page}/sanction",
            data={"kind": "suspension", "days": "5", "reason": "insults", "csrf_token": token},
            follow_redirects=True,
        )
        text = response.get_data(as_text=True)
        assert "Author suspended." in text and "Suspended until" in text
        response = client.post(
            f"{page}/reinstate",
            data={"reason": "apologised", "csrf_token": token},
            follow_redirects=True,
        )
        text = response.get_data(as_text=True)
        assert "Author reinstated." in text and "In good standing." in text
        with session_scope(settings) as session:
            (row,) = session.scalars(
                select(AuthorSanction).where(AuthorSanction.source_id == source.source.id)
            )
            assert (row.author_id, row.lift_reason) == ("u-9", "apologised")

    def test_author_page_flashes_a_refusal(
        self, client: FlaskClient, source: NewSource, moderator: Account, settings: Settings
    ) -> None:
        comment_id = add_comment(settings, source.source.id, author_id="u-9")
        sign_in(client, moderator)
        page = f"/moderate/comments/{comment_id}/author"
        response = client.post(
            f"{page}/reinstate",
            data={"reason": "x", "csrf_token": csrf_token(client, page)},
            follow_redirects=True,
        )
        assert "neither suspended nor banned" in response.get_data(as_text=True)


class TestAuthorRecordInTheQueue:
    def test_queue_shows_each_authors_record(
        self, client: FlaskClient, source: NewSource, moderator: Account, settings: Settings
    ) -> None:
        add_comment(settings, source.source.id, author_id="u-9", status=Status.APPROVED)
        add_comment(settings, source.source.id, author_id="u-9", status=Status.REJECTED)
        flagged = add_comment(settings, source.source.id, author_id="u-9")
        items = client.get(
            f"/v1/review/queue?source={source.source.id}", headers=bearer(moderator)
        ).get_json()["items"]
        (item,) = [i for i in items if i["id"] == flagged]
        assert item["author_record"] == {"approved": 1, "rejected": 1, "reported": 0, "upheld": 0}
        sign_in(client, moderator)
        assert "1 approved · 1 rejected" in client.get("/moderate").get_data(as_text=True)
