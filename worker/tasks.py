"""Thin Celery tasks: ids in, use cases from core/ do the work, retries on transient errors."""

from __future__ import annotations

import time

import redis
import structlog
from celery import current_app, shared_task
from sqlalchemy.exc import InterfaceError as DatabaseInterfaceError
from sqlalchemy.exc import OperationalError as DatabaseError

from core.db import session_scope
from core.moderation import Scorer, moderate_comment
from core.settings import Settings, get_settings
from core.shadow import shadow_comment
from core.tasks import SCORE_COMMENT, SWEEP
from worker.clients import get_redis
from worker.delivery import queue_delivery
from worker.heartbeat import ensure_heartbeat
from worker.metrics import observe_decision, observe_scoring
from worker.scorer import current_shadow, get_scorer
from worker.sweeper import sweep_once

log = structlog.stdlib.get_logger(__name__)

# Worth retrying: the database or Redis was briefly unreachable, locked or restarting.
TRANSIENT_ERRORS = (
    DatabaseError,
    DatabaseInterfaceError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)


@shared_task(
    name=SCORE_COMMENT,
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=True,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=10,
    acks_late=True,
    reject_on_worker_lost=True,
)
def score_comment(comment_id: str) -> None:
    """Decide one pending comment with the model, then queue its decision event for delivery."""
    # Every line logged while this task runs (core's and the queueing's too) names the comment.
    structlog.contextvars.bind_contextvars(comment_id=comment_id)
    settings = get_settings()
    scorer = get_scorer(settings)
    ensure_heartbeat(get_redis(settings), scorer.version)
    started = time.perf_counter()
    with session_scope(settings) as session:
        result = moderate_comment(session, comment_id, scorer)
    observe_scoring(time.perf_counter() - started)
    if result is None:
        return
    decision, event = result
    structlog.contextvars.bind_contextvars(source_id=event.source_id, event_id=event.id)
    observe_decision(decision.status)
    # After the commit: the event row is the outbox, so a failed send only delays delivery until
    # the sweeper queues it. Retrying this task would not help: the comment is decided now.
    queue_delivery(current_app, event.id, event.source_id, settings)
    shadow = current_shadow()
    if shadow is not None:
        score_in_shadow(settings, comment_id, shadow)


def score_in_shadow(settings: Settings, comment_id: str, shadow: Scorer) -> None:
    """The shadow model's would-be decision, after the live one is recorded and its event
    queued; a failure here is logged and changes nothing (the comment is decided)."""
    try:
        with session_scope(settings) as session:
            shadow_comment(session, comment_id, shadow)
    except Exception:  # noqa: BLE001 - shadow scoring must never fail or repeat the live task
        log.exception("shadow scoring failed", model_version=shadow.version)


@shared_task(name=SWEEP, acks_late=False)
def sweep() -> None:
    """Queue again comments left pending and events left undelivered; prune old webhook ids."""
    settings = get_settings()
    try:
        sweep_once(settings, current_app, get_redis(settings))
    except TRANSIENT_ERRORS as exc:
        # The next scheduled sweep is the retry; a backlog of sweeps would only storm.
        log.warning("sweep: skipped", error=type(exc).__name__)
