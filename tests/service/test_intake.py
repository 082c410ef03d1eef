"""The intake webhook: every refusal with its status and problem fields, and the stored outcomes."""

from __future__ import annotations

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
from flask.testing import FlaskClient
from sqlalchemy import func, select, text

from core.db import session_scope
from core.settings import Settings
from core.store import NewSource
from core.tables import Comment, Revision, SeenWebhook, Source
from service import create_app
from tests.service.conftest import (
    CountingStream,
    SignedPost,
    comment_payload,
    nested,
    post_signed,
    queued_tasks,
    sign_with_library,
)

BOTH_BACKENDS = pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
CLOSED_REDIS = "redis://127.0.0.1:1/0"
EMOJI = "\U0001f600"  # outside the BMP: two UTF-16 code units


def count_comments(settings: Settings, source: NewSource) -> int:
    """Comments of one source (the PostgreSQL database is shared by the whole test run)."""
    with session_scope(settings) as session:
        query = select(func.count()).where(Comment.source_id == source.source.id)
        return int(session.scalar(query) or 0)


def stored_comment(settings: Settings, comment_id: str) -> Comment:
    with session_scope(settings) as session:
        comment = session.get(Comment, comment_id)
        assert comment is not None
        session.expunge(comment)
    return comment


def without(path: str) -> dict[str, Any]:
    """A valid payload with one (possibly nested, dotted) field removed."""
    payload = comment_payload()
    *parents, leaf = path.split(".")
    target = payload
    for name in parents:
        target = target[name]
    del target[leaf]
    return payload


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    problem: dict[str, Any] = response.get_json()
    assert problem["status"] == status
    assert problem["title"] and problem["detail"]
    return problem


class TestIntakeValidation:
    @pytest.mark.parametrize(
        ("payload", "bad_fields"),
        [
            (without("id"), {"id"}),
            (without("thread"), {"thread"}),
            (without("thread.id"), {"thread.id"}),
            (without("author"), {"author"}),
            (without("author.name"), {"author.name"}),
            (without("author.email"), {"author.email"}),
            (without("body"), {"body"}),
            (nested("author.email", "not-an-address"), {"author.email"}),
            (nested("thread.url", "ftp://files.example.org/a"), {"thread.url"}),
            (nested("thread.url", "not a url"), {"thread.url"}),
            (comment_payload(body="x" * 1501), {"body"}),
            (comment_payload(body=EMOJI * 751), {"body"}),
            (comment_payload(body=" \n\t  "), {"body"}),
            (comment_payload(body="hello\x00world"), {"body"}),
            (comment_payload(body="lone \ud800 surrogate"), {"body"}),
            (comment_payload(created_at="last tuesday"), {"created_at"}),
            (comment_payload(ip="300.1.2.3"), {"ip"}),
            (comment_payload(id="x" * 201), {"id"}),
            (comment_payload(id=42), {"id"}),
            (nested("author.name", "n" * 201), {"author.name"}),
            (comment_payload(language="x" * 21), {"language"}),
            (
                {"id": "", "thread": {}, "author": {"email": "nope"}, "body": ""},
                {"id", "thread.id", "author.name", "author.email", "body"},
            ),
        ],
        ids=[
            "missing-id",
            "missing-thread",
            "missing-thread.id",
            "missing-author",
            "missing-author.name",
            "missing-author.email",
            "missing-body",
            "bad-email",
            "url-not-http",
            "url-garbage",
            "1501-chars",
            "751-emoji",
            "whitespace-only",
            "nul",
            "lone-surrogate",
            "bad-created-at",
            "bad-ip",
            "id-too-long",
            "id-not-string",
            "name-too-long",
            "language-too-long",
            "every-bad-field-named",
        ],
    )
    def test_intake_rejects_invalid_fields(
        self,
        signed_post: SignedPost,
        settings: Settings,
        source: NewSource,
        payload: Any,
        bad_fields: set[str],
    ) -> None:
        problem = assert_problem(signed_post(payload), 422)
        assert problem["type"] == "/problems/validation"
        assert {error["field"] for error in problem["errors"]} == bad_fields
        assert all(error["message"] for error in problem["errors"])
        assert count_comments(settings, source) == 0

    @pytest.mark.parametrize(
        "body",
        ["x" * 1500, EMOJI * 750, "  padded  " + "y" * 1490 + "  \n", "é" * 1500],
        ids=["1500-chars", "750-emoji", "trimmed-to-1500", "1500-accented"],
    )
    def test_intake_accepts_body_at_limit(
        self, signed_post: SignedPost, settings: Settings, broker: redis.Redis, body: str
    ) -> None:
        response = signed_post(comment_payload(body=body))
        assert response.status_code == 202, response.get_json()
        assert stored_comment(settings, response.get_json()["id"]).body == body.strip()

    def test_intake_applies_source_body_limit(
        self, signed_post: SignedPost, settings: Settings, source: NewSource, broker: redis.Redis
    ) -> None:
        with session_scope(settings) as session:
            row = session.get(Source, source.source.id)
            assert row is not None
            row.max_body_chars = 10
        assert signed_post(comment_payload(body="x" * 10)).status_code == 202
        problem = assert_problem(signed_post(comment_payload(body="x" * 11)), 422)
        assert [e["field"] for e in problem["errors"]] == ["body"]

    def test_intake_ignores_unknown_fields(
        self, signed_post: SignedPost, broker: redis.Redis
    ) -> None:
        payload = comment_payload(extra={"nested": True}, score=5)
        payload["author"]["avatar"] = "https://img.example.org/a.png"
        assert signed_post(payload).status_code == 202


