"""Admin API (/v1/admin) and pages (/admin): sources, secrets and deliveries, admin-only."""

from __future__ import annotations

from typing import Any

import pytest
import redis
from flask.testing import FlaskClient

from core.db import session_scope
from core.deliveries import HttpOutcome, claim_delivery, record_outcome
from core.domain import Status
from core.settings import Settings
from core.store import IncomingComment, NewSource, record_decision
from core.tables import Event, Source
from models.artifact import SHIPPED_DIR, read_manifest
from tests.comments import receive
from tests.service.conftest import queued_tasks
from tests.service.review_support import Account, csrf_token, make_account, sign_in

API_ROUTES = [
    ("GET", "/v1/admin/sources"),
    ("GET", "/v1/admin/sources/{source}"),
    ("PATCH", "/v1/admin/sources/{source}"),
    ("POST", "/v1/admin/sources/{source}/rotate-secret"),
    ("GET", "/v1/admin/deliveries"),
    ("GET", "/v1/admin/deliveries/{event}"),
    ("POST", "/v1/admin/deliveries/{event}/redeliver"),
]
SHIPPED_THRESHOLDS: dict[str, float] = read_manifest(SHIPPED_DIR)["thresholds"]
PAGES = ["/admin/sources", "/admin/deliveries", "/admin/deliveries/{event}"]


def bearer(account: Account) -> dict[str, str]:
    return {"Authorization": f"Bearer {account.token}"}


def dead_event(settings: Settings, source_id: str, status_code: int = 410) -> str:
    """An event whose one attempt was refused for good."""
    with session_scope(settings) as session:
        source = session.get(Source, source_id)
        assert source is not None
        comment = receive(
            session,
            source.id,
            IncomingComment("cms-dead", "article-1", "Reader", "r@example.org", "Good read."),
        )
        _, event = record_decision(session, comment, Status.APPROVED, actor="model", reasons=[])
        event_id = event.id
    with session_scope(settings) as session:
        claim = claim_delivery(session, event_id)
    assert not isinstance(claim, str)
    with session_scope(settings) as session:
        record_outcome(session, claim, HttpOutcome(status_code=status_code, latency_ms=3.0))
    return event_id


def stored_source(settings: Settings, source_id: str) -> Source:
    with session_scope(settings) as session:
        source = session.get(Source, source_id)
        assert source is not None
        return source


@pytest.fixture
def admin(settings: Settings) -> Account:
    return make_account(settings, "admin")


def route(template: str, source: NewSource, event_id: str = "msg_none") -> str:
    return template.format(source=source.source.id, event=event_id)


class TestAdminAccess:
    @pytest.mark.parametrize(("method", "path"), API_ROUTES)
    def test_admin_api_refuses_anonymous_with_401_problem(
        self, client: FlaskClient, source: NewSource, method: str, path: str
    ) -> None:
        response = client.open(route(path, source), method=method, json={})
        assert response.status_code == 401
        assert response.mimetype == "application/problem+json"

    @pytest.mark.parametrize(("method", "path"), API_ROUTES)
    def test_admin_api_refuses_a_moderator_with_403(
        self, settings: Settings, client: FlaskClient, source: NewSource, method: str, path: str
    ) -> None:
        moderator = make_account(settings, "moderator")
        response = client.open(
            route(path, source), method=method, json={}, headers=bearer(moderator)
        )
        assert response.status_code == 403
        assert response.get_json()["title"] == "Forbidden"

    @pytest.mark.parametrize("path", PAGES)
    def test_admin_pages_send_anonymous_to_login(
        self, client: FlaskClient, source: NewSource, path: str
    ) -> None:
        response = client.get(route(path, source))
        assert response.status_code == 302
        assert "/login" in response.headers["Location"]

    @pytest.mark.parametrize("path", PAGES)
    def test_admin_pages_refuse_a_moderator(
        self, settings: Settings, client: FlaskClient, source: NewSource, path: str
    ) -> None:
        sign_in(client, make_account(settings, "moderator"))
        assert client.get(route(path, source)).status_code == 403


