"""Task "worker.deliver_event": POST a decision event to the CMS, signed, and book the outcome.

The task is thin (Celery's advice): core.deliveries decides whether and when to POST and what an
outcome means; this module only signs, sends with httpx and queues what comes next. Long waits
are not Celery countdowns (Redis redelivers ETA tasks after its visibility timeout): the event's
next_attempt_at is stored and the sweeper re-sends due events; only short waits use a countdown.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from celery import Task, shared_task
from kombu.exceptions import KombuError
from sqlalchemy.exc import OperationalError
from standardwebhooks import Webhook

from core.db import session_scope
from core.deliveries import (
    Claim,
    HttpOutcome,
    Recorded,
    Skip,
    claim_delivery,
    parse_retry_after,
    record_outcome,
)
from core.settings import Settings, get_settings
from worker import DELIVER_EVENT
from worker.metrics import observe_callback

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECONDS = 5.0
TOTAL_TIMEOUT_SECONDS = 10.0
# Retries due within this long are queued with a countdown; later ones wait for the sweeper.
COUNTDOWN_MAX = timedelta(minutes=5)
# We read at most this much of a callback response: only its status matters.
MAX_RESPONSE_BYTES = 64 * 1024
USER_AGENT = "moderation-callbacks/1"

_clients: dict[int, httpx.Client] = {}


def http_client() -> httpx.Client:
    """This process's connection pool (built after fork, never carried across it)."""
    client = _clients.get(os.getpid())
    if client is None:
        client = _clients[os.getpid()] = httpx.Client(
            timeout=httpx.Timeout(TOTAL_TIMEOUT_SECONDS, connect=CONNECT_TIMEOUT_SECONDS),
            follow_redirects=False,
            headers={"user-agent": USER_AGENT},
            limits=httpx.Limits(max_connections=50, max_keepalive_connections=10),
        )
    return client


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
    client = client or http_client()
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
        log.info("delivery skipped", extra={"event_id": event_id, "reason": claim.value})
        return DeliveryRun(event_id=event_id, skipped=claim)
    outcome = post_event(claim, client)
    with session_scope(settings) as session:
        recorded = record_outcome(session, claim, outcome, now)
    observe_callback(outcome.status_code, failed=not outcome.succeeded)
    log.info(
        "delivery attempt",
        extra={
            "event_id": event_id,
            "comment_id": claim.comment_id,
            "source_id": claim.source_id,
            "attempt": claim.number,
            "status_code": outcome.status_code,
            "latency_ms": round(outcome.latency_ms, 1),
            "verdict": recorded.verdict.value,
        },
    )
    return DeliveryRun(
        event_id=event_id,
        attempt=claim.number,
        status_code=outcome.status_code,
        recorded=recorded,
    )


# Celery ships no type hints, so mypy sees the decorator as untyped.
@shared_task(  # type: ignore[untyped-decorator]
    bind=True,
    name=DELIVER_EVENT,
    acks_late=True,
    ignore_result=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_jitter=True,
    max_retries=10,
)
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
    for follow_up, countdown in follow_ups:
        try:
            self.app.send_task(
                DELIVER_EVENT,
                args=[follow_up],
                countdown=countdown or None,
            )
        except KombuError as exc:
            # The outcome is recorded and the event stays pending: the sweeper sends it when due.
            log.warning(
                "delivery follow-up not queued; the sweeper will",
                extra={"event_id": follow_up, "error": type(exc).__name__},
            )
    return run.recorded.verdict.value
