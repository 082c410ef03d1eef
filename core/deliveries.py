"""Callback delivery bookkeeping, without Celery or HTTP: claim, record, retry, dead, redeliver.

The worker's task is thin: it claims an attempt here, POSTs, and records the outcome here. Every
decision about *whether* and *when* to POST lives in this module so it can be tested against a
real database with an explicit clock.

Concurrency: an attempt is claimed with a conditional UPDATE (state still pending, attempts
unchanged, due) that also pushes next_attempt_at forward by CLAIM_LEASE. Two runs of the same
event (a countdown retry and the sweeper, say) therefore never both POST; a worker that dies
mid-POST leaves the lease to expire and the sweeper sends the event again.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import ColumnElement, and_, exists, func, select, update
from sqlalchemy.orm import Session, aliased

from core.domain import DeliveryState
from core.tables import DeliveryAttempt, Event, Source

# Delay before retry n (after attempt n failed): about a day and a quarter in all.
RETRY_DELAYS: tuple[timedelta, ...] = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
# Each delay is spread by up to this fraction either way, so retries of many events do not
# arrive at a recovering endpoint in one burst.
RETRY_JITTER = 0.2
# A claimed attempt owns the event this long; longer than the 10 s HTTP budget.
CLAIM_LEASE = timedelta(seconds=60)
# Statuses that say "try again later"; every other 4xx is permanent.
RETRYABLE_4XX = frozenset({408, 409, 425, 429})
# A Retry-After is honoured up to this long (a day's budget must not be spent on one wait).
MAX_RETRY_AFTER = timedelta(hours=10)
# After this many retryable failures in a row, a source's events are parked, not tried.
BREAKER_THRESHOLD = 5
# How long the breaker stays open, by how many failures past the threshold it has seen.
BREAKER_COOLDOWNS: tuple[timedelta, ...] = (
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(minutes=30),
    timedelta(hours=1),
)
ERROR_MAX_CHARS = 500


class EventNotFound(LookupError):
    """No event with that id."""

    def __str__(self) -> str:
        return f"no event with id {self.args[0]!r}"


class RedeliveryRefused(ValueError):
    """The event is still pending: it will be (or is being) delivered already."""


class Skip(enum.StrEnum):
    """Why a run of deliver_event did not POST."""

    NOT_FOUND = "not-found"
    FINISHED = "finished"  # delivered or dead
    NOT_DUE = "not-due"  # scheduled later, or another run holds the lease
    NO_CALLBACK_URL = "no-callback-url"
    WAITING_FOR_EARLIER = "waiting-for-earlier"  # a lower seq of the same comment is pending
    CIRCUIT_OPEN = "circuit-open"
    CLAIMED_ELSEWHERE = "claimed-elsewhere"


@dataclass(frozen=True)
class Claim:
    """One attempt this run owns: what to POST, where, signed with which secrets."""

    event_id: str
    source_id: str
    comment_id: str | None
    seq: int
    number: int
    url: str
    secrets: tuple[str, ...]
    payload: dict[str, Any]
    claimed_at: datetime


@dataclass(frozen=True)
class HttpOutcome:
    """What came of one POST: a status code, or an error before any response."""

    status_code: int | None
    latency_ms: float
    error: str | None = None
    retry_after: timedelta | None = None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def retryable(self) -> bool:
        if self.status_code is None:
            return True
        if 400 <= self.status_code < 500:
            return self.status_code in RETRYABLE_4XX
        return not self.succeeded


class Verdict(enum.StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"
    DEAD = "dead"


@dataclass(frozen=True)
class Recorded:
    """The event's fate after an attempt, and the events that may go now (next seq)."""

    verdict: Verdict
    next_attempt_at: datetime | None
    follow_up_ids: tuple[str, ...] = ()


def _now(now: datetime | None) -> datetime:
    return now if now is not None else datetime.now(UTC)


def retry_delay(failed_attempts: int, rng: random.Random | None = None) -> timedelta:
    """The jittered wait after `failed_attempts` failures in a row (1 -> about 5 s)."""
    base = RETRY_DELAYS[min(max(failed_attempts, 1), len(RETRY_DELAYS)) - 1]
    factor = 1 + (rng or random).uniform(-RETRY_JITTER, RETRY_JITTER)
    return base * factor