class TestAdminSourcesApi:
    def test_admin_lists_sources_with_thresholds_and_no_secrets(
        self, client: FlaskClient, source: NewSource, admin: Account
    ) -> None:
        response = client.get("/v1/admin/sources", headers=bearer(admin))
        assert response.status_code == 200
        (item,) = response.get_json()["sources"]
        assert item["id"] == source.source.id
        assert item["thresholds"]["toxic"] == {
            "flag": SHIPPED_THRESHOLDS["toxic"],
            "reject": None,
            "source": "model",
        }
        assert item["thresholds_source"] == "model"
        assert source.secret not in response.get_data(as_text=True)

    @pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
    def test_admin_updates_thresholds_blocklist_and_callback_url(
        self, settings: Settings, client: FlaskClient, source: NewSource, admin: Account
    ) -> None:
        response = client.patch(
            f"/v1/admin/sources/{source.source.id}",
            headers=bearer(admin),
            json={
                "thresholds": {"toxic": {"flag": 0.6, "reject": 0.9}},
                "blocklist_add": [{"term": "casino", "action": "reject"}],
                "max_links": 0,
                "callback_url": "https://cms.example.org/v2/hook",
            },
        )
        assert response.status_code == 200, response.get_json()
        assert response.get_json()["thresholds"]["toxic"] == {
            "flag": 0.6,
            "reject": 0.9,
            "source": "custom",
        }
        stored = stored_source(settings, source.source.id)
        assert stored.thresholds == {"toxic": {"flag": 0.6, "reject": 0.9}}
        assert stored.blocklist == [{"term": "casino", "action": "reject"}]
        assert stored.max_links == 0
        assert stored.callback_url == "https://cms.example.org/v2/hook"

    @pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
    def test_admin_puts_thresholds_back_on_the_model_with_null(
        self, settings: Settings, client: FlaskClient, source: NewSource, admin: Account
    ) -> None:
        path = f"/v1/admin/sources/{source.source.id}"
        every = {label: {"flag": 0.9} for label in SHIPPED_THRESHOLDS}
        custom = client.patch(path, headers=bearer(admin), json={"thresholds": every}).get_json()
        assert custom["thresholds_source"] == "custom"
        one = client.patch(path, headers=bearer(admin), json={"thresholds": {"spam": None}})
        assert one.get_json()["thresholds_source"] == "mixed"
        assert one.get_json()["thresholds"]["spam"] == {
            "flag": SHIPPED_THRESHOLDS["spam"],
            "reject": None,
            "source": "model",
        }
        client.patch(path, headers=bearer(admin), json={"thresholds": None})
        shown = client.get(path, headers=bearer(admin)).get_json()
        assert shown["thresholds_source"] == "model"
        assert {k: v["flag"] for k, v in shown["thresholds"].items()} == SHIPPED_THRESHOLDS
        assert stored_source(settings, source.source.id).thresholds == {}

    def test_admin_clears_the_callback_url_with_null(
        self, settings: Settings, client: FlaskClient, source: NewSource, admin: Account
    ) -> None:
        response = client.patch(
            f"/v1/admin/sources/{source.source.id}",
            headers=bearer(admin),
            json={"callback_url": None},
        )
        assert response.status_code == 200
        assert stored_source(settings, source.source.id).callback_url is None

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"thresholds": {"rudeness": {"flag": 0.5}}}, "body"),
            ({"thresholds": {"toxic": {"flag": 0.8, "reject": 0.2}}}, "body"),
            ({"thresholds": {"toxic": {"flag": 2}}}, "thresholds.toxic.flag"),
            ({"callback_url": "ftp://cms.example.org"}, "callback_url"),
            ({"max_links": -1}, "max_links"),
            ({"unscored_mode": "open"}, "unscored_mode"),
            ({"unscored_wait_seconds": 0}, "unscored_wait_seconds"),
        ],
    )
    def test_admin_update_refuses_bad_fields_with_422(
        self,
        settings: Settings,
        client: FlaskClient,
        source: NewSource,
        admin: Account,
        body: dict[str, Any],
        field: str,
    ) -> None:
        response = client.patch(
            f"/v1/admin/sources/{source.source.id}", headers=bearer(admin), json=body
        )
        assert response.status_code == 422
        assert field in [e["field"] for e in response.get_json()["errors"]]
        assert stored_source(settings, source.source.id).thresholds == {}

    def test_admin_sets_what_happens_when_the_scorer_is_down(
        self, settings: Settings, client: FlaskClient, source: NewSource, admin: Account
    ) -> None:
        response = client.patch(
            f"/v1/admin/sources/{source.source.id}",
            headers=bearer(admin),
            json={"unscored_mode": "fail-open", "unscored_wait_seconds": 45},
        )
        assert response.status_code == 200
        body = response.get_json()
        assert (body["unscored_mode"], body["unscored_wait_seconds"]) == ("fail-open", 45)
        stored = stored_source(settings, source.source.id)
        assert (stored.unscored_mode, stored.unscored_wait_seconds) == ("fail-open", 45)

    def test_admin_refuses_strings_a_database_cannot_store(
        self, settings: Settings, client: FlaskClient, source: NewSource, admin: Account
    ) -> None:
        response = client.patch(
            f"/v1/admin/sources/{source.source.id}",
            headers=bearer(admin),
            json={"name": "Bugle\u0000", "blocklist_add": [{"term": "a\u0000b"}]},
        )
        assert response.status_code == 422
        assert {e["field"] for e in response.get_json()["errors"]} >= {
            "name",
            "blocklist_add.0.term",
        }
        nul_id = client.get("/v1/admin/deliveries/msg%00x", headers=bearer(admin))
        # Refused as a client error (the app-wide NUL guard answers 400), never a 500.
        assert 400 <= nul_id.status_code < 500
        assert nul_id.mimetype == "application/problem+json"

    def test_admin_update_of_unknown_source_is_404(
        self, client: FlaskClient, admin: Account
    ) -> None:
        response = client.patch(
            "/v1/admin/sources/src_missing", headers=bearer(admin), json={"max_links": 1}
        )
        assert response.status_code == 404
        assert response.mimetype == "application/problem+json"

    def test_admin_rotates_a_secret_with_overlap(
        self, settings: Settings, client: FlaskClient, source: NewSource, admin: Account
    ) -> None:
        response = client.post(
            f"/v1/admin/sources/{source.source.id}/rotate-secret",
            headers=bearer(admin),
            json={"overlap_seconds": 3600},
        )
        assert response.status_code == 200
        new_secret = response.get_json()["secret"]
        stored = stored_source(settings, source.source.id)
        assert stored.secret == new_secret != source.secret
        assert stored.previous_secret == source.secret
        assert response.get_json()["previous_expires_at"] is not None


