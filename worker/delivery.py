"""Tasks "worker.deliver_event" and "worker.deliver_due": POST decision events to the CMS, signed,
and book the outcomes.

The tasks are thin (Celery's advice): core.deliveries decides whether and when to POST and what
an outcome means; this module only signs, sends with httpx and queues what comes next. Long waits
are not Celery countdowns (Redis redelivers ETA tasks after its visibility timeout): the event's
next_attempt_at is stored and the sweeper re-sends due events; only short waits use a countdown.

Two designs, chosen by DELIVERY_BATCH_SIZE. 0: one deliver_event task per event (two
transactions and one Celery message each). Above 0 (the default): a producer "arms" its event's
source, a Redis key set only if absent, and queues one deliver_due(source_id) only when it armed
it; that task claims up to DELIVERY_BATCH_SIZE due events of the source in one transaction, POSTs
each (one signed request per event) over this process's kept-alive connections to that CMS, and
records them all in one transaction, round after round until none is due. It disarms the source
before its last look, so an event committed while the key was set is never left behind. Events
stay in the database until delivered: a task killed mid-batch leaves its claims to expire, and the
sweeper queues the source again (at least once: an event POSTed but not yet recorded is sent
again, with the same webhook-id).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import redis
import structlog
from celery import Task, shared_task
from sqlalchemy.exc import OperationalError
from standardwebhooks import Webhook

import core.deliveries as deliveries
from core.db import session_scope
from core.deliveries import (
    BREAKER_THRESHOLD,
    Claim,
    HttpOutcome,
    Recorded,
    Skip,
    Verdict,
    claim_delivery,
    claim_due,
    parse_retry_after,
    record_outcome,
    record_outcomes,
    release_claims,
)
from core.settings import Settings, get_settings
from core.tasks import DELIVER_DUE, DELIVER_EVENT, TaskSender, queue_task
from worker.clients import get_redis
from worker.metrics import observe_callback

log = structlog.stdlib.get_logger(__name__)

CONNECT_TIMEOUT_SECONDS = 5.0
TOTAL_TIMEOUT_SECONDS = 10.0
# Retries due within this long are queued with a countdown; later ones wait for the sweeper.
COUNTDOWN_MAX = timedelta(minutes=5)
# We read at most this much of a callback response: only its status matters.
MAX_RESPONSE_BYTES = 64 * 1024
USER_AGENT = "moderation-callbacks/1"

# A batch task stops claiming after this many rounds and queues itself again, so one busy
# source cannot hold a pool process while other sources' batches wait in the queue.
MAX_ROUNDS_PER_TASK = 20
# A batch posts its next event only while its claims' lease has this much left beyond one
# attempt's whole budget; the rest are given back (due at once) for the next round or task.
LEASE_MARGIN_SECONDS = 5.0
# How long a source stays armed (a batch queued or running) without the batch refreshing it:
# past it a producer queues another batch (a lost one's events wait at most this long, or the
# sweep interval, whichever is first).
ARMED_TTL_SECONDS = 300

# Per process, request thread and CMS origin: kept-alive connections to one target, closed at
# shutdown. One client per thread, because httpcore's pool, shared by threads that open
# connections at the same moment, can drop one of them without closing it.
_clients: dict[tuple[int, int, str], httpx.Client] = {}


def _origin(url: str | None) -> str:
    if not url:
        return ""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        return ""
    return f"{parsed.scheme}://{parsed.host}:{parsed.port or ''}"


def http_client(url: str | None = None) -> httpx.Client:
    """This thread's connection pool to url's origin (built after fork, never carried across)."""
    key = (os.getpid(), threading.get_ident(), _origin(url))
    client = _clients.get(key)
    if client is None:
        client = _clients[key] = httpx.Client(
            timeout=httpx.Timeout(TOTAL_TIMEOUT_SECONDS, connect=CONNECT_TIMEOUT_SECONDS),
            follow_redirects=False,
            headers={"user-agent": USER_AGENT},
            limits=httpx.Limits(max_connections=50, max_keepalive_connections=10),
        )
    return client


def close_http_clients() -> None:
    """Close this process's kept connections and request threads (worker process shutdown)."""
    close_executor()
    for key in [k for k in _clients if k[0] == os.getpid()]:
        _clients.pop(key).close()


def signed_request(claim: Claim, now: datetime | None = None) -> tuple[bytes, dict[str, str]]:
    """The exact body and the Standard Webhooks headers (one v1 signature per live secret)."""
    body = json.dumps(claim.payload, separators=(",", ":"), ensure_ascii=False)
    timestamp = (now or datetime.now(UTC)).replace(microsecond=0)
    signatures = " ".join(
        Webhook(secret).sign(msg_id=claim.event_id, timestamp=timestamp, data=body)
        for secret in claim.secrets
    )
    headers = {
        "content-type": "application/json",
        "webhook-id": claim.event_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signatures,
    }
    return body.encode("utf-8"), headers


