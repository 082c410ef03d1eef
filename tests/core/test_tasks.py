"""core.tasks: one way to queue a task after the commit, against the real Redis broker."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import redis
import structlog
from celery import Celery

from core.logging import bind_request_id, clear_log_context
from core.settings import Settings
from core.tasks import DELIVER_DUE, DELIVER_EVENT, SCORE_COMMENT, queue_task
from service.queue import create_client

# Nothing listens on port 1: a broker that is away.
ABSENT_BROKER = "redis://127.0.0.1:1/0"


@pytest.fixture
def sender(settings: Settings) -> Iterator[Celery]:
    client = create_client(settings)
    yield client
    client.close()


@pytest.fixture
def request_id() -> Iterator[str]:
    bind_request_id("req-tasks-0001")
    yield "req-tasks-0001"
    clear_log_context()


def queued(broker: redis.Redis, queue: str) -> list[dict[str, object]]:
    return [json.loads(raw) for raw in broker.lrange(queue, 0, -1)]


class TestQueueTask:
    def test_queue_task_sends_scoring_to_the_scoring_queue_with_the_request_id(
        self, settings: Settings, broker: redis.Redis, sender: Celery, request_id: str
    ) -> None:
        assert queue_task(sender, SCORE_COMMENT, "cmt_1") is True
        (message,) = queued(broker, settings.queue_name)
        headers = message["headers"]
        assert isinstance(headers, dict)
        assert (headers["task"], headers["argsrepr"]) == (SCORE_COMMENT, "['cmt_1']")
        assert headers["request_id"] == request_id

    @pytest.mark.parametrize("task", [DELIVER_EVENT, DELIVER_DUE])
    def test_queue_task_routes_deliveries_to_the_delivery_queue(
        self, settings: Settings, broker: redis.Redis, sender: Celery, request_id: str, task: str
    ) -> None:
        assert queue_task(sender, task, "msg_1", countdown=30) is True
        assert queued(broker, settings.queue_name) == []
        (message,) = queued(broker, settings.delivery_queue_name)
        headers = message["headers"]
        assert isinstance(headers, dict)
        assert (headers["task"], headers["request_id"]) == (task, request_id)
        assert headers["eta"] is not None

    def test_queue_task_leaves_the_outbox_row_when_the_broker_is_away(
        self, settings: Settings, request_id: str
    ) -> None:
        absent = create_client(settings.model_copy(update={"redis_url": ABSENT_BROKER}))
        with structlog.testing.capture_logs() as logs:
            assert queue_task(absent, DELIVER_EVENT, "msg_2") is False
        (entry,) = [e for e in logs if e["log_level"] == "warning"]
        assert entry["event_id"] == "msg_2"
        assert entry["task"] == DELIVER_EVENT
        absent.close()
