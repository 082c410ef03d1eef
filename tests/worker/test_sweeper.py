from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import redis
from celery import Celery
from sqlalchemy import update

from core.db import session_scope
from core.domain import Status
from core.settings import Settings, configure
from core.store import create_source, record_decision
from core.tables import Comment, Event, SeenWebhook
from core.tasks import DELIVER_DUE, DELIVER_EVENT, SCORE_COMMENT
from tests.comments import incoming, receive
from tests.integration.workers import forget_queues
from worker.app import create_celery
from worker.sweeper import lease_key, sweep_once

pytestmark = pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)

LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)


@pytest.fixture
def client(settings: Settings) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(settings.redis_client_url)
    yield client
    forget_queues(client, settings)
    client.delete(lease_key(settings))
    client.close()


@pytest.fixture
def sender(settings: Settings) -> Celery:
    return create_celery(settings)


def queued(client: redis.Redis, queue: str) -> list[tuple[str, list[str]]]:
    """(task name, args) of every message waiting in a queue, oldest first."""
    messages = [json.loads(raw) for raw in reversed(client.lrange(queue, 0, -1))]
    return [(m["headers"]["task"], json.loads(base64.b64decode(m["body"]))[0]) for m in messages]


def pending_comment(settings: Settings, external_id: str, updated_at: datetime) -> str:
    with session_scope(settings) as session:
        source = create_source(session, "Daily Planet").source
        comment = receive(
            session,
            source.id,
            incoming("Hello", external_id),
        )
        session.flush()
        session.execute(
            update(Comment).where(Comment.id == comment.id).values(updated_at=updated_at)
        )
        return comment.id


def pending_event(settings: Settings, next_attempt_at: datetime) -> str:
    comment_id = pending_comment(settings, "with-event", LONG_AGO)
    with session_scope(settings) as session:
        comment = session.get_one(Comment, comment_id)
        _, event = record_decision(session, comment, Status.APPROVED, actor="model", reasons=[])
        event.next_attempt_at = next_attempt_at
        return event.id


def configure_batches(settings: Settings, batch_size: int) -> Settings:
    """The same settings with DELIVERY_BATCH_SIZE set (0: one delivery task per event)."""
    return configure(**{**settings.model_dump(), "delivery_batch_size": batch_size})


def delivery_task(settings: Settings, event_id: str) -> tuple[str, list[str]]:
    """The message the sweeper queues for an event: deliver_event, or its source's batch."""
    if settings.delivery_batch_size == 0:
        return (DELIVER_EVENT, [event_id])
    with session_scope(settings) as session:
        return (DELIVER_DUE, [session.get_one(Event, event_id).source_id])


class TestSweepOnce:
    def test_sweep_once_requeues_stale_pending_comment(
        self, settings: Settings, sender: Celery, client: redis.Redis
    ) -> None:
        stale = pending_comment(settings, "stale", LONG_AGO)
        fresh = pending_comment(settings, "fresh", datetime.now(UTC))
        work = sweep_once(settings, sender, client)
        assert work is not None and stale in work.comment_ids and fresh not in work.comment_ids
        assert (SCORE_COMMENT, [stale]) in queued(client, settings.queue_name)
        assert (SCORE_COMMENT, [fresh]) not in queued(client, settings.queue_name)

    def test_sweep_once_restarts_stale_clock_of_requeued_comment(
        self, settings: Settings, sender: Celery, client: redis.Redis
    ) -> None:
        stale = pending_comment(settings, "stale", LONG_AGO)
        sweep_once(settings, sender, client)
        with session_scope(settings) as session:
            updated_at = session.get_one(Comment, stale).updated_at
        assert datetime.now(UTC) - updated_at < timedelta(minutes=1)

    @pytest.mark.parametrize("batch_size", [0, 50])
    def test_sweep_once_requeues_overdue_event(
        self, settings: Settings, sender: Celery, client: redis.Redis, batch_size: int
    ) -> None:
        settings = configure_batches(settings, batch_size)
        overdue = pending_event(settings, LONG_AGO)
        sweep_once(settings, sender, client)
        assert delivery_task(settings, overdue) in queued(client, settings.delivery_queue_name)

    @pytest.mark.parametrize("batch_size", [0, 50])
    def test_sweep_once_leaves_event_not_yet_due(
        self, settings: Settings, sender: Celery, client: redis.Redis, batch_size: int
    ) -> None:
        settings = configure_batches(settings, batch_size)
        later = pending_event(settings, datetime.now(UTC) + timedelta(hours=1))
        sweep_once(settings, sender, client)
        assert delivery_task(settings, later) not in queued(client, settings.delivery_queue_name)

    def test_sweep_once_forgets_webhook_ids_past_replay_window(
        self, settings: Settings, sender: Celery, client: redis.Redis
    ) -> None:
        with session_scope(settings) as session:
            source = create_source(session, "Daily Planet").source
            session.add(SeenWebhook(source_id=source.id, webhook_id="old", received_at=LONG_AGO))
            session.add(SeenWebhook(source_id=source.id, webhook_id="new"))
            source_id = source.id
        sweep_once(settings, sender, client)
        with session_scope(settings) as session:
            assert session.get(SeenWebhook, (source_id, "old")) is None
            assert session.get(SeenWebhook, (source_id, "new")) is not None

    def test_sweep_once_runs_once_per_interval_across_processes(
        self, settings: Settings, sender: Celery, client: redis.Redis
    ) -> None:
        stale = pending_comment(settings, "stale", LONG_AGO)
        assert sweep_once(settings, sender, client) is not None
        assert sweep_once(settings, sender, client) is None
        assert queued(client, settings.queue_name).count((SCORE_COMMENT, [stale])) == 1