class TestAdminDeliveriesApi:
    def test_admin_lists_dead_deliveries_and_their_attempts(
        self, settings: Settings, client: FlaskClient, source: NewSource, admin: Account
    ) -> None:
        event_id = dead_event(settings, source.source.id)
        listed = client.get("/v1/admin/deliveries?state=dead", headers=bearer(admin)).get_json()
        assert [d["id"] for d in listed["deliveries"]] == [event_id]
        detail = client.get(f"/v1/admin/deliveries/{event_id}", headers=bearer(admin)).get_json()
        assert detail["delivery"]["state"] == "dead"
        assert [(a["number"], a["status_code"]) for a in detail["attempts"]] == [(1, 410)]

    def test_admin_deliveries_refuses_an_unknown_state(
        self, client: FlaskClient, admin: Account
    ) -> None:
        response = client.get("/v1/admin/deliveries?state=lost", headers=bearer(admin))
        assert response.status_code == 422

    def test_admin_redeliver_makes_the_event_pending_and_queues_it(
        self,
        settings: Settings,
        client: FlaskClient,
        source: NewSource,
        admin: Account,
        broker: redis.Redis,
    ) -> None:
        event_id = dead_event(settings, source.source.id)
        response = client.post(f"/v1/admin/deliveries/{event_id}/redeliver", headers=bearer(admin))
        assert response.status_code == 202
        assert response.get_json()["state"] == "pending"
        assert [(t[0], t[1]) for t in queued_tasks(broker, settings.delivery_queue_name)] == [
            ("worker.deliver_event", [event_id])
        ]
        again = client.post(f"/v1/admin/deliveries/{event_id}/redeliver", headers=bearer(admin))
        assert again.status_code == 409

    def test_admin_routes_are_in_the_openapi_document(self, client: FlaskClient) -> None:
        paths = client.get("/openapi.json").get_json()["paths"]
        assert "patch" in paths["/v1/admin/sources/{source_id}"]
        assert "post" in paths["/v1/admin/deliveries/{event_id}/redeliver"]


