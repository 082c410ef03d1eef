"""Fixtures for the Flask API: an app on the test database and queue, a source, signed requests."""

from __future__ import annotations

import base64
import io
import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from standardwebhooks.webhooks import Webhook, hmac_data
from werkzeug.test import TestResponse

from core.db import session_scope
from core.settings import Settings
from core.store import NewSource, create_source
from service import create_app


def comment_payload(**overrides: Any) -> dict[str, Any]:
    """A valid intake body (DESIGN.md), with top-level fields replaced by overrides."""
    payload: dict[str, Any] = {
        "id": f"cms-{uuid.uuid4().hex[:8]}",
        "thread": {"id": "article-7", "url": "https://news.example.org/a/7", "title": "Article"},
        "author": {"name": "Reader", "email": "reader@example.org", "id": "u-9"},
        "body": "A perfectly ordinary comment about the article.",
        "parent_id": None,
        "created_at": "2017-07-10T12:00:00Z",
        "ip": "203.0.113.5",
        "user_agent": "Mozilla/5.0",
        "language": "en",
    }
    payload.update(overrides)
    return payload


class CountingStream(io.BytesIO):
    """A request body that records how many bytes the app read from it."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.bytes_read = 0

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        self.bytes_read += len(chunk)
        return chunk


def nested(path: str, value: Any) -> dict[str, Any]:
    """A valid payload with one (possibly nested, dotted) field set to value."""
    payload = comment_payload()
    *parents, leaf = path.split(".")
    target = payload
    for name in parents:
        target = target[name]
    target[leaf] = value
    return payload


def sign_with_library(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The webhook-signature header as the standardwebhooks package computes it."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        # Webhook.sign takes text; a non-UTF-8 body is signed over its raw bytes with the same
        # library's HMAC and key, as a sender hashing bytes would.
        key = base64.b64decode(secret.removeprefix("whsec_"))
        digest = hmac_data(key, f"{webhook_id}.{timestamp}.".encode() + body)
        return "v1," + base64.b64encode(digest).decode("ascii")
    return Webhook(secret).sign(webhook_id, datetime.fromtimestamp(timestamp, UTC), text)


def post_signed(
    client: FlaskClient, source: NewSource, body: bytes, webhook_id: str | None = None
) -> TestResponse:
    """POST body to a source's intake from any client (another app, another thread), signed now."""
    webhook_id = webhook_id or f"msg_{uuid.uuid4().hex}"
    timestamp = int(time.time())
    return client.post(
        f"/v1/sources/{source.source.id}/comments",
        data=body,
        content_type="application/json",
        headers={
            "webhook-id": webhook_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign_with_library(source.secret, webhook_id, timestamp, body),
        },
    )


class SignedPost(Protocol):
    def __call__(
        self,
        payload: dict[str, Any] | list[Any] | str | bytes,
        *,
        source: NewSource | None = ...,
        source_id: str | None = ...,
        secret: str | None = ...,
        webhook_id: str | None = ...,
        timestamp: int | None = ...,
        content_type: str | None = ...,
        headers: dict[str, str] | None = ...,
        omit: tuple[str, ...] = ...,
        path: str = ...,
    ) -> TestResponse: ...


@pytest.fixture
def app(settings: Settings) -> Flask:
    app = create_app({"TESTING": True}, settings=settings)
    return app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def source(settings: Settings) -> NewSource:
    with session_scope(settings) as session:
        created = create_source(session, "Test CMS", callback_url="https://cms.example.org/hook")
    return created


@pytest.fixture
def other_source(settings: Settings) -> NewSource:
    with session_scope(settings) as session:
        created = create_source(session, "Other CMS")
    return created


@pytest.fixture
def signed_post(client: FlaskClient, source: NewSource) -> SignedPost:
    """POST a body to a source's intake, signed with the standardwebhooks library."""

    def post(
        payload: dict[str, Any] | list[Any] | str | bytes,
        *,
        source: NewSource | None = source,
        source_id: str | None = None,
        secret: str | None = None,
        webhook_id: str | None = None,
        timestamp: int | None = None,
        content_type: str | None = "application/json",
        headers: dict[str, str] | None = None,
        omit: tuple[str, ...] = (),
        path: str = "comments",
    ) -> TestResponse:
        assert source is not None
        if isinstance(payload, bytes):
            body = payload
        elif isinstance(payload, str):
            body = payload.encode("utf-8")
        else:
            body = json.dumps(payload).encode("utf-8")
        webhook_id = webhook_id or f"msg_{uuid.uuid4().hex}"
        timestamp = int(datetime.now(UTC).timestamp()) if timestamp is None else timestamp
        all_headers = {
            "webhook-id": webhook_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign_with_library(
                secret or source.secret, webhook_id, timestamp, body
            ),
        }
        if content_type is not None:
            all_headers["Content-Type"] = content_type
        all_headers.update(headers or {})
        for name in omit:
            all_headers.pop(name, None)
        return client.post(
            f"/v1/sources/{source_id or source.source.id}/{path}", data=body, headers=all_headers
        )

    return post


QueuedTask = tuple[str, list[Any], dict[str, Any]]


def queued_tasks(broker: redis.Redis, queue_name: str) -> list[QueuedTask]:
    """(task name, args, headers) of every message kombu's Redis transport holds in the queue."""
    tasks: list[QueuedTask] = []
    for raw in reversed(broker.lrange(queue_name, 0, -1)):
        message = json.loads(raw)
        args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        tasks.append((message["headers"]["task"], args, message["headers"]))
    return tasks


BearerGet = Callable[[str, str | None], TestResponse]


@pytest.fixture
def get_comment(client: FlaskClient) -> BearerGet:
    def get(comment_id: str, token: str | None) -> TestResponse:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        return client.get(f"/v1/comments/{comment_id}", headers=headers)

    return get
