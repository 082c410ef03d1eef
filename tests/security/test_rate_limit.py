"""Rate limits counted in Redis: the intake per source (signed requests only) and per address
(refused requests), failed sign-ins per address and e-mail; 429 with Retry-After."""

from __future__ import annotations

import json
import multiprocessing
import time
import uuid
from types import SimpleNamespace
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from core.settings import Settings, configure
from core.store import NewSource
from service import create_app, limits
from tests.faults.servers import RedisServer
from tests.service.conftest import comment_payload, post_signed
from tests.service.review_support import PASSWORD, csrf_token, make_account

CLOSED_REDIS = "redis://127.0.0.1:1/0"


def post_as(app: Flask, source: NewSource) -> int:
    """One signed intake request to app from source; its status code."""
    body = json.dumps(comment_payload()).encode()
    return int(post_signed(app.test_client(), source, body).status_code)


def post_badly_signed(app: Flask, source_id: str, address: str) -> int:
    """One intake request from address whose signature is wrong; its status code."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    response = client.post(
        f"/v1/sources/{source_id}/comments",
        data=json.dumps(comment_payload()).encode(),
        content_type="application/json",
        headers={
            "webhook-id": f"msg_{uuid.uuid4().hex}",
            "webhook-timestamp": str(int(time.time())),
            "webhook-signature": "v1,c2lnbmVkIGJ5IHNvbWVvbmUgZWxzZQ==",
        },
    )
    return int(response.status_code)


def random_address() -> str:
    """A documentation address (RFC 5737) no other test counts against."""
    return f"198.51.100.{uuid.uuid4().int % 250 + 1}"


def post_from_another_process(settings: Settings, source_id: str, secret: str, n: int) -> list[int]:
    """n signed intake requests from a freshly started API process; their status codes."""
    # Made this process's current settings, as `moderation api` does from its environment.
    app = create_app({"TESTING": True}, settings=configure(**dict(settings)))
    credentials: Any = SimpleNamespace(source=SimpleNamespace(id=source_id), secret=secret)
    return [post_as(app, credentials) for _ in range(n)]


def limited_app(settings: Settings, limit: str, **overrides: str) -> Flask:
    return create_app(
        {"TESTING": True},
        settings=settings.model_copy(update={"intake_rate_limit": limit, **overrides}),
    )


class TestIntakeRateLimit:
    def test_rate_limit_refuses_source_over_limit_with_problem_and_retry_after(
        self, settings: Settings, source: NewSource, broker: redis.Redis
    ) -> None:
        app = limited_app(settings, "3/minute")
        assert [post_as(app, source) for _ in range(3)] == [202, 202, 202]
        response = post_signed(app.test_client(), source, json.dumps(comment_payload()).encode())
        assert response.status_code == 429
        assert response.mimetype == "application/problem+json"
        problem = response.get_json()
        assert problem["status"] == 429 and problem["type"] == "/problems/rate-limited"
        assert 0 < int(response.headers["Retry-After"]) <= 61

    def test_rate_limit_counts_each_source_separately(
        self,
        settings: Settings,
        source: NewSource,
        other_source: NewSource,
        broker: redis.Redis,
    ) -> None:
        app = limited_app(settings, "2/minute")
        assert [post_as(app, source) for _ in range(3)] == [202, 202, 429]
        assert [post_as(app, other_source) for _ in range(2)] == [202, 202]

    def test_rate_limit_is_shared_by_api_processes_through_redis(
        self, settings: Settings, source: NewSource, broker: redis.Redis
    ) -> None:
        first, second = limited_app(settings, "4/minute"), limited_app(settings, "4/minute")
        statuses = [post_as(app, source) for app in (first, second, first, second, first)]
        assert statuses == [202, 202, 202, 202, 429]
        assert any(b"ratelimit" in key for key in broker.scan_iter(match="*ratelimit*"))

    def test_rate_limit_refuses_at_its_limit_across_two_api_processes(
        self, settings: Settings, source: NewSource, broker: redis.Redis
    ) -> None:
        limited = settings.model_copy(update={"intake_rate_limit": "5/minute"})
        spawn = multiprocessing.get_context("spawn")
        with spawn.Pool(1) as pool:
            other = pool.apply(
                post_from_another_process, (limited, source.source.id, source.secret, 3)
            )
        here = create_app({"TESTING": True}, settings=limited)
        assert other == [202, 202, 202]
        assert [post_as(here, source) for _ in range(3)] == [202, 202, 429]

    def test_rate_limit_counts_in_redis_again_once_redis_is_back(
        self, settings: Settings, source: NewSource, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(limits, "REDIS_RETRY_SECONDS", 0.2)
        server = RedisServer()
        server.start()
        try:
            app = limited_app(settings, "3/minute", redis_url=server.url)
            assert post_as(app, source) == 202
            server.stop()
            # Counted in memory meanwhile: the intake stays open, and still limited.
            assert [post_as(app, source) for _ in range(4)] == [202, 202, 202, 429]
            server.start()
            time.sleep(0.3)
            # The restarted Redis came back empty: the count starts again there.
            assert [post_as(app, source) for _ in range(4)] == [202, 202, 202, 429]
            client = redis.Redis.from_url(server.url)
            assert any(b"ratelimit" in key for key in client.scan_iter(match="*source*"))
            client.close()
        finally:
            server.cleanup()

    def test_rate_limit_keeps_intake_open_when_redis_is_down(
        self, settings: Settings, source: NewSource
    ) -> None:
        app = limited_app(settings, "600/minute", redis_url=CLOSED_REDIS)
        assert [post_as(app, source) for _ in range(3)] == [202, 202, 202]

    def test_rate_limit_falls_back_to_counting_in_memory_when_redis_is_down(
        self, settings: Settings, source: NewSource
    ) -> None:
        app = limited_app(settings, "2/minute", redis_url=CLOSED_REDIS)
        statuses = [post_as(app, source) for _ in range(4)]
        assert statuses[-1] == 429 and statuses.count(202) >= 2

    def test_rate_limit_is_declared_in_openapi(self, client: FlaskClient) -> None:
        spec = client.get("/openapi.json").get_json()
        responses = spec["paths"]["/v1/sources/{source_id}/comments"]["post"]["responses"]
        assert "429" in responses

    def test_rate_limit_is_not_spent_by_requests_with_a_bad_signature(
        self, settings: Settings, source: NewSource, broker: redis.Redis
    ) -> None:
        app = limited_app(settings, "3/minute", intake_refused_rate_limit="1000/minute")
        attacker = random_address()
        assert {post_badly_signed(app, source.source.id, attacker) for _ in range(10)} == {401}
        assert [post_as(app, source) for _ in range(3)] == [202, 202, 202]

    def test_rate_limit_counts_refused_requests_per_client_address(
        self, settings: Settings, source: NewSource, broker: redis.Redis
    ) -> None:
        app = limited_app(settings, "600/minute", intake_refused_rate_limit="5/minute")
        attacker = random_address()
        statuses = [post_badly_signed(app, source.source.id, attacker) for _ in range(7)]
        assert statuses == [401] * 5 + [429] * 2
        unknown = post_badly_signed(app, "src_unknown", attacker)
        assert unknown == 429
        # Another address is not held back, and neither is the source's own signed comment,
        # even from the attacker's address.
        assert post_badly_signed(app, source.source.id, random_address()) == 401
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = attacker
        body = json.dumps(comment_payload()).encode()
        assert post_signed(client, source, body).status_code == 202

    def test_rate_limit_refused_answer_is_problem_with_retry_after(
        self, settings: Settings, source: NewSource, broker: redis.Redis
    ) -> None:
        app = limited_app(settings, "600/minute", intake_refused_rate_limit="1/minute")
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = random_address()
        for expected in (404, 429):
            response = client.post("/v1/sources/src_nobody/comments", json=comment_payload())
            assert response.status_code == expected
        assert response.mimetype == "application/problem+json"
        assert response.get_json()["type"] == "/problems/rate-limited"
        assert 0 < int(response.headers["Retry-After"]) <= 61


class TestFailedLoginLimit:
    def test_failed_login_limit_is_shared_by_api_processes_through_redis(
        self, settings: Settings, broker: redis.Redis
    ) -> None:
        account = make_account(settings)
        first, second = (create_app({"TESTING": True}, settings=settings) for _ in range(2))
        clients = [first.test_client(), second.test_client()]
        tokens = [csrf_token(client) for client in clients]
        wrong = [{"email": account.email, "password": "wrong", "csrf_token": t} for t in tokens]
        statuses = [clients[i % 2].post("/login", data=wrong[i % 2]).status_code for i in range(10)]
        assert statuses == [401] * 10
        right = {"email": account.email, "password": PASSWORD, "csrf_token": tokens[0]}
        response = clients[0].post("/login", data=right)
        assert response.status_code == 429
        assert "Too many failed sign-ins" in response.get_data(as_text=True)
        keys = [key for key in broker.scan_iter(match="*ratelimit*login*")]
        assert keys and not any(account.email.encode() in key for key in keys)