class TestAdminPages:
    def test_sources_page_shows_thresholds_and_saves_the_form(
        self, settings: Settings, client: FlaskClient, source: NewSource, admin: Account
    ) -> None:
        sign_in(client, admin)
        page = client.get("/admin/sources").get_data(as_text=True)
        assert source.source.id in page and 'name="toxic_flag"' in page
        response = client.post(
            f"/admin/sources/{source.source.id}",
            data={
                "csrf_token": csrf_token(client, "/admin/sources"),
                "callback_url": "https://cms.example.org/hook",
                "toxic_flag": "0.7",
                "toxic_reject": "0.95",
                "max_links": "3",
                "max_body_chars": "1500",
                "unscored_mode": "fail-open",
                "unscored_wait_seconds": "120",
            },
        )
        assert response.status_code == 302
        stored = stored_source(settings, source.source.id)
        assert stored.thresholds["toxic"] == {"flag": 0.7, "reject": 0.95}
        assert stored.max_links == 3
        assert (stored.unscored_mode, stored.unscored_wait_seconds) == ("fail-open", 120)

    def test_sources_form_keeps_untouched_labels_on_the_model(
        self, settings: Settings, client: FlaskClient, source: NewSource, admin: Account
    ) -> None:
        sign_in(client, admin)
        form: dict[str, str] = {"csrf_token": csrf_token(client, "/admin/sources")}
        # What the page sends back: every label's shown numbers, "model" ticked on all.
        for label, flag in SHIPPED_THRESHOLDS.items():
            form |= {f"{label}_flag": str(flag), f"{label}_reject": "", f"{label}_model": "1"}
            form |= {f"{label}_shown_flag": str(flag), f"{label}_shown_reject": ""}
        form |= {"toxic_flag": "0.7", "spam_model": ""}
        client.post(f"/admin/sources/{source.source.id}", data=form)
        stored = stored_source(settings, source.source.id)
        assert stored.thresholds == {
            "toxic": {"flag": 0.7, "reject": None},
            "spam": {"flag": SHIPPED_THRESHOLDS["spam"], "reject": None},
        }
        page = client.get("/admin/sources").get_data(as_text=True)
        assert 'data-thresholds-source="mixed"' in page

    def test_sources_form_without_csrf_token_is_refused(
        self, settings: Settings, client: FlaskClient, source: NewSource, admin: Account
    ) -> None:
        sign_in(client, admin)
        response = client.post(f"/admin/sources/{source.source.id}", data={"toxic_flag": "0.1"})
        assert response.status_code == 400
        assert stored_source(settings, source.source.id).thresholds == {}

    def test_rotate_form_shows_the_new_secret_once(
        self, settings: Settings, client: FlaskClient, source: NewSource, admin: Account
    ) -> None:
        sign_in(client, admin)
        response = client.post(
            f"/admin/sources/{source.source.id}/rotate-secret",
            data={"csrf_token": csrf_token(client, "/admin/sources"), "overlap_hours": "1"},
        )
        new_secret = stored_source(settings, source.source.id).secret
        assert response.status_code == 200
        assert new_secret in response.get_data(as_text=True)
        assert new_secret not in client.get("/admin/sources").get_data(as_text=True)

    def test_deliveries_page_redelivers_a_dead_event(
        self,
        settings: Settings,
        client: FlaskClient,
        source: NewSource,
        admin: Account,
        broker: redis.Redis,
    ) -> None:
        event_id = dead_event(settings, source.source.id)
        sign_in(client, admin)
        page = client.get("/admin/deliveries").get_data(as_text=True)
        assert event_id in page and "Redeliver" in page
        response = client.post(
            f"/admin/deliveries/{event_id}/redeliver",
            data={"csrf_token": csrf_token(client, "/admin/deliveries")},
        )
        assert response.status_code == 302
        with session_scope(settings) as session:
            event = session.get(Event, event_id)
            assert event is not None and event.state == "pending"
        still_dead = client.get("/admin/deliveries").get_data(as_text=True)
        assert f"/admin/deliveries/{event_id}/redeliver" not in still_dead

    def test_delivery_page_lists_attempts(
        self, settings: Settings, client: FlaskClient, source: NewSource, admin: Account
    ) -> None:
        event_id = dead_event(settings, source.source.id, status_code=404)
        sign_in(client, admin)
        page = client.get(f"/admin/deliveries/{event_id}").get_data(as_text=True)
        assert "404" in page and "https://cms.example.org/hook" in page
