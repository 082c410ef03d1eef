"""Storage of decisions and the events (the outbox) that tell the CMS about them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from core.domain import Actor, EventType, Status, Unscored
from core.reasons import Reason
from core.statements import statement_of_reasons
from core.store.ids import new_id
from core.tables import Comment, Decision, Event, Source


def record_decision(
    session: Session,
    comment: Comment,
    status: Status,
    *,
    actor: str,
    reasons: Sequence[Reason],
    scores: Mapping[str, float] | None = None,
    model_version: str | None = None,
    policy: Mapping[str, Any] | None = None,
    moderator_id: int | None = None,
    reason_code: str | None = None,
    note: str | None = None,
    unscored: Unscored | None = None,
) -> tuple[Decision, Event]:
    """Change a comment's status and write the decision and its CMS event in the same transaction.

    The event row is the outbox: the caller commits, then queues its delivery; the sweeper
    queues any event left pending, so a crash between commit and queueing loses nothing.
    `unscored` marks the sweeper's decisions on a comment the scorer has not decided in time
    (core.unscored); any other decision clears the mark.
    """
    now = datetime.now(UTC)
    decision = _new_decision(
        session,
        comment,
        status,
        now,
        actor=actor,
        reasons=reasons,
        scores=scores,
        model_version=model_version,
        policy=policy,
        moderator_id=moderator_id,
        reason_code=reason_code,
        note=note,
        unscored=unscored,
    )
    session.flush()
    event = _new_event(session, comment, decision, status, now)
    session.flush()
    return decision, event


@dataclass(frozen=True)
class ModelDecision:
    """One comment's model decision, for record_model_decisions."""

    comment: Comment
    status: Status
    reasons: Sequence[Reason]
    scores: Mapping[str, float]
    policy: Mapping[str, Any]


def record_model_decisions(
    session: Session, decisions: Sequence[ModelDecision], model_version: str
) -> list[tuple[Decision, Event]]:
    """record_decision for a batch of model decisions, in two flushes instead of two per comment
    (the decisions' INSERT, then the events' that name them), in the caller's transaction."""
    now = datetime.now(UTC)
    rows = [
        (
            _new_decision(
                session,
                d.comment,
                d.status,
                now,
                actor=Actor.MODEL.value,
                reasons=d.reasons,
                scores=d.scores,
                model_version=model_version,
                policy=d.policy,
            ),
            d,
        )
        for d in decisions
    ]
    session.flush()
    recorded = [
        (decision, _new_event(session, d.comment, decision, d.status, now)) for decision, d in rows
    ]
    session.flush()
    return recorded


def _new_decision(
    session: Session,
    comment: Comment,
    status: Status,
    now: datetime,
    *,
    actor: str,
    reasons: Sequence[Reason],
    scores: Mapping[str, float] | None = None,
    model_version: str | None = None,
    policy: Mapping[str, Any] | None = None,
    moderator_id: int | None = None,
    reason_code: str | None = None,
    note: str | None = None,
    unscored: Unscored | None = None,
) -> Decision:
    """The decision row, added to the session, and the comment changed to match (not flushed)."""
    decision = Decision(
        comment=comment,
        revision=comment.revision,
        previous_status=comment.status,
        status=status.value,
        actor=actor,
        model_version=model_version,
        moderator_id=moderator_id,
        scores=dict(scores) if scores is not None else None,
        policy=dict(policy) if policy is not None else None,
        reasons=[r.to_json() for r in reasons],
        reason_code=reason_code,
        note=note,
        created_at=now,
    )
    if status is Status.REJECTED:
        # The decision is not in the session yet: nothing to flush before the lookups.
        with session.no_autoflush:
            decision.statement = _statement(session, comment, decision)
    comment.status = status.value
    # A comment held unscored (still pending) has not been decided.
    comment.decided_at = now if status is not Status.PENDING else None
    comment.unscored = unscored.value if unscored is not None else None
    comment.event_seq += 1
    if scores is not None:
        comment.scores = dict(scores)
    session.add(decision)
    return decision


def _new_event(
    session: Session, comment: Comment, decision: Decision, status: Status, now: datetime
) -> Event:
    """The outbox row of a flushed decision, added to the session."""
    event = Event(
        id=new_id("msg")[:36],
        source_id=comment.source_id,
        comment_id=comment.id,
        decision_id=decision.id,
        type=EventType.for_status(status).value,
        seq=comment.event_seq,
        payload=event_payload(comment, decision),
        created_at=now,
        next_attempt_at=now,
    )
    session.add(event)
    return event


