"""Thin Celery tasks: ids in, use cases from core/ do the work, retries on transient errors."""

from __future__ import annotations

import logging
import time

import redis
from celery import current_app, shared_task
from kombu.exceptions import OperationalError as BrokerError
from sqlalchemy.exc import InterfaceError as DatabaseInterfaceError
from sqlalchemy.exc import OperationalError as DatabaseError

from core.db import session_scope
from core.logging import request_id_headers
from core.moderation import moderate_comment
from core.settings import get_settings
from worker import DELIVER_EVENT, SCORE_COMMENT, SWEEP
from worker.clients import get_redis
from worker.heartbeat import ensure_heartbeat
from worker.metrics import observe_decision, observe_scoring
from worker.scorer import get_scorer
from worker.sweeper import sweep_once

log = logging.getLogger(__name__)

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
    observe_decision(decision.status)
    # After the commit: the event row is the outbox, so a failed send only delays delivery until
    # the sweeper queues it. Retrying this task would not help: the comment is decided now.
    try:
        current_app.send_task(
            DELIVER_EVENT,
            args=[event.id],
            headers=request_id_headers(),
        )
    except BrokerError as exc:
        log.warning(
            "score_comment: comment %s: could not queue event %s (%s); the sweeper will",
            comment_id,
            event.id,
            type(exc).__name__,
        )


@shared_task(name=SWEEP, acks_late=False)
def sweep() -> None:
    """Queue again comments left pending and events left undelivered; prune old webhook ids."""
    settings = get_settings()
    try:
        sweep_once(settings, current_app, get_redis(settings))
    except TRANSIENT_ERRORS as exc:
        # The next scheduled sweep is the retry; a backlog of sweeps would only storm.
        log.warning("sweep: skipped, %s", type(exc).__name__)