def parse_retry_after(value: str | None, now: datetime | None = None) -> timedelta | None:
    """A Retry-After header (delay-seconds or HTTP-date) as a delay; None when absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return timedelta(seconds=int(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(when - _now(now), timedelta(0))


def _breaker_cooldown(consecutive_failures: int) -> timedelta:
    index = min(max(consecutive_failures - BREAKER_THRESHOLD, 0), len(BREAKER_COOLDOWNS) - 1)
    return BREAKER_COOLDOWNS[index]


def signing_secrets(source: Source, now: datetime | None = None) -> tuple[str, ...]:
    """The current secret, plus the previous one while a rotation's overlap lasts."""
    now = _now(now)
    if (
        source.previous_secret
        and source.previous_secret_expires_at is not None
        and source.previous_secret_expires_at > now
    ):
        return (source.secret, source.previous_secret)
    return (source.secret,)


def _defer(session: Session, event: Event, until: datetime | None) -> None:
    """Move a pending event's next attempt, unless another run claimed it meanwhile."""
    session.execute(
        update(Event)
        .where(
            Event.id == event.id,
            Event.state == DeliveryState.PENDING.value,
            Event.attempts == event.attempts,
        )
        .values(next_attempt_at=until)
        .execution_options(synchronize_session=False)
    )


def _earlier_of(event: Event) -> ColumnElement[bool]:
    """A pending event of the same comment with a lower seq."""
    return and_(
        Event.comment_id == event.comment_id,
        Event.seq < event.seq,
        Event.state == DeliveryState.PENDING.value,
    )


def _earlier_pending(session: Session, event: Event) -> Event | None:
    """The lowest pending event before this one, locked: an outcome being recorded for it
    (record_outcome locks it too) is waited for, so its re-arming of this event is not lost."""
    if event.comment_id is None:  # an author event: no comment's order to keep
        return None
    return session.scalar(
        select(Event).where(_earlier_of(event)).order_by(Event.seq).limit(1).with_for_update()
    )


def _defer_behind(session: Session, event: Event, until: datetime) -> bool:
    """Defer this event while an earlier one is still pending, checked as the row is written
    (SQLite reads outside the write lock: the earlier one may have been settled since, and its
    re-arming of this one must not be overwritten). False: nothing is pending before it now."""
    earlier = aliased(Event)
    result = session.execute(
        update(Event)
        .where(
            Event.id == event.id,
            Event.state == DeliveryState.PENDING.value,
            Event.attempts == event.attempts,
            exists().where(
                earlier.comment_id == event.comment_id,
                earlier.seq < event.seq,
                earlier.state == DeliveryState.PENDING.value,
            ),
        )
        .values(next_attempt_at=until)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0) == 1


def _take_probe(session: Session, source: Source, now: datetime) -> bool:
    """With the breaker tripped and its cooldown over, let exactly one attempt through."""
    result = session.execute(
        update(Source)
        .where(
            Source.id == source.id,
            Source.consecutive_failures >= BREAKER_THRESHOLD,
            (Source.circuit_open_until.is_(None)) | (Source.circuit_open_until <= now),
        )
        .values(circuit_open_until=now + CLAIM_LEASE)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0) == 1


