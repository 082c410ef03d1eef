"""The intake's kept publisher writes the very message Celery's send_task writes, and keeps
working across a Redis restart."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import redis

from core.logging import REQUEST_ID_HEADER
from core.settings import Settings
from core.tasks import DELIVER_EVENT, SCORE_COMMENT, queue_task
from service.queue import KeptPublisher, create_client
from tests.faults.servers import RedisServer

# Differ by design between any two messages: fresh ids, and the sending process's name.
PER_MESSAGE = {"id", "root_id", "correlation_id", "delivery_tag"}


def pop_message(broker: redis.Redis, queue: str) -> dict[str, Any]:
    raw = broker.rpop(queue)
    assert raw is not None, f"nothing in {queue}"
    return dict(json.loads(raw))


def comparable(message: dict[str, Any]) -> dict[str, Any]:
    """The message with its per-message ids blanked and its body decoded."""
    headers = {k: (v if k not in PER_MESSAGE else "<id>") for k, v in message["headers"].items()}
    properties = {
        k: (v if k not in PER_MESSAGE else "<id>") for k, v in message["properties"].items()
    }
    body = json.loads(base64.b64decode(message["body"]))
    return {**message, "headers": headers, "properties": properties, "body": body}


class TestKeptPublisher:
    @pytest.mark.parametrize("task", [SCORE_COMMENT, DELIVER_EVENT])
    def test_kept_publisher_message_equals_celery_send_task(
        self, settings: Settings, broker: redis.Redis, task: str
    ) -> None:
        celery = create_client(settings)
        publisher = KeptPublisher(celery, settings)
        headers = {REQUEST_ID_HEADER: "req-0123456789"}
        queue = publisher.queue_of(task)
        celery.send_task(task, args=["cmt_1"], headers=headers)
        expected = pop_message(broker, queue)
        publisher.send_task(task, args=["cmt_1"], headers=headers)
        sent = pop_message(broker, queue)
        assert comparable(sent) == comparable(expected)
        assert sent["headers"]["id"] == sent["properties"]["correlation_id"]
        assert sent["headers"]["root_id"] == sent["headers"]["id"]

    def test_kept_publisher_routes_like_celery(self, settings: Settings) -> None:
        publisher = KeptPublisher(create_client(settings), settings)
        assert publisher.queue_of(SCORE_COMMENT) == settings.queue_name
        assert publisher.queue_of(DELIVER_EVENT) == settings.delivery_queue_name

    def test_kept_publisher_with_countdown_goes_through_celery(
        self, settings: Settings, broker: redis.Redis
    ) -> None:
        publisher = KeptPublisher(create_client(settings), settings)
        assert queue_task(publisher, SCORE_COMMENT, "cmt_later", countdown=30)
        # Celery's own message: an ETA in its headers.
        assert pop_message(broker, settings.queue_name)["headers"]["eta"]

    def test_kept_publisher_reports_broker_away_and_reconnects_after_redis_restarts(
        self, settings: Settings
    ) -> None:
        server = RedisServer()
        server.start()
        try:
            local = settings.model_copy(update={"redis_url": server.url})
            publisher = KeptPublisher(create_client(local), local)
            assert queue_task(publisher, SCORE_COMMENT, "cmt_before")
            server.stop()
            assert not queue_task(publisher, SCORE_COMMENT, "cmt_during")
            server.start()
            assert queue_task(publisher, SCORE_COMMENT, "cmt_after")
            client = redis.Redis.from_url(server.url)
            bodies = [
                json.loads(base64.b64decode(json.loads(raw)["body"]))[0]
                for raw in client.lrange(local.queue_name, 0, -1)
            ]
            client.close()
            # The server came back empty: only the message sent after the restart is there.
            assert bodies == [["cmt_after"]]
        finally:
            server.cleanup()