def budgeted_timeouts(
    total: float, connect: float
) -> tuple[dict[str, float], Callable[[str, dict[str, Any]], None]]:
    """httpx timeouts that shrink to the time left, so a whole attempt stays within `total`.

    httpx only knows per-phase timeouts (connect, each write, each read). httpcore reads them from
    the request's "timeout" extension at the start of every phase, and announces each phase to
    the "trace" extension first: the trace lowers every limit to what remains of the budget.
    """
    deadline = time.monotonic() + total
    limits = {"connect": connect, "write": total, "read": total, "pool": connect}
    timeouts = dict(limits)

    def trace(event: str, info: dict[str, Any]) -> None:
        if event.endswith(".started"):
            remaining = max(deadline - time.monotonic(), 0.001)
            for phase, limit in limits.items():
                timeouts[phase] = min(limit, remaining)

    return timeouts, trace


def post_event(
    claim: Claim,
    client: httpx.Client | None = None,
    *,
    total_timeout: float = TOTAL_TIMEOUT_SECONDS,
    connect_timeout: float = CONNECT_TIMEOUT_SECONDS,
) -> HttpOutcome:
    """One POST; never raises for network trouble, it is an outcome like any status code."""
    client = client or http_client(claim.url)
    body, headers = signed_request(claim)
    timeouts, trace = budgeted_timeouts(total_timeout, connect_timeout)
    started = time.monotonic()
    try:
        with client.stream(
            "POST",
            claim.url,
            content=body,
            headers=headers,
            extensions={"timeout": timeouts, "trace": trace},
        ) as response:
            latency_ms = (time.monotonic() - started) * 1000
            read = 0
            # Drain a little of the body (keeps the connection reusable) within the total budget.
            for chunk in response.iter_raw():
                read += len(chunk)
                if read > MAX_RESPONSE_BYTES or time.monotonic() - started > total_timeout:
                    break
            return HttpOutcome(
                status_code=response.status_code,
                latency_ms=latency_ms,
                error=None if response.is_success else f"HTTP {response.status_code}",
                retry_after=parse_retry_after(response.headers.get("retry-after")),
            )
    except httpx.HTTPError as exc:
        return HttpOutcome(
            status_code=None,
            latency_ms=(time.monotonic() - started) * 1000,
            error=f"{type(exc).__name__}: {exc}",
        )


@dataclass(frozen=True)
class DeliveryRun:
    """What one run did: skipped (and why), or the attempt's number and its recorded fate."""

    event_id: str
    skipped: Skip | None = None
    attempt: int | None = None
    status_code: int | None = None
    recorded: Recorded | None = None


def run_delivery(
    event_id: str,
    settings: Settings | None = None,
    *,
    now: datetime | None = None,
    client: httpx.Client | None = None,
) -> DeliveryRun:
    """Claim, POST outside any transaction, record. Safe to run twice or concurrently."""
    settings = settings or get_settings()
    with session_scope(settings) as session:
        claim = claim_delivery(session, event_id, now)
    if isinstance(claim, Skip):
        log.info("delivery skipped", event_id=event_id, reason=claim.value)
        return DeliveryRun(event_id=event_id, skipped=claim)
    outcome = post_event(claim, client)
    with session_scope(settings) as session:
        recorded = record_outcome(session, claim, outcome, now)
    observe_callback(outcome.status_code, failed=not outcome.succeeded)
    log.info(
        "delivery attempt",
        event_id=event_id,
        comment_id=claim.comment_id,
        source_id=claim.source_id,
        attempt=claim.number,
        status_code=outcome.status_code,
        latency_ms=round(outcome.latency_ms, 1),
        verdict=recorded.verdict.value,
    )
    return DeliveryRun(
        event_id=event_id,
        attempt=claim.number,
        status_code=outcome.status_code,
        recorded=recorded,
    )


# Both delivery tasks: acknowledged after they ran, retried while the database is away.
DELIVERY_TASK_OPTIONS: dict[str, Any] = {
    "bind": True,
    "acks_late": True,
    "ignore_result": True,
    "autoretry_for": (OperationalError,),
    "retry_backoff": True,
    "retry_jitter": True,
    "max_retries": 10,
}