def _statement(session: Session, comment: Comment, decision: Decision) -> dict[str, Any]:
    """A rejection's statement of reasons (core.statements). An undo back to a rejection
    restores the statement the author was given with it."""
    if any(r.get("kind") == "undo" for r in decision.reasons):
        earlier = session.scalar(
            select(Decision.statement)
            .where(
                Decision.comment_id == comment.id,
                Decision.status == Status.REJECTED.value,
                Decision.statement.is_not(None),
            )
            .order_by(Decision.id.desc())
            .limit(1)
        )
        if earlier:
            return dict(earlier)
    source = session.get(Source, comment.source_id)
    return statement_of_reasons(
        actor=decision.actor,
        reasons=decision.reasons,
        reason_code=decision.reason_code,
        templates=source.statement_templates if source is not None else None,
        appeal_url=source.appeal_url if source is not None else None,
        external_id=comment.external_id,
        comment_id=comment.id,
    )


def event_payload(comment: Comment, decision: Decision) -> dict[str, Any]:
    """The body POSTed to the CMS (documented in docs/cms-integration.md)."""
    return {
        "type": EventType.for_status(Status(decision.status)).value,
        "timestamp": decision.created_at.isoformat().replace("+00:00", "Z"),
        "data": {
            "id": comment.id,
            "external_id": comment.external_id,
            "source_id": comment.source_id,
            "seq": comment.event_seq,
            "revision": decision.revision,
            "status": decision.status,
            "previous_status": decision.previous_status,
            "scores": decision.scores or comment.scores,
            "reasons": decision.reasons,
            "decided_by": {
                "kind": decision.actor,
                "model_version": decision.model_version,
                "moderator_id": decision.moderator_id,
            },
            "decided_at": decision.created_at.isoformat().replace("+00:00", "Z"),
            "reason_code": decision.reason_code,
            "note": decision.note,
            # Set on a rejection, null otherwise (core.statements).
            "statement_of_reasons": decision.statement,
            # Approved by the sweeper because the scorer was down: decided again once scored.
            "provisional": comment.unscored == Unscored.PROVISIONAL.value,
        },
    }


def record_comment_event(
    session: Session,
    comment: Comment,
    event_type: EventType,
    data: Mapping[str, Any],
    now: datetime | None = None,
) -> Event:
    """An event about a comment that is no status change (comment.appeal_resolved), in the
    comment's seq order; outbox like the others."""
    now = now or datetime.now(UTC)
    comment.event_seq += 1
    event = Event(
        id=new_id("msg")[:36],
        source_id=comment.source_id,
        comment_id=comment.id,
        decision_id=None,
        type=event_type.value,
        seq=comment.event_seq,
        payload={
            "type": event_type.value,
            "timestamp": now.isoformat().replace("+00:00", "Z"),
            "data": {
                "id": comment.id,
                "external_id": comment.external_id,
                "source_id": comment.source_id,
                "seq": comment.event_seq,
                "status": comment.status,
                **data,
            },
        },
        created_at=now,
        next_attempt_at=now,
    )
    session.add(event)
    session.flush()
    return event


def record_author_event(
    session: Session,
    source_id: str,
    event_type: EventType,
    data: Mapping[str, Any],
    now: datetime | None = None,
) -> Event:
    """An event about an author (no comment, no decision), in the caller's transaction.

    Outbox like a decision's event: the caller commits, then queues its delivery.
    """
    now = now or datetime.now(UTC)
    stamp = now.isoformat().replace("+00:00", "Z")
    event = Event(
        id=new_id("msg")[:36],
        source_id=source_id,
        comment_id=None,
        decision_id=None,
        type=event_type.value,
        seq=0,
        payload={"type": event_type.value, "timestamp": stamp, "data": dict(data)},
        created_at=now,
        next_attempt_at=now,
    )
    session.add(event)
    session.flush()
    return event


def awaiting_model() -> ColumnElement[bool]:
    """Comments the model has yet to decide: pending, or approved provisionally (core.unscored)."""
    return or_(
        Comment.status == Status.PENDING.value,
        and_(
            Comment.status == Status.APPROVED.value,
            Comment.unscored == Unscored.PROVISIONAL.value,
        ),
    )


def stale_pending_ids(session: Session, older_than: timedelta, limit: int = 1000) -> list[str]:
    """Comments still awaiting the model after `older_than`: their scoring task was lost or
    delayed."""
    cutoff = datetime.now(UTC) - older_than
    rows = session.scalars(
        select(Comment.id)
        .where(awaiting_model(), Comment.updated_at < cutoff)
        .order_by(Comment.received_at)
        .limit(limit)
    )
    return list(rows)
