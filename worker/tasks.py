"""Thin Celery tasks: ids in, use cases from core/ do the work, retries on transient errors."""

from __future__ import annotations

import time
from typing import Any

import redis
import structlog
from celery import current_app, shared_task
from celery.app.trace import LOG_RETRY
from celery.app.trace import info as log_task_info
from celery.utils.time import get_exponential_backoff_interval
from celery_batches import SimpleRequest
from sqlalchemy.exc import InterfaceError as DatabaseInterfaceError
from sqlalchemy.exc import OperationalError as DatabaseError

from core.db import session_scope
from core.logging import request_id_of_task
from core.moderation import LogContext, Scorer, moderate_comment, moderate_comments
from core.settings import Settings, get_settings
from core.shadow import shadow_comment
from core.tables import Decision, Event
from core.tasks import DELIVER_EVENT, SCORE_COMMENT, SWEEP, queue_task, queue_tasks
from worker.batches import ScoringBatches
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


# The scoring task's options in each design (worker.app registers one of the two under
# SCORE_COMMENT, as SCORE_BATCH_SIZE says).
RETRY_BACKOFF_MAX_SECONDS = 300
MAX_RETRIES = 10
ONE_COMMENT_OPTIONS: dict[str, Any] = {
    "name": SCORE_COMMENT,
    "autoretry_for": TRANSIENT_ERRORS,
    "retry_backoff": True,
    "retry_backoff_max": RETRY_BACKOFF_MAX_SECONDS,
    "retry_jitter": True,
    "max_retries": MAX_RETRIES,
    "acks_late": True,
    "reject_on_worker_lost": True,
}


def batch_options(settings: Settings) -> dict[str, Any]:
    """The batched scoring task's options: up to score_batch_size messages, or what arrived
    within score_batch_wait_ms."""
    return {
        "name": SCORE_COMMENT,
        "base": ScoringBatches,
        "flush_every": settings.score_batch_size,
        "flush_interval": settings.score_batch_wait_ms / 1000,
        "acks_late": True,
        "reject_on_worker_lost": True,
    }


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


def score_comments(requests: list[SimpleRequest]) -> None:
    """Decide a batch of pending comments (one `worker.score_comment` message each) in one
    transaction, then queue their events for delivery.

    A batch that fails for any other reason than an outage is decided again one comment at a
    time, so one bad comment never fails its neighbours. During an outage of the database or
    Redis every comment of the batch is queued again for later, with the backoff of the
    one-comment task (the sweeper queues it should that fail too).
    """
    settings = get_settings()
    ids = [comment_id_of(request) for request in requests]
    context = {
        comment_id: {"request_id": request_id_of_task(request.request_dict)}
        for comment_id, request in zip(ids, requests, strict=True)
    }
    started = time.perf_counter()
    try:
        scorer = get_scorer(settings)
        ensure_heartbeat(get_redis(settings), scorer.version)
        with session_scope(settings) as session:
            results = moderate_comments(session, ids, scorer, context)
    except TRANSIENT_ERRORS as exc:
        retry_later(requests, exc)
        return
    except Exception:  # noqa: BLE001 - one comment's fault must not fail the batch: each alone
        log.exception("score batch failed; deciding its comments one by one", size=len(ids))
        results = decide_one_by_one(settings, requests, context)
    seconds = time.perf_counter() - started
    observe_scoring(seconds)
    log.info("score batch: done", size=len(ids), decided=len(results), seconds=round(seconds, 4))
    for decision, _ in results:
        observe_decision(decision.status)
    # After the commit: the event rows are the outbox (see score_comment).
    if settings.delivery_batch_size > 0:
        # One batched delivery per source takes every due event of it.
        # Each batch goes under the request id of the first of its source's comments.
        for source_id, event in {e.source_id: e for _, e in reversed(results)}.items():
            own = context[event.comment_id or ""]
            queue_delivery(current_app, event.id, source_id, settings, headers=own)
    else:
        queue_tasks(
            current_app,
            DELIVER_EVENT,
            [event.id for _, event in results],
            headers=[context[event.comment_id or ""] for _, event in results],
        )
    shadow = current_shadow()
    if shadow is not None:
        for _, event in results:
            score_in_shadow(settings, str(event.comment_id), shadow)


def comment_id_of(request: SimpleRequest) -> str:
    """The comment id a `worker.score_comment` message carries (its one argument)."""
    return str(request.args[0] if request.args else request.kwargs["comment_id"])


def decide_one_by_one(
    settings: Settings, requests: list[SimpleRequest], context: LogContext
) -> list[tuple[Decision, Event]]:
    """Each comment of a failed batch in its own transaction, as the one-comment task does."""
    results = []
    for request in requests:
        comment_id = comment_id_of(request)
        try:
            scorer = get_scorer(settings)
            with session_scope(settings) as session:
                result = moderate_comment(session, comment_id, scorer)
        except TRANSIENT_ERRORS as exc:
            retry_later([request], exc)
            continue
        except Exception:  # noqa: BLE001 - left pending: logged, and the sweeper tries it again
            log.exception("score: comment failed", **context[comment_id], comment_id=comment_id)
            continue
        if result is not None:
            results.append(result)
    return results


def retry_later(requests: list[SimpleRequest], exc: BaseException) -> None:
    """Queue each comment's message again with exponential backoff and full jitter, as the
    one-comment task's autoretry does; after MAX_RETRIES the sweeper is the retry."""
    queued = 0
    for request in requests:
        retries = int((request.request_dict or {}).get("retries") or 0)
        if retries >= MAX_RETRIES:
            continue
        countdown = get_exponential_backoff_interval(
            factor=1, retries=retries, maximum=RETRY_BACKOFF_MAX_SECONDS, full_jitter=True
        )
        countdown = max(countdown, 0.1)
        if not queue_task(
            current_app,
            SCORE_COMMENT,
            comment_id_of(request),
            countdown=countdown,
            retries=retries + 1,
        ):
            break  # the broker is away too: the sweeper queues them once it is back
        queued += 1
        # Celery's own line for a retried task, as the one-comment task's autoretry logs it.
        log_task_info(
            LOG_RETRY,
            {"id": request.id, "name": SCORE_COMMENT, "exc": f"Retry in {countdown:.1f}s: {exc!r}"},
        )
    log.warning(
        "score batch: outage; comments queued again", error=type(exc).__name__, queued=queued
    )


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