# Celery ships no type hints, so mypy sees the decorator as untyped.
@shared_task(name=DELIVER_EVENT, **DELIVERY_TASK_OPTIONS)  # type: ignore[untyped-decorator]
def deliver_event(self: Task[Any, Any], event_id: str) -> str:
    """Deliver one event now if it is due, then queue its short retry or the next seq."""
    settings = get_settings()
    run = run_delivery(event_id, settings)
    if run.recorded is None:
        assert run.skipped is not None
        return run.skipped.value
    follow_ups: list[tuple[str, float]] = [(e, 0.0) for e in run.recorded.follow_up_ids]
    next_at = run.recorded.next_attempt_at
    if next_at is not None and next_at - datetime.now(UTC) <= COUNTDOWN_MAX:
        follow_ups.append((event_id, max((next_at - datetime.now(UTC)).total_seconds(), 0.0)))
    # The outcome is recorded and the event stays pending: if the broker is away, the sweeper
    # sends it when due.
    for follow_up, countdown in follow_ups:
        queue_task(self.app, DELIVER_EVENT, follow_up, countdown=countdown)
    return run.recorded.verdict.value


def armed_key(settings: Settings, source_id: str) -> str:
    return f"moderation:deliver:{settings.queue_name}:{source_id}"


def queue_delivery(
    sender: TaskSender,
    event_id: str,
    source_id: str,
    settings: Settings | None = None,
    *,
    headers: Mapping[str, str] | None = None,
) -> bool:
    """Queue the delivery of a committed event, by DELIVERY_BATCH_SIZE's design; False (logged)
    when the broker is away (the sweeper queues it then). `headers`: the event's comment's
    request id, when the caller is not running under it (a batch of comments).

    Batched: one deliver_due per source at a time. The key is set only if absent; a producer
    that finds it set queues nothing, because the batch queued or running will take its event
    (it disarms the source before its last look at the database).
    """
    settings = settings or get_settings()
    if settings.delivery_batch_size <= 0:
        return queue_task(sender, DELIVER_EVENT, event_id, headers=headers)
    key = armed_key(settings, source_id)
    client = get_redis(settings)
    try:
        armed = bool(client.set(key, event_id, nx=True, ex=ARMED_TTL_SECONDS))
    except redis.RedisError:
        armed = True  # cannot tell: queue one (harmless if another is queued)
    if not armed:
        return True
    if queue_task(sender, DELIVER_DUE, source_id, headers=headers):
        return True
    try:
        client.delete(key)  # nothing is queued for this source: let the next producer try
    except redis.RedisError:
        pass
    return False


@dataclass(frozen=True)
class BatchRun:
    """What one round did for a source: claimed, posted, delivered, given back; retries due."""

    source_id: str
    claimed: int = 0
    posted: int = 0
    delivered: int = 0
    released: int = 0
    skipped: Skip | None = None
    # The earliest retry this round scheduled (the task queues a countdown when it is near).
    next_retry_at: datetime | None = None


def _lease_left(started: float) -> float:
    return deliveries.CLAIM_LEASE.total_seconds() - (time.monotonic() - started)


def run_batch(
    source_id: str,
    settings: Settings | None = None,
    *,
    limit: int | None = None,
    now: datetime | None = None,
    client: httpx.Client | None = None,
) -> BatchRun:
    """One round: claim up to `limit` due events of a source in one transaction, POST each in
    turn outside any transaction, record every outcome in one transaction. Safe to run twice
    or concurrently (every attempt is claimed).

    A failure is recorded for its own event only; its neighbours go on. The round stops early,
    giving back the claims it did not POST, when the lease could run out before another whole
    attempt, or after BREAKER_THRESHOLD retryable failures in a row (the endpoint is down: the
    breaker, recorded with them, parks the rest).
    """
    settings = settings or get_settings()
    limit = limit or max(settings.delivery_batch_size, 1)
    started = time.monotonic()
    with session_scope(settings) as session:
        batch = claim_due(session, source_id, limit, now)
    if not batch.claims:
        return BatchRun(source_id, skipped=batch.skipped)
    results = _post_in_waves(batch.claims, settings, started, client)
    unposted = batch.claims[len(results) :]
    with session_scope(settings) as session:
        recorded = record_outcomes(session, results, now)
        if unposted:
            release_claims(session, unposted, now)
    retries = [r.next_attempt_at for r in recorded if r.next_attempt_at is not None]
    for (claim, outcome), fate in zip(results, recorded, strict=True):
        observe_callback(outcome.status_code, failed=not outcome.succeeded)
        log.info(
            "delivery attempt",
            event_id=claim.event_id,
            comment_id=claim.comment_id,
            source_id=claim.source_id,
            attempt=claim.number,
            status_code=outcome.status_code,
            latency_ms=round(outcome.latency_ms, 1),
            verdict=fate.verdict.value,
        )
    return BatchRun(
        source_id,
        claimed=len(batch.claims),
        posted=len(results),
        delivered=sum(1 for r in recorded if r.verdict is Verdict.DELIVERED),
        released=len(unposted),
        next_retry_at=min(retries) if retries else None,
    )