class TestIntakeParsing:
    @pytest.mark.parametrize(
        ("body", "detail_part"),
        [
            (b'["a", "list"]', "JSON object"),
            (b'"a string"', "JSON object"),
            (b"null", "JSON object"),
            (b'{"id": "cms-1", ', "not valid JSON"),
            (b"", "not valid JSON"),
            (b'{"id": "caf\xe9"}', "not valid UTF-8"),
            (b"[" * 20000 + b"]" * 20000, "JSON"),
        ],
        ids=["list", "string", "null", "truncated", "empty", "invalid-utf8", "deeply-nested"],
    )
    def test_intake_rejects_unparseable_body(
        self,
        signed_post: SignedPost,
        settings: Settings,
        source: NewSource,
        body: bytes,
        detail_part: str,
    ) -> None:
        problem = assert_problem(signed_post(body), 400)
        assert problem["type"] == "/problems/malformed-json"
        assert detail_part in problem["detail"]
        assert count_comments(settings, source) == 0

    @pytest.mark.parametrize(
        "content_type",
        [
            "text/plain",
            "application/x-www-form-urlencoded",
            "application/json; charset=latin-1",
            None,
        ],
    )
    def test_intake_rejects_wrong_content_type(
        self, signed_post: SignedPost, content_type: str | None
    ) -> None:
        problem = assert_problem(signed_post(comment_payload(), content_type=content_type), 415)
        assert problem["type"] == "/problems/unsupported-media-type"

    def test_intake_accepts_json_with_charset(
        self, signed_post: SignedPost, broker: redis.Redis
    ) -> None:
        response = signed_post(comment_payload(), content_type="application/json; charset=UTF-8")
        assert response.status_code == 202


class TestIntakeSize:
    def test_intake_rejects_body_over_64_kib(
        self, signed_post: SignedPost, settings: Settings
    ) -> None:
        body = json.dumps(comment_payload(padding="x" * settings.max_request_bytes)).encode()
        problem = assert_problem(signed_post(body[: settings.max_request_bytes + 1]), 413)
        assert problem["type"] == "/problems/payload-too-large"

    def test_intake_accepts_body_of_exactly_64_kib(
        self, signed_post: SignedPost, settings: Settings, broker: redis.Redis
    ) -> None:
        body = json.dumps(comment_payload(padding="")).encode()
        padding = settings.max_request_bytes - len(body)
        body = json.dumps(comment_payload(padding="p" * padding)).encode()
        assert len(body) == settings.max_request_bytes
        assert signed_post(body).status_code == 202

    def test_intake_refuses_declared_oversize_without_reading(
        self, client: FlaskClient, source: NewSource, settings: Settings
    ) -> None:
        stream = CountingStream(b"x" * (settings.max_request_bytes * 4))
        response = client.post(
            f"/v1/sources/{source.source.id}/comments",
            input_stream=stream,
            content_length=settings.max_request_bytes * 4,
            content_type="application/json",
        )
        assert_problem(response, 413)
        assert stream.bytes_read == 0

    def test_intake_stops_reading_undeclared_oversize_at_limit(
        self, client: FlaskClient, source: NewSource, settings: Settings
    ) -> None:
        stream = CountingStream(b"x" * (settings.max_request_bytes * 4))
        response = client.post(
            f"/v1/sources/{source.source.id}/comments",
            input_stream=stream,
            content_type="application/json",
            headers={"Transfer-Encoding": "chunked"},
            environ_overrides={"wsgi.input_terminated": True},
        )
        assert_problem(response, 413)
        assert stream.bytes_read <= settings.max_request_bytes + 1