def claim_delivery(session: Session, event_id: str, now: datetime | None = None) -> Claim | Skip:
    """Claim the next attempt of an event, or say why not to POST now. The caller commits."""
    now = _now(now)
    event = session.get(Event, event_id, populate_existing=True)
    if event is None:
        return Skip.NOT_FOUND
    if event.state != DeliveryState.PENDING.value:
        return Skip.FINISHED
    if event.next_attempt_at is None or event.next_attempt_at > now:
        return Skip.NOT_DUE
    source = session.get(Source, event.source_id, populate_existing=True)
    if source is None or not source.callback_url:
        # Parked until a callback URL is set (core.sources.update_source re-arms it).
        _defer(session, event, None)
        return Skip.NO_CALLBACK_URL

    earlier = _earlier_pending(session, event)
    if earlier is not None:
        # Keep seq order per comment: this one goes when the earlier one is settled
        # (record_outcome re-arms it then; the sweeper is the fallback).
        wait_until = max(earlier.next_attempt_at or now, now) + timedelta(seconds=1)
        if _defer_behind(session, event, wait_until):
            return Skip.WAITING_FOR_EARLIER
        # The earlier one was settled meanwhile: this one goes now.

    if source.consecutive_failures >= BREAKER_THRESHOLD:
        open_until = source.circuit_open_until
        if (open_until is not None and open_until > now) or not _take_probe(session, source, now):
            session.refresh(source)
            _defer(session, event, max(source.circuit_open_until or now, now))
            return Skip.CIRCUIT_OPEN

    result = session.execute(
        update(Event)
        .where(
            Event.id == event.id,
            Event.state == DeliveryState.PENDING.value,
            Event.attempts == event.attempts,
            Event.next_attempt_at <= now,
        )
        .values(attempts=Event.attempts + 1, next_attempt_at=now + CLAIM_LEASE)
        .execution_options(synchronize_session=False)
    )
    if int(getattr(result, "rowcount", 0) or 0) != 1:
        return Skip.CLAIMED_ELSEWHERE
    return Claim(
        event_id=event.id,
        source_id=source.id,
        comment_id=event.comment_id,
        seq=event.seq,
        number=event.attempts + 1,
        url=source.callback_url,
        secrets=signing_secrets(source, now),
        payload=dict(event.payload),
        claimed_at=now,
    )


def _next_of_comment(session: Session, event: Event, now: datetime) -> tuple[str, ...]:
    """Re-arm the next pending event of the same comment (it waited for this one)."""
    if event.comment_id is None:
        return ()
    following = session.scalar(
        select(Event)
        .where(
            Event.comment_id == event.comment_id,
            Event.seq > event.seq,
            Event.state == DeliveryState.PENDING.value,
        )
        .order_by(Event.seq)
        .limit(1)
    )
    if following is None:
        return ()
    if following.next_attempt_at is None or following.next_attempt_at > now:
        _defer(session, following, now)
    return (following.id,)


def _attempt_row(claim: Claim, outcome: HttpOutcome) -> DeliveryAttempt:
    """The audit row of one attempt: what was sent where, and what came back."""
    return DeliveryAttempt(
        event_id=claim.event_id,
        number=claim.number,
        url=claim.url,
        status_code=outcome.status_code,
        latency_ms=round(outcome.latency_ms, 1),
        error=(outcome.error or None) and outcome.error[:ERROR_MAX_CHARS],
        started_at=claim.claimed_at,
    )


def record_outcome(
    session: Session,
    claim: Claim,
    outcome: HttpOutcome,
    now: datetime | None = None,
    rng: random.Random | None = None,
) -> Recorded:
    """Store the attempt and move the event on: delivered, retried later, or dead."""
    now = _now(now)
    session.add(_attempt_row(claim, outcome))
    event = session.get(Event, claim.event_id, with_for_update=True, populate_existing=True)
    if event is None:  # pragma: no cover - events are never deleted
        raise EventNotFound(claim.event_id)
    source = session.get(Source, claim.source_id, with_for_update=True, populate_existing=True)
    assert source is not None

    if outcome.succeeded:
        event.state = DeliveryState.DELIVERED.value
        event.delivered_at = now
        event.next_attempt_at = None
        source.consecutive_failures = 0
        source.circuit_open_until = None
        verdict, next_at = Verdict.DELIVERED, None
    elif outcome.retryable:
        source.consecutive_failures += 1
        failed_this_round = event.attempts - event.attempts_before_redelivery
        if failed_this_round >= MAX_ATTEMPTS:
            event.state = DeliveryState.DEAD.value
            event.next_attempt_at = None
            verdict, next_at = Verdict.DEAD, None
        else:
            delay = outcome.retry_after
            if delay is not None:
                delay = min(max(delay, timedelta(seconds=1)), MAX_RETRY_AFTER)
            else:
                delay = retry_delay(failed_this_round, rng)
            next_at = now + delay
            event.next_attempt_at = next_at
            verdict = Verdict.RETRY
        if source.consecutive_failures >= BREAKER_THRESHOLD:
            open_until = now + _breaker_cooldown(source.consecutive_failures)
            if next_at is not None:
                open_until = max(open_until, next_at)
            source.circuit_open_until = open_until
    else:
        # A permanent refusal (410 Gone, 400, 404...): retrying would only repeat it.
        event.state = DeliveryState.DEAD.value
        event.next_attempt_at = None
        verdict, next_at = Verdict.DEAD, None

    session.flush()
    follow_ups = _next_of_comment(session, event, now) if verdict is not Verdict.RETRY else ()
    return Recorded(verdict=verdict, next_attempt_at=next_at, follow_up_ids=follow_ups)


