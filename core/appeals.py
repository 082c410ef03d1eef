"""Appeals: an author contests a rejection through the CMS; a second moderator decides.

One appeal per rejection (decision). Granting it approves the comment (a moderator decision with
an appeal reason); denying it leaves the rejection standing. Either way the CMS hears
comment.appeal_resolved. The moderator who made the rejection cannot decide its appeal.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from core.authors import iso
from core.domain import Actor, EventType, Status
from core.reasons import AppealReason
from core.store import record_comment_event, record_decision
from core.tables import Appeal, Comment, Decision, Event

log = structlog.stdlib.get_logger(__name__)

MAX_APPEAL_CHARS = 1500
MAX_NOTE_CHARS = 1000


class AppealState(enum.StrEnum):
    OPEN = "open"
    GRANTED = "granted"  # the comment is approved after all
    DENIED = "denied"  # the rejection stands


class AppealError(ValueError):
    """An appeal that cannot be received or decided; the message says why."""


class AppealNotFound(AppealError, LookupError):
    pass


class NotAppealable(AppealError):
    """The comment's standing decision is no rejection, or it was appealed already."""


class SameModerator(AppealError):
    """The moderator who rejected the comment cannot decide its appeal."""


class NotTheAuthor(AppealError):
    """The appeal names an author other than the comment's."""


def receive_appeal(
    session: Session,
    source_id: str,
    external_id: str,
    author_id: str,
    text: str,
    now: datetime | None = None,
) -> Appeal:
    """Store an author's appeal of the comment's standing rejection; the caller commits."""
    now = now or datetime.now(UTC)
    comment = session.scalar(
        select(Comment)
        .where(Comment.source_id == source_id, Comment.external_id == external_id)
        .with_for_update()
    )
    if comment is None:
        raise AppealNotFound(f"no comment {external_id!r} from this source")
    if comment.author_id is not None and comment.author_id != author_id:
        raise NotTheAuthor("author.id is not the comment's author")
    decision = session.scalar(
        select(Decision)
        .where(Decision.comment_id == comment.id)
        .order_by(Decision.id.desc())
        .limit(1)
    )
    if decision is None or decision.status != Status.REJECTED.value:
        raise NotAppealable("only a rejected comment can be appealed")
    appeal = Appeal(
        comment_id=comment.id,
        decision_id=decision.id,
        author_id=author_id,
        text=text.strip(),
        state=AppealState.OPEN.value,
        received_at=now,
    )
    try:
        with session.begin_nested():
            session.add(appeal)
            session.flush()
    except IntegrityError:
        raise NotAppealable("this rejection was appealed already") from None
    log.info("appeal received", comment_id=comment.id, appeal_id=appeal.id)
    return appeal


def list_appeals(
    session: Session,
    state: AppealState = AppealState.OPEN,
    limit: int = 100,
    source_id: str | None = None,
) -> list[Appeal]:
    """Appeals in a state (at one source, when given), oldest first, with their comments and
    decisions loaded."""
    query = select(Appeal).where(Appeal.state == state.value)
    if source_id is not None:
        query = query.join(Comment, Comment.id == Appeal.comment_id).where(
            Comment.source_id == source_id
        )
    return list(
        session.scalars(
            query.options(selectinload(Appeal.comment).selectinload(Comment.decisions))
            .order_by(Appeal.received_at, Appeal.id)
            .limit(limit)
        )
    )


def appeal_json(appeal: Appeal) -> dict[str, Any]:
    return {
        "id": appeal.id,
        "comment_id": appeal.comment_id,
        "decision_id": appeal.decision_id,
        "author_id": appeal.author_id,
        "text": appeal.text,
        "state": appeal.state,
        "received_at": iso(appeal.received_at),
        "resolved_at": iso(appeal.resolved_at),
        "resolved_by": appeal.resolved_by,
        "resolution_note": appeal.resolution_note,
    }


@dataclass(frozen=True)
class Resolution:
    appeal: Appeal
    events: list[Event]


def resolve_appeal(
    session: Session,
    appeal_id: int,
    user_id: int,
    outcome: AppealState,
    note: str | None = None,
    now: datetime | None = None,
) -> Resolution:
    """Grant (approve the comment) or deny an open appeal, as a moderator other than the one who
    rejected; the caller commits, then queues the events."""
    now = now or datetime.now(UTC)
    if outcome is AppealState.OPEN:
        raise AppealError("an appeal is granted or denied")
    if note is not None and len(note) > MAX_NOTE_CHARS:
        raise AppealError(f"the note is longer than {MAX_NOTE_CHARS} characters")
    appeal = session.scalar(select(Appeal).where(Appeal.id == appeal_id).with_for_update())
    if appeal is None:
        raise AppealNotFound(f"no appeal {appeal_id}")
    if appeal.state != AppealState.OPEN.value:
        raise NotAppealable(f"appeal {appeal_id} was {appeal.state} already")
    rejection = session.get_one(Decision, appeal.decision_id)
    if rejection.actor == Actor.MODERATOR.value and rejection.moderator_id == user_id:
        raise SameModerator("you rejected this comment: another moderator decides its appeal")
    comment = session.scalar(
        select(Comment).where(Comment.id == appeal.comment_id).with_for_update()
    )
    assert comment is not None
    events = []
    if outcome is AppealState.GRANTED:
        _, approved = record_decision(
            session,
            comment,
            Status.APPROVED,
            actor=Actor.MODERATOR.value,
            reasons=[AppealReason(appeal_id=appeal.id, outcome=Status.APPROVED.value)],
            moderator_id=user_id,
            note=note or None,
        )
        events.append(approved)
    appeal.state = outcome.value
    appeal.resolved_at = now
    appeal.resolved_by = user_id
    appeal.resolution_note = note or None
    events.append(
        record_comment_event(
            session,
            comment,
            EventType.APPEAL_RESOLVED,
            {
                "appeal": {
                    "id": appeal.id,
                    "decision_id": appeal.decision_id,
                    "outcome": outcome.value,
                    "received_at": iso(appeal.received_at),
                    "resolved_at": iso(now),
                    "note": appeal.resolution_note,
                }
            },
            now,
        )
    )
    log.info("appeal resolved", comment_id=comment.id, appeal_id=appeal.id, outcome=outcome.value)
    return Resolution(appeal, events)


@dataclass(frozen=True)
class AppealStats:
    """For /metrics: appeals by state, and the time from receipt to resolution."""

    counts: dict[str, int]
    resolved: int
    resolution_seconds: float


def appeal_stats(session: Session) -> AppealStats:
    counts = {s.value: 0 for s in AppealState}
    for state, count in session.execute(select(Appeal.state, func.count()).group_by(Appeal.state)):
        counts[state] = int(count)
    total = 0.0
    resolved = 0
    for received, decided in session.execute(
        select(Appeal.received_at, Appeal.resolved_at).where(Appeal.resolved_at.is_not(None))
    ):
        if decided is not None:
            total += (decided - received).total_seconds()
        resolved += 1
    return AppealStats(counts=counts, resolved=resolved, resolution_seconds=total)