class TestIntakeSignature:
    def test_intake_rejects_unknown_source(self, signed_post: SignedPost) -> None:
        problem = assert_problem(signed_post(comment_payload(), source_id="src_nope"), 404)
        assert problem["type"] == "/problems/not-found"

    @pytest.mark.parametrize("header", ["webhook-id", "webhook-timestamp", "webhook-signature"])
    def test_intake_rejects_missing_header(
        self, signed_post: SignedPost, settings: Settings, source: NewSource, header: str
    ) -> None:
        problem = assert_problem(signed_post(comment_payload(), omit=(header,)), 401)
        assert problem["reason"] == "missing-headers"
        assert header in problem["detail"]
        assert count_comments(settings, source) == 0

    def test_intake_rejects_non_numeric_timestamp(self, signed_post: SignedPost) -> None:
        response = signed_post(comment_payload(), headers={"webhook-timestamp": "yesterday"})
        assert assert_problem(response, 401)["reason"] == "missing-headers"

    def test_intake_rejects_bad_signature(
        self,
        signed_post: SignedPost,
        other_source: NewSource,
        settings: Settings,
        source: NewSource,
    ) -> None:
        problem = assert_problem(signed_post(comment_payload(), secret=other_source.secret), 401)
        assert problem["reason"] == "bad-signature"
        assert count_comments(settings, source) == 0

    def test_intake_rejects_body_changed_after_signing(
        self, signed_post: SignedPost, source: NewSource
    ) -> None:
        webhook_id, timestamp = "msg_tampered", int(time.time())
        signature = sign_with_library(source.secret, webhook_id, timestamp, b'{"id": "a"}')
        response = signed_post(
            comment_payload(),
            webhook_id=webhook_id,
            timestamp=timestamp,
            headers={"webhook-signature": signature},
        )
        assert assert_problem(response, 401)["reason"] == "bad-signature"

    # Just outside the 300 s window, with a margin for a slow machine (the clock runs between
    # signing and checking, which moves a future timestamp back inside the window).
    @pytest.mark.parametrize("offset", [-330, -3600, 330, 86400], ids=str)
    def test_intake_rejects_timestamp_out_of_tolerance(
        self, signed_post: SignedPost, offset: int
    ) -> None:
        response = signed_post(comment_payload(), timestamp=int(time.time()) + offset)
        assert assert_problem(response, 401)["reason"] == "timestamp-out-of-tolerance"

    def test_intake_accepts_timestamp_within_tolerance(
        self, signed_post: SignedPost, broker: redis.Redis
    ) -> None:
        response = signed_post(comment_payload(), timestamp=int(time.time()) - 240)
        assert response.status_code == 202

    def test_intake_checks_signature_before_parsing(self, signed_post: SignedPost) -> None:
        response = signed_post(b"not json", omit=("webhook-signature",), content_type="text/plain")
        assert assert_problem(response, 401)["reason"] == "missing-headers"

    def test_intake_checks_size_before_signature(
        self, signed_post: SignedPost, settings: Settings
    ) -> None:
        body = b"x" * (settings.max_request_bytes + 1)
        assert_problem(signed_post(body, omit=("webhook-signature",)), 413)

    def test_intake_accepts_previous_secret_during_rotation(
        self,
        signed_post: SignedPost,
        settings: Settings,
        source: NewSource,
        other_source: NewSource,
        broker: redis.Redis,
    ) -> None:
        old_secret = source.secret
        with session_scope(settings) as session:
            row = session.get(Source, source.source.id)
            assert row is not None
            row.previous_secret = old_secret
            row.previous_secret_expires_at = datetime.now(UTC) + timedelta(hours=1)
            row.secret = other_source.secret
        assert signed_post(comment_payload(), secret=old_secret).status_code == 202
        assert signed_post(comment_payload(), secret=other_source.secret).status_code == 202

    def test_intake_refuses_previous_secret_after_rotation(
        self, signed_post: SignedPost, settings: Settings, source: NewSource, broker: redis.Redis
    ) -> None:
        old_secret = source.secret
        new_secret = "whsec_" + "QUJD" * 11
        with session_scope(settings) as session:
            row = session.get(Source, source.source.id)
            assert row is not None
            row.previous_secret = old_secret
            row.previous_secret_expires_at = datetime.now(UTC) - timedelta(seconds=1)
            row.secret = new_secret
        response = signed_post(comment_payload(), secret=old_secret)
        assert assert_problem(response, 401)["reason"] == "bad-signature"
        assert signed_post(comment_payload(), secret=new_secret).status_code == 202


