"""The admin API's export and erasure of one author's data."""

from __future__ import annotations

import pytest
import redis
from flask.testing import FlaskClient

from core.db import session_scope
from core.settings import Settings
from core.store import NewSource
from core.tables import Comment, Event
from tests.service.conftest import queued_tasks
from tests.service.review_support import Account, add_comment, bearer, make_account


@pytest.fixture
def admin(settings: Settings) -> Account:
    return make_account(settings, "admin")


def path(source: NewSource, author: str = "u-9") -> str:
    return f"/v1/admin/sources/{source.source.id}/authors/{author}"


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
class TestAuthorDataApi:
    def test_export_lists_the_authors_comments(
        self, client: FlaskClient, source: NewSource, admin: Account, settings: Settings
    ) -> None:
        mine = add_comment(settings, source.source.id, author="Ann", author_id="u-9")
        add_comment(settings, source.source.id, author="Bob", author_id="u-8")
        response = client.get(path(source), headers=bearer(admin))
        assert response.status_code == 200, response.get_data(as_text=True)
        tables = response.get_json()["tables"]
        assert [c["id"] for c in tables["comments"]] == [mine]
        assert tables["comments"][0]["author_email"] == "ann@example.org"
        assert {d["comment_id"] for d in tables["decisions"]} == {mine}

    def test_erase_blanks_the_comment_and_tells_the_cms(
        self,
        client: FlaskClient,
        source: NewSource,
        admin: Account,
        settings: Settings,
        broker: redis.Redis,
    ) -> None:
        mine = add_comment(settings, source.source.id, author="Ann", author_id="u-9")
        response = client.delete(path(source), headers=bearer(admin))
        assert response.status_code == 200, response.get_data(as_text=True)
        body = response.get_json()
        assert body["counts"]["comments"] == 1
        with session_scope(settings) as session:
            comment = session.get_one(Comment, mine)
            assert (comment.author_name, comment.author_email, comment.body) == ("[erased]", "", "")
            assert session.get_one(Event, body["event_id"]).type == "author.erased"
        tasks = queued_tasks(broker, settings.delivery_queue_name)
        assert [body["event_id"]] in [args for _, args, _ in tasks]
        assert (
            client.get(path(source), headers=bearer(admin)).get_json()["tables"]["comments"][0][
                "body"
            ]
            == ""
        )

    def test_unknown_author_is_not_found(
        self, client: FlaskClient, source: NewSource, admin: Account
    ) -> None:
        assert client.get(path(source, "u-none"), headers=bearer(admin)).status_code == 404
        assert client.delete(path(source, "u-none"), headers=bearer(admin)).status_code == 404

    def test_moderators_cannot_export_or_erase(
        self, client: FlaskClient, source: NewSource, settings: Settings
    ) -> None:
        moderator = make_account(settings, "moderator")
        assert client.get(path(source), headers=bearer(moderator)).status_code == 403
        assert client.delete(path(source), headers=bearer(moderator)).status_code == 403


class TestStatementSettings:
    def test_admin_sets_statement_texts_and_the_appeal_url(
        self, client: FlaskClient, source: NewSource, admin: Account
    ) -> None:
        response = client.patch(
            f"/v1/admin/sources/{source.source.id}",
            headers=bearer(admin),
            json={
                "statement_templates": {"spam": "No adverts, please."},
                "appeal_url": "https://cms.example/appeal/$external_id",
            },
        )
        assert response.status_code == 200, response.get_data(as_text=True)
        view = response.get_json()
        assert view["statement_templates"] == {"spam": "No adverts, please."}
        assert view["appeal_url"] == "https://cms.example/appeal/$external_id"
        reset = client.patch(
            f"/v1/admin/sources/{source.source.id}",
            headers=bearer(admin),
            json={"statement_templates": {"spam": None}, "appeal_url": None},
        ).get_json()
        assert (reset["statement_templates"], reset["appeal_url"]) == ({}, None)

    def test_unknown_ground_is_refused(
        self, client: FlaskClient, source: NewSource, admin: Account
    ) -> None:
        response = client.patch(
            f"/v1/admin/sources/{source.source.id}",
            headers=bearer(admin),
            json={"statement_templates": {"rudeness": "x"}},
        )
        assert response.status_code == 422