# Per process and batch thread: the deliverer runs several batches at once in threads, and each
# keeps DELIVERY_PARALLEL_REQUESTS requests of its own in flight, as a prefork process would.
_executors: dict[tuple[int, int, int], ThreadPoolExecutor] = {}


def _executor(threads: int) -> ThreadPoolExecutor:
    """This batch thread's request threads (started after fork, never carried across it)."""
    key = (os.getpid(), threading.get_ident(), threads)
    executor = _executors.get(key)
    if executor is None:
        executor = _executors[key] = ThreadPoolExecutor(
            max_workers=threads, thread_name_prefix="callbacks"
        )
    return executor


def close_executor() -> None:
    for key in [k for k in _executors if k[0] == os.getpid()]:
        _executors.pop(key).shutdown(wait=True)


def _post_in_waves(
    claims: tuple[Claim, ...],
    settings: Settings,
    started: float,
    client: httpx.Client | None,
) -> list[tuple[Claim, HttpOutcome]]:
    """POST claims in order, up to DELIVERY_PARALLEL_REQUESTS at a time; stop before a wave the
    lease could not cover, or after BREAKER_THRESHOLD retryable failures in a row (after a
    failure the waves shrink to what is left of the threshold, so none is overshot)."""
    total = TOTAL_TIMEOUT_SECONDS
    width = max(settings.delivery_parallel_requests, 1)

    def post(claim: Claim) -> HttpOutcome:
        return post_event(
            claim,
            client or http_client(claim.url),
            total_timeout=total,
            connect_timeout=min(CONNECT_TIMEOUT_SECONDS, total),
        )

    results: list[tuple[Claim, HttpOutcome]] = []
    failures_in_a_row = 0
    while len(results) < len(claims):
        if _lease_left(started) < total + LEASE_MARGIN_SECONDS:
            break
        size = width if not failures_in_a_row else min(width, BREAKER_THRESHOLD - failures_in_a_row)
        wave = claims[len(results) : len(results) + size]
        if len(wave) == 1:
            outcomes = [post(wave[0])]
        else:
            outcomes = list(_executor(width).map(post, wave))
        for claim, outcome in zip(wave, outcomes, strict=True):
            results.append((claim, outcome))
            failures_in_a_row = failures_in_a_row + 1 if outcome.retryable else 0
        if failures_in_a_row >= BREAKER_THRESHOLD:
            break
    return results


@shared_task(name=DELIVER_DUE, **DELIVERY_TASK_OPTIONS)  # type: ignore[untyped-decorator]
def deliver_due(self: Task[Any, Any], source_id: str) -> int:
    """Deliver a source's due events in rounds until none is due; returns how many delivered."""
    settings = get_settings()
    structlog.contextvars.bind_contextvars(source_id=source_id)
    client = get_redis(settings)
    key = armed_key(settings, source_id)
    delivered, disarmed, busy, next_retry = 0, False, False, None
    for _ in range(MAX_ROUNDS_PER_TASK):
        run = run_batch(source_id, settings)
        delivered += run.delivered
        if run.next_retry_at is not None:
            next_retry = min(next_retry or run.next_retry_at, run.next_retry_at)
        busy = run.claimed > 0
        if busy:
            _refresh(client, key)
            continue
        if disarmed:
            break
        # Nothing due: disarm, then look once more. A producer that found the key set before
        # this committed its event first, so the next round sees it.
        _disarm(client, key)
        disarmed = True
    if busy:
        # Still busy after MAX_ROUNDS_PER_TASK rounds: the rest in a fresh task, behind others.
        queue_task(self.app, DELIVER_DUE, source_id)
    if next_retry is not None and next_retry - datetime.now(UTC) <= COUNTDOWN_MAX:
        countdown = max((next_retry - datetime.now(UTC)).total_seconds(), 0.0)
        queue_task(self.app, DELIVER_DUE, source_id, countdown=countdown)
    return delivered


def _refresh(client: redis.Redis, key: str) -> None:
    try:
        client.expire(key, ARMED_TTL_SECONDS)
    except redis.RedisError:
        pass  # the key expires sooner: at worst a second batch is queued


def _disarm(client: redis.Redis, key: str) -> None:
    try:
        client.delete(key)
    except redis.RedisError:
        pass  # the key expires: events wait for its TTL or the sweeper, never longer