@BOTH_BACKENDS
class TestIntakeFlow:
    def test_intake_stores_pending_comment_and_queues_scoring(
        self, signed_post: SignedPost, settings: Settings, broker: redis.Redis, source: NewSource
    ) -> None:
        payload = comment_payload()
        response = signed_post(payload)

        assert response.status_code == 202
        accepted = response.get_json()
        assert accepted["status"] == "pending"
        assert accepted["links"]["self"] == f"/v1/comments/{accepted['id']}"
        assert response.headers["Location"] == accepted["links"]["self"]
        comment = stored_comment(settings, accepted["id"])
        assert (comment.source_id, comment.external_id) == (source.source.id, payload["id"])
        assert (comment.status, comment.revision, comment.body) == ("pending", 1, payload["body"])
        assert comment.author_email == "reader@example.org"
        assert comment.cms_created_at == datetime(2017, 7, 10, 12, tzinfo=UTC)
        tasks = queued_tasks(broker, settings.queue_name)
        assert [(name, args) for name, args, _ in tasks] == [
            ("worker.score_comment", [accepted["id"]])
        ]

    def test_intake_passes_request_id_to_task(
        self, signed_post: SignedPost, settings: Settings, broker: redis.Redis
    ) -> None:
        request_id = "req-" + uuid.uuid4().hex
        response = signed_post(comment_payload(), headers={"X-Request-Id": request_id})
        assert response.headers["X-Request-Id"] == request_id
        [(_, _, headers)] = queued_tasks(broker, settings.queue_name)
        assert headers["request_id"] == request_id

    def test_intake_returns_stored_comment_for_duplicate(
        self, signed_post: SignedPost, settings: Settings, source: NewSource, broker: redis.Redis
    ) -> None:
        payload = comment_payload()
        first = signed_post(payload)
        again = signed_post(payload)

        assert (first.status_code, again.status_code) == (202, 200)
        view = again.get_json()
        assert view["id"] == first.get_json()["id"]
        assert view["status"] == "pending"
        assert count_comments(settings, source) == 1
        assert len(queued_tasks(broker, settings.queue_name)) == 1

    def test_intake_stores_edit_as_new_revision_and_rescores(
        self, signed_post: SignedPost, settings: Settings, broker: redis.Redis
    ) -> None:
        payload = comment_payload()
        first = signed_post(payload).get_json()
        edited = signed_post({**payload, "body": "An edited, kinder comment."})

        assert edited.status_code == 202
        assert edited.get_json()["id"] == first["id"]
        assert edited.get_json()["revision"] == 2
        with session_scope(settings) as session:
            bodies = session.scalars(
                select(Revision.body)
                .where(Revision.comment_id == first["id"])
                .order_by(Revision.number)
            ).all()
        assert bodies == [payload["body"], "An edited, kinder comment."]
        assert stored_comment(settings, first["id"]).status == "pending"
        tasks = queued_tasks(broker, settings.queue_name)
        assert [args for _, args, _ in tasks] == [[first["id"]], [first["id"]]]

    def test_intake_rejects_replayed_webhook_id(
        self, signed_post: SignedPost, settings: Settings, source: NewSource, broker: redis.Redis
    ) -> None:
        payload = comment_payload()
        assert signed_post(payload, webhook_id="msg_once").status_code == 202
        replay = signed_post(payload, webhook_id="msg_once")
        problem = assert_problem(replay, 401)
        assert problem["reason"] == "replayed-webhook-id"
        assert count_comments(settings, source) == 1

    def test_intake_does_not_remember_webhook_id_of_refused_request(
        self, signed_post: SignedPost, settings: Settings, source: NewSource, broker: redis.Redis
    ) -> None:
        assert signed_post(comment_payload(body=""), webhook_id="msg_fixed").status_code == 422
        with session_scope(settings) as session:
            query = select(func.count()).where(SeenWebhook.source_id == source.source.id)
            assert session.scalar(query) == 0

    def test_intake_stores_comment_when_redis_is_down(
        self, settings: Settings, source: NewSource
    ) -> None:
        app = create_app(settings=settings.model_copy(update={"redis_url": CLOSED_REDIS}))
        body = json.dumps(comment_payload()).encode()
        response = post_signed(app.test_client(), source, body, "msg_redis_down")
        assert response.status_code == 202
        assert stored_comment(settings, response.get_json()["id"]).status == "pending"


