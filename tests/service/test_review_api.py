"""The review API under /v1/review: auth, queue, claims, decisions, bulk, undo, author, audit."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import redis
from flask.testing import FlaskClient
from sqlalchemy import select, text

from core.db import session_scope
from core.domain import Status, Unscored
from core.reasons import UnscoredReason
from core.settings import Settings
from core.store import NewSource, record_decision
from core.tables import Comment, Decision, Event
from core.tasks import SCORE_COMMENT
from service import create_app
from tests.comments import incoming, receive
from tests.service.conftest import queued_tasks
from tests.service.review_support import (
    Account,
    add_comment,
    bearer,
    explain_with_shipped_model,
    make_account,
)

ROUTES = [
    ("GET", "/v1/review/queue"),
    ("GET", "/v1/review/comments/cmt_x"),
    ("POST", "/v1/review/comments/cmt_x/claim"),
    ("DELETE", "/v1/review/comments/cmt_x/claim"),
    ("POST", "/v1/review/comments/cmt_x/decision"),
    ("POST", "/v1/review/decisions"),
    ("POST", "/v1/review/undo"),
    ("GET", "/v1/review/comments/cmt_x/author"),
    ("GET", "/v1/review/audit"),
    ("GET", "/v1/review/audit.csv"),
]


@pytest.fixture
def moderator(settings: Settings) -> Account:
    return make_account(settings, "moderator")


@pytest.fixture
def other(settings: Settings) -> Account:
    return make_account(settings, "moderator")


def status_of(settings: Settings, comment_id: str) -> str:
    with session_scope(settings) as session:
        comment = session.get(Comment, comment_id)
        assert comment is not None
        return comment.status


class TestReviewAuth:
    @pytest.mark.parametrize(("method", "path"), ROUTES)
    def test_review_auth_refuses_anonymous_callers(
        self, client: FlaskClient, method: str, path: str
    ) -> None:
        response = client.open(path, method=method, json={})
        assert response.status_code == 401
        assert response.mimetype == "application/problem+json"
        assert response.json is not None and response.json["status"] == 401

    @pytest.mark.parametrize(("method", "path"), ROUTES)
    def test_review_auth_refuses_source_tokens(
        self, client: FlaskClient, source: NewSource, method: str, path: str
    ) -> None:
        response = client.open(
            path, method=method, json={}, headers={"Authorization": f"Bearer {source.token}"}
        )
        assert response.status_code == 401

    def test_review_auth_routes_are_in_openapi(self, client: FlaskClient) -> None:
        spec = client.get("/openapi.json").json
        assert spec is not None
        for method, path in ROUTES:
            documented_path = path.replace("cmt_x", "{comment_id}")
            operation = spec["paths"][documented_path][method.lower()]
            assert operation["security"] == [{"moderatorToken": []}]
            assert "401" in operation["responses"]


class TestReviewQueue:
    @pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
    def test_review_queue_lists_flagged_by_risk(
        self, client: FlaskClient, settings: Settings, source: NewSource, moderator: Account
    ) -> None:
        low = add_comment(settings, source.source.id, scores={"toxic": 0.55, "spam": 0.1})
        high = add_comment(settings, source.source.id, scores={"toxic": 0.2, "threat": 0.97})
        mid = add_comment(settings, source.source.id, scores={"spam": 0.8})
        add_comment(settings, source.source.id, status=Status.APPROVED, scores={"toxic": 0.1})
        # The PostgreSQL database is shared by the run: look at this test's source only.
        body = client.get(
            f"/v1/review/queue?source={source.source.id}", headers=bearer(moderator)
        ).json
        assert body is not None
        assert [item["id"] for item in body["items"]] == [high, mid, low]
        assert body["items"][0]["risk"] == pytest.approx(0.97)
        assert body["counts"] == {
            "pending": 0,
            "approved": 1,
            "flagged": 3,
            "rejected": 0,
            "unscored": 0,
        }
        assert body["total"] == 3

    def test_review_queue_sorts_by_age(
        self, client: FlaskClient, settings: Settings, source: NewSource, moderator: Account
    ) -> None:
        first = add_comment(settings, source.source.id, scores={"toxic": 0.6})
        second = add_comment(settings, source.source.id, scores={"toxic": 0.9})
        body = client.get("/v1/review/queue?sort=age", headers=bearer(moderator)).json
        assert body is not None
        assert [item["id"] for item in body["items"]] == [first, second]

    def test_review_queue_shows_other_tabs(
        self, client: FlaskClient, settings: Settings, source: NewSource, moderator: Account
    ) -> None:
        pending = add_comment(settings, source.source.id, status=Status.PENDING)
        body = client.get("/v1/review/queue?status=pending", headers=bearer(moderator)).json
        assert body is not None
        assert [item["id"] for item in body["items"]] == [pending]
        assert body["items"][0]["scores"] is None

    @pytest.mark.parametrize(
        ("query", "expected"),
        [
            ("thread=article-9", "b"),
            ("author=Troll", "b"),
            ("author=u-2", "b"),
            ("label=spam", "b"),
            ("label=toxic", "a"),
        ],
    )
    def test_review_queue_filters(
        self,
        client: FlaskClient,
        settings: Settings,
        source: NewSource,
        moderator: Account,
        query: str,
        expected: str,
    ) -> None:
        ids = {
            "a": add_comment(settings, source.source.id, scores={"toxic": 0.9, "spam": 0.1}),
            "b": add_comment(
                settings,
                source.source.id,
                scores={"toxic": 0.2, "spam": 0.7},
                thread="article-9",
                author="Troll",
                author_id="u-2",
            ),
        }
        # Scoped to the test's source: a shared database may hold another "article-9".
        scoped = f"source={source.source.id}&{query}"
        body = client.get(f"/v1/review/queue?{scoped}", headers=bearer(moderator)).json
        assert body is not None
        assert [item["id"] for item in body["items"]] == [ids[expected]]

    def test_review_queue_thread_of_two_sources_needs_its_source(
        self,
        client: FlaskClient,
        settings: Settings,
        source: NewSource,
        other_source: NewSource,
        moderator: Account,
    ) -> None:
        thread = f"article-{uuid.uuid4().hex[:8]}"
        mine = add_comment(settings, source.source.id, thread=thread)
        add_comment(settings, other_source.source.id, thread=thread)
        response = client.get(f"/v1/review/queue?thread={thread}", headers=bearer(moderator))
        assert response.status_code == 422
        assert "thread ids are per source" in response.json["detail"]  # type: ignore[index]
        scoped = f"/v1/review/queue?thread={thread}&source={source.source.id}"
        body = client.get(scoped, headers=bearer(moderator)).json
        assert [item["id"] for item in body["items"]] == [mine]  # type: ignore[index]

    def test_review_queue_filters_by_source(
        self,
        client: FlaskClient,
        settings: Settings,
        source: NewSource,
        other_source: NewSource,
        moderator: Account,
    ) -> None:
        add_comment(settings, source.source.id)
        theirs = add_comment(settings, other_source.source.id)
        body = client.get(
            f"/v1/review/queue?source={other_source.source.id}", headers=bearer(moderator)
        ).json
        assert body is not None
        assert [item["id"] for item in body["items"]] == [theirs]
        assert body["counts"]["flagged"] == 1

    def test_review_queue_paginates(
        self, client: FlaskClient, settings: Settings, source: NewSource, moderator: Account
    ) -> None:
        ids = [add_comment(settings, source.source.id) for _ in range(5)]
        pages = [
            client.get(
                f"/v1/review/queue?sort=age&per_page=2&page={n}", headers=bearer(moderator)
            ).json
            for n in (1, 2, 3)
        ]
        assert [item["id"] for page in pages for item in page["items"]] == ids  # type: ignore[index]
        assert pages[0]["pages"] == 3  # type: ignore[index]

    @pytest.mark.parametrize(
        "query", ["status=deleted", "sort=name", "label=rude", "page=0", "per_page=x"]
    )
    def test_review_queue_refuses_bad_parameters(
        self, client: FlaskClient, moderator: Account, query: str
    ) -> None:
        response = client.get(f"/v1/review/queue?{query}", headers=bearer(moderator))
        assert response.status_code == 422
        assert response.mimetype == "application/problem+json"
        assert response.json is not None and response.json["errors"]

    def test_review_queue_hides_comments_claimed_by_others(
        self,
        client: FlaskClient,
        settings: Settings,
        source: NewSource,
        moderator: Account,
        other: Account,
    ) -> None:
        claimed = add_comment(settings, source.source.id)
        free = add_comment(settings, source.source.id)
        assert (
            client.post(f"/v1/review/comments/{claimed}/claim", headers=bearer(other)).status_code
            == 200
        )
        mine = client.get("/v1/review/queue", headers=bearer(moderator)).json
        theirs = client.get("/v1/review/queue", headers=bearer(other)).json
        assert [item["id"] for item in mine["items"]] == [free]  # type: ignore[index]
        assert {item["id"] for item in theirs["items"]} == {claimed, free}  # type: ignore[index]

    def test_review_queue_item_carries_context(
        self, client: FlaskClient, settings: Settings, source: NewSource, moderator: Account
    ) -> None:
        add_comment(
            settings, source.source.id, external_id="parent-1", body="The parent", author="Ann"
        )
        child = add_comment(
            settings,
            source.source.id,
            parent="parent-1",
            highlights=[[11, 16]],
            thread_url="javascript:alert(1)",
            scores={"toxic": 0.95},
        )
        body = client.get(f"/v1/review/comments/{child}", headers=bearer(moderator)).json
        assert body is not None
        assert body["parent"]["body"] == "The parent"
        assert body["parent"]["author_name"] == "Ann"
        assert body["highlights"] == [[11, 16]]
        assert body["thread"]["url"] is None
        assert body["reasons"][0]["label"] == "toxic"
        assert body["suggested_reject_reason"] == "toxic"
        assert [d["actor"] for d in body["decisions"]] == ["model"]

    @pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
    def test_review_queue_item_explains_what_the_model_flagged(
        self, client: FlaskClient, settings: Settings, source: NewSource, moderator: Account
    ) -> None:
        body_text = "You are a stupid idiot and this article is rubbish."
        explained = add_comment(settings, source.source.id, body=body_text)
        stored = explain_with_shipped_model(settings, explained)
        plain = add_comment(settings, source.source.id, body="Nothing explained here.")
        item = client.get(f"/v1/review/comments/{explained}", headers=bearer(moderator)).json
        assert item is not None
        toxic = {e["label"]: e["words"] for e in item["explanation"]}["toxic"]
        assert [w["text"] for w in toxic[:2]] == ["idiot", "stupid"]
        assert all(w["weight"] > 0 for w in toxic)
        assert [w["weight"] for w in toxic] == sorted((w["weight"] for w in toxic), reverse=True)
        assert [[w["start"], w["end"], w["weight"]] for w in toxic] == stored["toxic"]
        assert all(body_text[w["start"] : w["end"]] == w["text"] for w in toxic)
        # Labels come highest score first; the queue listing carries the same.
        assert item["explanation"][0]["label"] == "toxic"
        queue = client.get(
            f"/v1/review/queue?source={source.source.id}", headers=bearer(moderator)
        ).json
        assert queue is not None
        by_id = {i["id"]: i["explanation"] for i in queue["items"]}
        assert by_id[explained] == item["explanation"]
        assert by_id[plain] == []

        # An edit makes the comment pending again: the old explanation goes with the old text.
        with session_scope(settings) as session:
            external_id = session.get_one(Comment, explained).external_id
            receive(session, source.source.id, incoming("A calmer revision.", external_id))
        edited = client.get(f"/v1/review/comments/{explained}", headers=bearer(moderator)).json
        assert edited is not None
        assert edited["revision"] == 2 and edited["explanation"] == []

    def test_review_queue_unknown_comment_is_404(
        self, client: FlaskClient, moderator: Account
    ) -> None:
        response = client.get("/v1/review/comments/cmt_missing", headers=bearer(moderator))
        assert response.status_code == 404
        assert response.mimetype == "application/problem+json"


class TestReviewClaim:
    def test_review_claim_is_refused_while_another_holds_it(
        self,
        client: FlaskClient,
        settings: Settings,
        source: NewSource,
        moderator: Account,
        other: Account,
    ) -> None:
        comment_id = add_comment(settings, source.source.id)
        client.post(f"/v1/review/comments/{comment_id}/claim", headers=bearer(other))
        response = client.post(f"/v1/review/comments/{comment_id}/claim", headers=bearer(moderator))
        assert response.status_code == 409
        assert response.mimetype == "application/problem+json"

    def test_review_claim_can_be_taken_once_expired(
        self,
        client: FlaskClient,
        settings: Settings,
        source: NewSource,
        moderator: Account,
        other: Account,
    ) -> None:
        comment_id = add_comment(settings, source.source.id)
        client.post(f"/v1/review/comments/{comment_id}/claim", headers=bearer(other))
        with session_scope(settings) as session:
            comment = session.get(Comment, comment_id)
            assert comment is not None
            comment.claimed_until = datetime.now(UTC) - timedelta(seconds=1)
        response = client.post(f"/v1/review/comments/{comment_id}/claim", headers=bearer(moderator))
        assert response.status_code == 200

    def test_review_claim_release_frees_the_comment(
        self,
        client: FlaskClient,
        settings: Settings,
        source: NewSource,
        moderator: Account,
        other: Account,
    ) -> None:
        comment_id = add_comment(settings, source.source.id)
        client.post(f"/v1/review/comments/{comment_id}/claim", headers=bearer(other))
        released = client.delete(f"/v1/review/comments/{comment_id}/claim", headers=bearer(other))
        assert released.status_code == 200
        assert released.json is not None and released.json["claimed_until"] is None
        response = client.post(f"/v1/review/comments/{comment_id}/claim", headers=bearer(moderator))
        assert response.status_code == 200

    def test_review_claim_release_of_anothers_claim_changes_nothing(
        self,
        client: FlaskClient,
        settings: Settings,
        source: NewSource,
        moderator: Account,
        other: Account,
    ) -> None:
        comment_id = add_comment(settings, source.source.id)
        client.post(f"/v1/review/comments/{comment_id}/claim", headers=bearer(other))
        client.delete(f"/v1/review/comments/{comment_id}/claim", headers=bearer(moderator))
        response = client.post(f"/v1/review/comments/{comment_id}/claim", headers=bearer(moderator))
        assert response.status_code == 409


class TestReviewDecide:
    @pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
    def test_review_decide_records_decision_and_queues_delivery(
        self,
        client: FlaskClient,
        settings: Settings,
        source: NewSource,
        moderator: Account,
        broker: redis.Redis,
    ) -> None:
        comment_id = add_comment(settings, source.source.id)
        response = client.post(
            f"/v1/review/comments/{comment_id}/decision",
            json={"status": "rejected", "reason_code": "toxic", "note": "name-calling"},
            headers=bearer(moderator),
        )
        assert response.status_code == 201
        decision = response.json["decisions"][0]  # type: ignore[index]
        assert decision["actor"] == "moderator"
        assert decision["moderator"] == moderator.email
        assert status_of(settings, comment_id) == "rejected"
        with session_scope(settings) as session:
            event = session.get(Event, decision["event_id"])
            assert event is not None
            assert event.type == "comment.rejected"
            assert event.payload["data"]["decided_by"]["moderator_id"] == moderator.id
            assert event.payload["data"]["reason_code"] == "toxic"
        tasks = queued_tasks(broker, settings.delivery_queue_name)
        assert [(name, args) for name, args, _ in tasks] == [
            ("worker.deliver_event", [decision["event_id"]])
        ]

    def test_review_decide_approves_without_reason(
        self, client: FlaskClient, settings: Settings, source: NewSource, moderator: Account
    ) -> None:
        comment_id = add_comment(settings, source.source.id)
        response = client.post(
            f"/v1/review/comments/{comment_id}/decision",
            json={"status": "approved"},
            headers=bearer(moderator),
        )
        assert response.status_code == 201
        assert status_of(settings, comment_id) == "approved"

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"status": "rejected"}, "body"),
            ({"status": "rejected", "reason_code": "because"}, "body"),
            ({"status": "flagged"}, "status"),
            ({"status": "approved", "note": "x" * 1001}, "note"),
            ({"status": "approved", "extra": 1}, "extra"),
        ],
    )
    def test_review_decide_refuses_invalid_bodies(
        self,
        client: FlaskClient,
        settings: Settings,
        source: NewSource,
        moderator: Account,
        body: dict[str, object],
        field: str,
    ) -> None:
        comment_id = add_comment(settings, source.source.id)
        response = client.post(
            f"/v1/review/comments/{comment_id}/decision", json=body, headers=bearer(moderator)
        )
        assert response.status_code == 422
        assert response.json is not None
        assert [e["field"] for e in response.json["errors"]] == [field]
        assert status_of(settings, comment_id) == "flagged"

    def test_review_decide_refuses_other_media_types(
        self, client: FlaskClient, settings: Settings, source: NewSource, moderator: Account
    ) -> None:
        comment_id = add_comment(settings, source.source.id)
        response = client.post(
            f"/v1/review/comments/{comment_id}/decision",
            data="status=approved",
            headers=bearer(moderator),
        )
        assert response.status_code == 415

    def test_review_decide_refuses_malformed_json(
        self, client: FlaskClient, settings: Settings, source: NewSource, moderator: Account
    ) -> None:
        comment_id = add_comment(settings, source.source.id)
        response = client.post(
            f"/v1/review/comments/{comment_id}/decision",
            data="{",
            content_type="application/json",
            headers=bearer(moderator),
        )
        assert response.status_code == 400
        assert response.mimetype == "application/problem+json"

    def test_review_decide_refuses_a_comment_claimed_by_another(
        self,
        client: FlaskClient,
        settings: Settings,
        source: NewSource,
        moderator: Account,
        other: Account,
    ) -> None:
        comment_id = add_comment(settings, source.source.id)
        client.post(f"/v1/review/comments/{comment_id}/claim", headers=bearer(other))
        response = client.post(
            f"/v1/review/comments/{comment_id}/decision",
            json={"status": "approved"},
            headers=bearer(moderator),
        )
        assert response.status_code == 409
        assert status_of(settings, comment_id) == "flagged"

    def test_review_decide_releases_the_claim(
        self,
        client: FlaskClient,
        settings: Settings,
        source: NewSource,
        moderator: Account,
        other: Account,
    ) -> None:
        comment_id = add_comment(settings, source.source.id)
        client.post(f"/v1/review/comments/{comment_id}/claim", headers=bearer(moderator))
        client.post(
            f"/v1/review/comments/{comment_id}/decision",
            json={"status": "approved"},
            headers=bearer(moderator),
        )
        response = client.post(f"/v1/review/comments/{comment_id}/claim", headers=bearer(other))
        assert response.status_code == 200

    def test_review_decide_unknown_comment_is_404(
        self, client: FlaskClient, moderator: Account
    ) -> None:
        response = client.post(
            "/v1/review/comments/cmt_missing/decision",
            json={"status": "approved"},
            headers=bearer(moderator),
        )
        assert response.status_code == 404

    def test_review_decide_keeps_the_event_when_redis_is_down(
        self, settings: Settings, source: NewSource, moderator: Account
    ) -> None:
        down = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
        app = create_app({"TESTING": True}, settings=down)
        comment_id = add_comment(settings, source.source.id)
        response = app.test_client().post(
            f"/v1/review/comments/{comment_id}/decision",
            json={"status": "approved"},
            headers=bearer(moderator),
        )
        assert response.status_code == 201
        with session_scope(settings) as session:
            event = session.get(Event, response.json["decisions"][0]["event_id"])  # type: ignore[index]
            assert event is not None and event.state == "pending"


class TestReviewBulk:
    def test_review_bulk_decides_many_and_skips_claimed(
        self,
        client: FlaskClient,
        settings: Settings,
        source: NewSource,
        moderator: Account,
        other: Account,
        broker: redis.Redis,
    ) -> None:
        ids = [add_comment(settings, source.source.id) for _ in range(3)]
        client.post(f"/v1/review/comments/{ids[2]}/claim", headers=bearer(other))
        response = client.post(
            "/v1/review/decisions",
            json={"ids": [*ids, "cmt_missing"], "status": "rejected", "reason_code": "spam"},
            headers=bearer(moderator),
        )
        assert response.status_code == 201
        body = response.json
        assert body is not None
        assert sorted(d["comment_id"] for d in body["decisions"]) == sorted(ids[:2])
        assert body["skipped"] == {
            ids[2]: "claimed by another moderator",
            "cmt_missing": "not found",
        }
        assert [status_of(settings, i) for i in ids] == ["rejected", "rejected", "flagged"]
        assert len(queued_tasks(broker, settings.delivery_queue_name)) == 2

    def test_review_bulk_refuses_an_empty_list(
        self, client: FlaskClient, moderator: Account
    ) -> None:
        response = client.post(
            "/v1/review/decisions",
            json={"ids": [], "status": "approved"},
            headers=bearer(moderator),
        )
        assert response.status_code == 422


class TestReviewUndo:
    def _decide(self, client: FlaskClient, account: Account, comment_id: str) -> int:
        response = client.post(
            f"/v1/review/comments/{comment_id}/decision",
            json={"status": "rejected", "reason_code": "toxic"},
            headers=bearer(account),
        )
        return int(response.json["decisions"][0]["id"])  # type: ignore[index]

    def test_review_undo_restores_the_previous_status(
        self,
        client: FlaskClient,
        settings: Settings,
        source: NewSource,
        moderator: Account,
        broker: redis.Redis,
    ) -> None:
        comment_id = add_comment(settings, source.source.id)
        self._decide(client, moderator, comment_id)
        response = client.post("/v1/review/undo", headers=bearer(moderator))
        assert response.status_code == 201
        assert status_of(settings, comment_id) == "flagged"
        with session_scope(settings) as session:
            history = list(
                session.scalars(
                    select(Decision.status)
                    .where(Decision.comment_id == comment_id)
                    .order_by(Decision.id)
                )
            )
        assert history == ["flagged", "rejected", "flagged"]
        assert len(queued_tasks(broker, settings.delivery_queue_name)) == 2

    def test_review_undo_gives_a_held_comment_back_to_the_model(
        self,
        client: FlaskClient,
        settings: Settings,
        source: NewSource,
        moderator: Account,
        broker: redis.Redis,
    ) -> None:
        comment_id = add_comment(settings, source.source.id, status=Status.PENDING)
        with session_scope(settings) as session:
            held = session.get_one(Comment, comment_id)
            record_decision(
                session,
                held,
                Status.PENDING,
                actor="system",
                reasons=[UnscoredReason(wait_seconds=60, outcome="pending")],
                unscored=Unscored.HELD,
            )
        self._decide(client, moderator, comment_id)
        response = client.post("/v1/review/undo", headers=bearer(moderator))
        assert response.status_code == 201, response.json
        with session_scope(settings) as session:
            comment = session.get_one(Comment, comment_id)
            assert (comment.status, comment.unscored) == ("pending", "held")
        scoring = queued_tasks(broker, settings.queue_name)
        assert [(name, args) for name, args, _ in scoring][-1] == (SCORE_COMMENT, [comment_id])

    def test_review_undo_takes_back_a_bulk_action(
        self, client: FlaskClient, settings: Settings, source: NewSource, moderator: Account
    ) -> None:
        ids = [add_comment(settings, source.source.id) for _ in range(3)]
        bulk = client.post(
            "/v1/review/decisions",
            json={"ids": ids, "status": "approved"},
            headers=bearer(moderator),
        ).json
        decision_ids = [d["id"] for d in bulk["decisions"]]  # type: ignore[index]
        response = client.post(
            "/v1/review/undo", json={"decision_ids": decision_ids}, headers=bearer(moderator)
        )
        assert response.status_code == 201
        assert [status_of(settings, i) for i in ids] == ["flagged"] * 3

    def test_review_undo_is_refused_after_ten_seconds(
        self, client: FlaskClient, settings: Settings, source: NewSource, moderator: Account
    ) -> None:
        comment_id = add_comment(settings, source.source.id)
        decision_id = self._decide(client, moderator, comment_id)
        with session_scope(settings) as session:
            decision = session.get(Decision, decision_id)
            assert decision is not None
            decision.created_at = datetime.now(UTC) - timedelta(seconds=11)
        response = client.post("/v1/review/undo", headers=bearer(moderator))
        assert response.status_code == 409
        assert "10 seconds" in response.json["detail"]  # type: ignore[index]
        assert status_of(settings, comment_id) == "rejected"

    def test_review_undo_is_refused_for_anothers_decision(
        self,
        client: FlaskClient,
        settings: Settings,
        source: NewSource,
        moderator: Account,
        other: Account,
    ) -> None:
        comment_id = add_comment(settings, source.source.id)
        decision_id = self._decide(client, other, comment_id)
        response = client.post(
            "/v1/review/undo", json={"decision_ids": [decision_id]}, headers=bearer(moderator)
        )
        assert response.status_code == 409
        assert status_of(settings, comment_id) == "rejected"

    def test_review_undo_cannot_be_undone(
        self, client: FlaskClient, settings: Settings, source: NewSource, moderator: Account
    ) -> None:
        comment_id = add_comment(settings, source.source.id)
        self._decide(client, moderator, comment_id)
        undone = client.post("/v1/review/undo", headers=bearer(moderator)).json
        undo_id = undone["decisions"][0]["id"]  # type: ignore[index]
        response = client.post(
            "/v1/review/undo", json={"decision_ids": [undo_id]}, headers=bearer(moderator)
        )
        assert response.status_code == 409
        assert status_of(settings, comment_id) == "flagged"

    def test_review_undo_with_nothing_to_undo_is_409(
        self, client: FlaskClient, moderator: Account
    ) -> None:
        assert client.post("/v1/review/undo", headers=bearer(moderator)).status_code == 409


class TestReviewAuthor:
    def test_review_author_lists_their_comments_and_outcomes(
        self, client: FlaskClient, settings: Settings, source: NewSource, moderator: Account
    ) -> None:
        first = add_comment(settings, source.source.id, author="Troll", author_id="u-7")
        add_comment(
            settings, source.source.id, author="Troll", author_id="u-7", status=Status.REJECTED
        )
        add_comment(settings, source.source.id, author="Someone", author_id="u-8")
        body = client.get(f"/v1/review/comments/{first}/author", headers=bearer(moderator)).json
        assert body is not None
        assert body["author"] == {"name": "Troll", "id": "u-7"}
        assert len(body["comments"]) == 2
        assert body["outcomes"]["flagged"] == 1
        assert body["outcomes"]["rejected"] == 1


class TestReviewAudit:
    def test_review_audit_lists_model_and_moderator_decisions(
        self, client: FlaskClient, settings: Settings, source: NewSource, moderator: Account
    ) -> None:
        comment_id = add_comment(settings, source.source.id)
        client.post(
            f"/v1/review/comments/{comment_id}/decision",
            json={"status": "approved", "reason_code": "false_positive", "note": "satire"},
            headers=bearer(moderator),
        )
        body = client.get("/v1/review/audit", headers=bearer(moderator)).json
        assert body is not None
        assert body["total"] == 2
        latest, first = body["decisions"]
        assert (latest["actor"], latest["moderator"], latest["note"]) == (
            "moderator",
            moderator.email,
            "satire",
        )
        assert (first["actor"], first["model_version"]) == ("model", "test-model-1")

    @pytest.mark.parametrize(
        ("query", "expected"),
        [
            ("actor=model", 1),
            ("actor=moderator", 1),
            ("status=approved", 1),
            ("status=rejected", 0),
        ],
    )
    def test_review_audit_filters(
        self,
        client: FlaskClient,
        settings: Settings,
        source: NewSource,
        moderator: Account,
        query: str,
        expected: int,
    ) -> None:
        comment_id = add_comment(settings, source.source.id)
        client.post(
            f"/v1/review/comments/{comment_id}/decision",
            json={"status": "approved"},
            headers=bearer(moderator),
        )
        body = client.get(f"/v1/review/audit?{query}", headers=bearer(moderator)).json
        assert body is not None and body["total"] == expected

    def test_review_audit_filters_by_moderator_and_time(
        self, client: FlaskClient, settings: Settings, source: NewSource, moderator: Account
    ) -> None:
        comment_id = add_comment(settings, source.source.id)
        client.post(
            f"/v1/review/comments/{comment_id}/decision",
            json={"status": "approved"},
            headers=bearer(moderator),
        )
        tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
        mine = client.get(
            f"/v1/review/audit?moderator={moderator.email.upper()}", headers=bearer(moderator)
        ).json
        future = client.get(f"/v1/review/audit?since={tomorrow}", headers=bearer(moderator)).json
        assert mine["total"] == 1  # type: ignore[index]
        assert future["total"] == 0  # type: ignore[index]

    def test_review_audit_csv_fails_whole_when_the_database_fails(
        self, settings: Settings, moderator: Account
    ) -> None:
        # A real failure of the export's query: its table is gone. The answer is an error,
        # never a 200 whose CSV stops after the header.
        with session_scope(settings) as session:
            session.execute(text("ALTER TABLE decisions RENAME TO decisions_away"))
        client = create_app({"TESTING": False}, settings=settings).test_client()
        response = client.get("/v1/review/audit.csv", headers=bearer(moderator))
        assert response.status_code == 500

    def test_review_audit_csv_exports_every_decision(
        self, client: FlaskClient, settings: Settings, source: NewSource, moderator: Account
    ) -> None:
        comment_id = add_comment(settings, source.source.id)
        client.post(
            f"/v1/review/comments/{comment_id}/decision",
            json={"status": "rejected", "reason_code": "other", "note": '=HYPERLINK("x")'},
            headers=bearer(moderator),
        )
        response = client.get("/v1/review/audit.csv", headers=bearer(moderator))
        assert response.status_code == 200
        assert response.mimetype == "text/csv"
        assert "attachment" in response.headers["Content-Disposition"]
        rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
        assert [(r["actor"], r["status"]) for r in rows] == [
            ("model", "flagged"),
            ("moderator", "rejected"),
        ]
        assert rows[1]["moderator"] == moderator.email
        assert rows[1]["note"] == '\'=HYPERLINK("x")'
        assert "toxic" in rows[0]["reasons"]

    def test_review_audit_refuses_bad_dates(self, client: FlaskClient, moderator: Account) -> None:
        response = client.get("/v1/review/audit?since=yesterday", headers=bearer(moderator))
        assert response.status_code == 422


class TestReviewHostileInput:
    @pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
    @pytest.mark.parametrize(
        ("method", "path"),
        [
            ("GET", "/v1/review/comments/%00"),
            ("POST", "/v1/review/comments/a%00b/claim"),
            ("DELETE", "/v1/review/comments/%00/claim"),
            ("GET", "/v1/review/comments/%00/author"),
            ("GET", "/v1/review/comments/" + "x" * 65),
        ],
    )
    def test_review_hostile_ids_are_not_found(
        self, client: FlaskClient, moderator: Account, method: str, path: str
    ) -> None:
        response = client.open(path, method=method, headers=bearer(moderator))
        assert response.status_code == 404
        assert response.mimetype == "application/problem+json"

    @pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
    @pytest.mark.parametrize(
        ("path", "body", "field"),
        [
            ("/v1/review/decisions", {"ids": ["\x00"], "status": "approved"}, "ids.0"),
            ("/v1/review/comments/cmt_x/decision", {"status": "approved", "note": "\x00"}, "note"),
            ("/v1/review/undo", {"decision_ids": [2**40]}, "decision_ids.0"),
        ],
    )
    def test_review_hostile_bodies_are_422(
        self,
        client: FlaskClient,
        moderator: Account,
        path: str,
        body: dict[str, object],
        field: str,
    ) -> None:
        response = client.post(path, json=body, headers=bearer(moderator))
        assert response.status_code == 422
        assert [e["field"] for e in response.json["errors"]] == [field]  # type: ignore[index]

    @pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
    @pytest.mark.parametrize(
        "query",
        ["author=%00", "source=" + "s" * 321, "page=100001", "comment=%00"],
    )
    def test_review_hostile_filters_are_422(
        self, client: FlaskClient, moderator: Account, query: str
    ) -> None:
        path = "/v1/review/audit" if query.startswith("comment") else "/v1/review/queue"
        response = client.get(f"{path}?{query}", headers=bearer(moderator))
        assert response.status_code == 422
