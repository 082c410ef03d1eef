"""Intake rate limit per source, counted in Redis: 429 problem+json with Retry-After."""

from __future__ import annotations

import json

import redis
from flask import Flask
from flask.testing import FlaskClient

from core.settings import Settings
from core.store import NewSource
from service import create_app
from tests.service.conftest import comment_payload, post_signed

CLOSED_REDIS = "redis://127.0.0.1:1/0"


def post_as(app: Flask, source: NewSource) -> int:
    """One signed intake request to app from source; its status code."""
    body = json.dumps(comment_payload()).encode()
    return int(post_signed(app.test_client(), source, body).status_code)


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