@dataclass(frozen=True)
class ClaimedBatch:
    """The attempts one batch run owns for a source (in the order to POST them), or why none."""

    claims: tuple[Claim, ...]
    skipped: Skip | None = None
    # Due events held back because an earlier seq of their comment is still pending.
    waiting: int = 0


def _defer_due(session: Session, ids: Sequence[str], until: datetime | None, now: datetime) -> None:
    """Move the next attempt of due pending events, unless another run claimed them meanwhile."""
    session.execute(
        update(Event)
        .where(
            Event.id.in_(list(ids)),
            Event.state == DeliveryState.PENDING.value,
            Event.next_attempt_at <= now,
        )
        .values(next_attempt_at=until)
        .execution_options(synchronize_session=False)
    )


def _lowest_pending_seq(session: Session, events: Sequence[Event]) -> dict[str, int]:
    comment_ids = {e.comment_id for e in events if e.comment_id is not None}
    if not comment_ids:
        return {}
    rows = session.execute(
        select(Event.comment_id, func.min(Event.seq))
        .where(Event.comment_id.in_(comment_ids), Event.state == DeliveryState.PENDING.value)
        .group_by(Event.comment_id)
    )
    return {str(comment_id): int(seq) for comment_id, seq in rows}


def claim_due(
    session: Session, source_id: str, limit: int, now: datetime | None = None
) -> ClaimedBatch:
    """Claim the next attempt of up to `limit` due events of one source, longest due first.

    The rules of claim_delivery hold for each event: only the lowest pending seq of a comment
    goes (a later one waits, even when the earlier is in this batch: the earlier one's record
    re-arms it, so one batch never holds two events of a comment); an open breaker claims
    nothing and a cooled-down one lets exactly one probe through; each claim is a lease. One
    SELECT of the due events, one of their comments' lowest pending seq, one claiming UPDATE.
    The caller commits.
    """
    now = _now(now)
    source = session.get(Source, source_id, populate_existing=True)
    if source is None:
        return ClaimedBatch((), Skip.NOT_FOUND)
    due = list(
        session.scalars(
            select(Event)
            .where(
                Event.source_id == source_id,
                Event.state == DeliveryState.PENDING.value,
                Event.next_attempt_at <= now,
            )
            .order_by(Event.next_attempt_at, Event.seq, Event.id)
            .limit(limit)
            .execution_options(populate_existing=True)
        )
    )
    if not due:
        return ClaimedBatch(())
    if not source.callback_url:
        _defer_due(session, [e.id for e in due], None, now)
        return ClaimedBatch((), Skip.NO_CALLBACK_URL)

    lowest = _lowest_pending_seq(session, due)
    ready: list[Event] = []
    waiting = 0
    for event in due:
        if event.comment_id is not None and event.seq > lowest.get(event.comment_id, event.seq):
            earlier = _earlier_pending(session, event)
            if earlier is not None:
                in_batch = any(e.id == earlier.id for e in ready)
                earlier_at = now + CLAIM_LEASE if in_batch else earlier.next_attempt_at or now
                _defer(session, event, max(earlier_at, now) + timedelta(seconds=1))
                waiting += 1
                continue
        ready.append(event)
    if not ready:
        return ClaimedBatch((), Skip.WAITING_FOR_EARLIER, waiting)

    if source.consecutive_failures >= BREAKER_THRESHOLD:
        open_until = source.circuit_open_until
        if (open_until is not None and open_until > now) or not _take_probe(session, source, now):
            session.refresh(source)
            until = max(source.circuit_open_until or now, now)
            _defer_due(session, [e.id for e in ready], until, now)
            return ClaimedBatch((), Skip.CIRCUIT_OPEN, waiting)
        ready = ready[:1]

    claimed = session.execute(
        update(Event)
        .where(
            Event.id.in_([e.id for e in ready]),
            Event.state == DeliveryState.PENDING.value,
            Event.next_attempt_at <= now,
        )
        .values(attempts=Event.attempts + 1, next_attempt_at=now + CLAIM_LEASE)
        .returning(Event.id, Event.attempts)
        .execution_options(synchronize_session=False)
    )
    numbers = {event_id: int(number) for event_id, number in claimed}
    secrets = signing_secrets(source, now)
    claims = tuple(
        Claim(
            event_id=event.id,
            source_id=source.id,
            comment_id=event.comment_id,
            seq=event.seq,
            number=numbers[event.id],
            url=source.callback_url,
            secrets=secrets,
            payload=dict(event.payload),
            claimed_at=now,
        )
        for event in ready
        if event.id in numbers
    )
    skipped = None if claims else Skip.CLAIMED_ELSEWHERE
    return ClaimedBatch(claims, skipped, waiting)