class TestIntakeDatabaseDown:
    @pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
    def test_intake_answers_503_when_database_is_down(
        self, settings: Settings, source: NewSource
    ) -> None:
        down = settings.model_copy(
            update={"database_url": "postgresql://postgres@127.0.0.1:1/moderation"}
        )
        response = (
            create_app(settings=down)
            .test_client()
            .post(
                f"/v1/sources/{source.source.id}/comments",
                json=comment_payload(),
            )
        )
        problem = assert_problem(response, 503)
        assert int(response.headers["Retry-After"]) > 0
        assert "nothing was stored" in problem["detail"]


def deliver_signed(app: Any, source: NewSource, body: bytes, webhook_id: str) -> int:
    """POST body signed now, from a thread's own test client; the status code."""
    return int(post_signed(app.test_client(), source, body, webhook_id).status_code)


@BOTH_BACKENDS
class TestIntakeConcurrency:
    def test_intake_stores_concurrent_deliveries_once(
        self, app: Any, source: NewSource, settings: Settings, broker: redis.Redis
    ) -> None:
        body = json.dumps(comment_payload()).encode()

        with ThreadPoolExecutor(max_workers=6) as pool:
            statuses = sorted(
                pool.map(lambda n: deliver_signed(app, source, body, f"msg_race_{n}"), range(6))
            )

        assert statuses == [200] * 5 + [202]
        assert count_comments(settings, source) == 1
        assert len(queued_tasks(broker, settings.queue_name)) == 1

    def test_intake_accepts_concurrent_replays_of_one_webhook_id_once(
        self, app: Any, source: NewSource, settings: Settings, broker: redis.Redis
    ) -> None:
        body = json.dumps(comment_payload()).encode()

        with ThreadPoolExecutor(max_workers=6) as pool:
            statuses = sorted(
                pool.map(lambda _: deliver_signed(app, source, body, "msg_replayed"), range(6))
            )

        assert statuses == [202] + [401] * 5
        assert count_comments(settings, source) == 1
        assert len(queued_tasks(broker, settings.queue_name)) == 1


class TestIntakeAtomicity:
    @pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
    def test_intake_writes_nothing_when_database_fails_mid_transaction(
        self,
        signed_post: SignedPost,
        settings: Settings,
        source: NewSource,
        broker: redis.Redis,
    ) -> None:
        # The comment insert fails as a lost connection would, after the webhook id was written.
        function = f"fail_{source.source.id}"
        with session_scope(settings) as session:
            session.execute(
                text(
                    f"CREATE FUNCTION {function}() RETURNS trigger AS $$ BEGIN "
                    f"IF NEW.source_id = '{source.source.id}' THEN "
                    "RAISE EXCEPTION 'connection lost' USING ERRCODE = '08006'; END IF; "
                    "RETURN NEW; END $$ LANGUAGE plpgsql"
                )
            )
            session.execute(
                text(
                    f"CREATE TRIGGER {function} BEFORE INSERT ON comments "
                    f"FOR EACH ROW EXECUTE FUNCTION {function}()"
                )
            )
        try:
            response = signed_post(comment_payload(), webhook_id="msg_half")
        finally:
            with session_scope(settings) as session:
                session.execute(text(f"DROP TRIGGER {function} ON comments"))
                session.execute(text(f"DROP FUNCTION {function}()"))

        assert_problem(response, 503)
        assert response.headers["Retry-After"]
        assert count_comments(settings, source) == 0
        with session_scope(settings) as session:
            query = select(func.count()).where(SeenWebhook.source_id == source.source.id)
            assert session.scalar(query) == 0
        assert signed_post(comment_payload(), webhook_id="msg_half").status_code == 202
