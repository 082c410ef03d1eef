"""The periodic sweep: queue again what was lost, at most once per interval across all processes."""

from __future__ import annotations

import os
import socket
from datetime import timedelta

import redis
import structlog
from celery import Celery

from core.db import session_scope
from core.deliveries import sources_of_events
from core.settings import Settings
from core.sweep import StaleWork, collect_stale_work, mark_requeued
from core.tasks import DELIVER_DUE, DELIVER_EVENT, SCORE_COMMENT, queue_task

log = structlog.stdlib.get_logger(__name__)

# Most ids queued per sweep and kind; the next sweep takes the rest.
SWEEP_BATCH = 500
# An event is re-sent only this long after it fell due (its own task is usually on the way).
EVENT_GRACE = timedelta(seconds=5)


def lease_key(settings: Settings) -> str:
    return f"moderation:sweep:{settings.queue_name}"


def take_lease(client: redis.Redis, settings: Settings) -> bool:
    """True for the one caller per interval allowed to sweep (several beats or workers may try).

    The lease is not released after a sweep: it expires just before the next one is due, which
    is what keeps a crowd of schedulers from sweeping in a storm.
    """
    holder = f"{socket.gethostname()}:{os.getpid()}"
    ttl_ms = max(100, int(settings.sweep_interval_seconds * 900))
    return bool(client.set(lease_key(settings), holder, nx=True, px=ttl_ms))


def queue_events(settings: Settings, sender: Celery, event_ids: list[str]) -> None:
    """Queue overdue events again: one task each, or (batched delivery) one per source. The
    batches are queued whether or not their source is armed: an armed key whose batch was lost
    (a worker killed) must not hold events back."""
    if settings.delivery_batch_size > 0:
        with session_scope(settings) as session:
            source_ids = sources_of_events(session, event_ids)
        for source_id in source_ids:
            if not queue_task(sender, DELIVER_DUE, source_id):
                break
        return
    for event_id in event_ids:
        if not queue_task(sender, DELIVER_EVENT, event_id):
            break


def sweep_once(settings: Settings, sender: Celery, client: redis.Redis) -> StaleWork | None:
    """Queue stale comments and overdue events again; None when another process holds the lease."""
    if not take_lease(client, settings):
        log.info("sweep: another process swept recently; skipped")
        return None
    with session_scope(settings) as session:
        work = collect_stale_work(
            session,
            stale_after=timedelta(seconds=settings.stale_pending_after_seconds),
            event_grace=EVENT_GRACE,
            webhook_memory=timedelta(seconds=2 * settings.signature_tolerance_seconds),
            limit=SWEEP_BATCH,
        )
    queued: list[str] = []
    # The first send the broker refuses ends the sweep's sending; the next sweep retries.
    for comment_id in work.comment_ids:
        if not queue_task(sender, SCORE_COMMENT, comment_id):
            break
        queued.append(comment_id)
    else:
        queue_events(settings, sender, work.event_ids)
    with session_scope(settings) as session:
        mark_requeued(session, queued)
    log.info(
        "sweep: queued stale work",
        comments=len(queued),
        events=len(work.event_ids),
        webhook_ids_forgotten=work.webhooks_forgotten,
        sanctions_expired=work.sanctions_expired,
        retention_erased=work.retention_erased,
        provisionally_approved=work.provisionally_approved,
        held_unscored=work.held_unscored,
    )
    return work