def release_claims(session: Session, claims: Sequence[Claim], now: datetime | None = None) -> None:
    """Give back attempts claimed but never POSTed (a batch that stopped early): due at once,
    their attempt count as before. The caller commits."""
    now = _now(now)
    for claim in claims:
        session.execute(
            update(Event)
            .where(
                Event.id == claim.event_id,
                Event.state == DeliveryState.PENDING.value,
                Event.attempts == claim.number,
            )
            .values(attempts=Event.attempts - 1, next_attempt_at=now)
            .execution_options(synchronize_session=False)
        )


def _record_all_delivered(
    session: Session, results: Sequence[tuple[Claim, HttpOutcome]], now: datetime
) -> list[Recorded]:
    """record_outcome's success branch for many events at once (the common case)."""
    session.add_all(_attempt_row(claim, outcome) for claim, outcome in results)
    session.execute(
        update(Event)
        .where(Event.id.in_([claim.event_id for claim, _ in results]))
        .values(state=DeliveryState.DELIVERED.value, delivered_at=now, next_attempt_at=None)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(Source)
        .where(
            Source.id.in_({claim.source_id for claim, _ in results}),
            (Source.consecutive_failures != 0) | Source.circuit_open_until.is_not(None),
        )
        .values(consecutive_failures=0, circuit_open_until=None)
        .execution_options(synchronize_session=False)
    )
    session.flush()
    # Re-arm the next pending event of each comment (it waited for this one).
    seqs = {claim.comment_id: claim.seq for claim, _ in results if claim.comment_id is not None}
    following: dict[str, Event] = {}
    if seqs:
        for event in session.scalars(
            select(Event)
            .where(Event.comment_id.in_(list(seqs)), Event.state == DeliveryState.PENDING.value)
            .order_by(Event.comment_id, Event.seq)
            .execution_options(populate_existing=True)
        ):
            comment_id = event.comment_id
            assert comment_id is not None
            if event.seq > seqs[comment_id] and comment_id not in following:
                following[comment_id] = event
        for event in following.values():
            if event.next_attempt_at is None or event.next_attempt_at > now:
                _defer(session, event, now)
    return [
        Recorded(
            verdict=Verdict.DELIVERED,
            next_attempt_at=None,
            follow_up_ids=(following[claim.comment_id].id,)
            if claim.comment_id in following
            else (),
        )
        for claim, _ in results
    ]


def record_outcomes(
    session: Session,
    results: Sequence[tuple[Claim, HttpOutcome]],
    now: datetime | None = None,
    rng: random.Random | None = None,
) -> list[Recorded]:
    """record_outcome for each attempt of a batch, in POST order, in the caller's transaction."""
    now = _now(now)
    if results and all(outcome.succeeded for _, outcome in results):
        return _record_all_delivered(session, results, now)
    return [record_outcome(session, claim, outcome, now, rng) for claim, outcome in results]


def sources_of_events(session: Session, event_ids: Sequence[str]) -> list[str]:
    """The sources these events belong to (the sweeper queues one batch per source)."""
    if not event_ids:
        return []
    rows = session.scalars(select(Event.source_id).where(Event.id.in_(list(event_ids))).distinct())
    return sorted(rows)


def redeliver(session: Session, event_id: str, now: datetime | None = None) -> Event:
    """Send a dead (or already delivered) event again: pending now, with a fresh retry budget."""
    now = _now(now)
    event = session.get(Event, event_id, with_for_update=True, populate_existing=True)
    if event is None:
        raise EventNotFound(event_id)
    if event.state == DeliveryState.PENDING.value:
        raise RedeliveryRefused(f"event {event_id} is still pending; it will be delivered")
    event.state = DeliveryState.PENDING.value
    event.attempts_before_redelivery = event.attempts
    event.next_attempt_at = now
    event.delivered_at = None
    # Redelivering by hand says "the endpoint is fixed": let the next attempt through as the
    # breaker's probe instead of parking it behind an old cooldown.
    source = session.get(Source, event.source_id, with_for_update=True)
    if source is not None and source.circuit_open_until is not None:
        source.circuit_open_until = None
    session.flush()
    return event


def due_event_ids(session: Session, now: datetime | None = None, limit: int = 500) -> list[str]:
    """Pending events whose next attempt time has passed (what the sweeper re-sends)."""
    rows = session.scalars(
        select(Event.id)
        .where(Event.state == DeliveryState.PENDING.value, Event.next_attempt_at <= _now(now))
        .order_by(Event.next_attempt_at)
        .limit(limit)
    )
    return list(rows)


class DeliverySummary(BaseModel):
    """An event as the CLI, the admin API (its schema) and the deliveries page list it."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(description="Event id, also the webhook-id header of every attempt")
    source_id: str
    comment_id: str | None = Field(description="null for an author event (author.*)")
    type: str
    seq: int
    state: DeliveryState
    attempts: int
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime
    last_status_code: int | None
    last_error: str | None

    def as_json(self) -> dict[str, Any]:
        """Times in ISO 8601, UTC as Z: what the CLI prints and the API answers."""
        return self.model_dump(mode="json")


def list_deliveries(
    session: Session,
    *,
    state: str | None = None,
    source_id: str | None = None,
    event_id: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[DeliverySummary]:
    """Events newest first, each with its last attempt's status and error."""
    query = select(Event).order_by(Event.created_at.desc(), Event.id).limit(limit).offset(offset)
    if state is not None:
        query = query.where(Event.state == state)
    if source_id is not None:
        query = query.where(Event.source_id == source_id)
    if event_id is not None:
        query = query.where(Event.id == event_id)
    events = list(session.scalars(query.execution_options(populate_existing=True)))
    last: dict[str, DeliveryAttempt] = {}
    if events:
        latest = (
            select(DeliveryAttempt.event_id, func.max(DeliveryAttempt.number).label("n"))
            .where(DeliveryAttempt.event_id.in_([e.id for e in events]))
            .group_by(DeliveryAttempt.event_id)
            .subquery()
        )
        for attempt in session.scalars(
            select(DeliveryAttempt).join(
                latest,
                (DeliveryAttempt.event_id == latest.c.event_id)
                & (DeliveryAttempt.number == latest.c.n),
            )
        ):
            last[attempt.event_id] = attempt
    return [
        DeliverySummary(
            id=e.id,
            source_id=e.source_id,
            comment_id=e.comment_id,
            type=e.type,
            seq=e.seq,
            state=DeliveryState(e.state),
            attempts=e.attempts,
            next_attempt_at=e.next_attempt_at,
            delivered_at=e.delivered_at,
            created_at=e.created_at,
            last_status_code=last[e.id].status_code if e.id in last else None,
            last_error=last[e.id].error if e.id in last else None,
        )
        for e in events
    ]


def attempts_of(session: Session, event_id: str) -> Sequence[DeliveryAttempt]:
    """Every attempt of an event, in order."""
    if session.get(Event, event_id) is None:
        raise EventNotFound(event_id)
    return list(
        session.scalars(
            select(DeliveryAttempt)
            .where(DeliveryAttempt.event_id == event_id)
            .order_by(DeliveryAttempt.number, DeliveryAttempt.id)
        )
    )
