"""When the scorer is down: what becomes of a comment it has not decided within its source's wait.

The sweeper (run by the beat, so it works with no scoring worker up) looks at comments still
pending `unscored_wait_seconds` after their current revision arrived. A fail-open source has
them approved provisionally (a decision by `system`, `provisional: true` in the callback); a
fail-closed source keeps them pending and tells the CMS with a `comment.unscored` event. Either
way the comment is marked (comments.unscored), shows in the moderators' Unscored tab, and its
scoring task stays queued: the model's decision, when a worker is back, replaces the mark.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from core.authors import active_sanction, author_key
from core.domain import Actor, Status, Unscored, UnscoredMode
from core.reasons import UnscoredReason
from core.store import record_decision
from core.tables import Comment, Revision, Source

# The shortest wait a source may set (core.sources.MIN_UNSCORED_WAIT_SECONDS).
SHORTEST_WAIT = timedelta(seconds=1)


def _waiting(cutoff: datetime) -> Select[Comment]:
    """Pending comments nobody marked unscored whose current revision arrived before cutoff."""
    return (
        select(Comment)
        .join(
            Revision,
            (Revision.comment_id == Comment.id) & (Revision.number == Comment.revision),
        )
        .where(
            Comment.status == Status.PENDING.value,
            Comment.unscored.is_(None),
            Revision.received_at < cutoff,
        )
    )


def overdue_comments(session: Session, source: Source, now: datetime, limit: int) -> list[Comment]:
    """A source's pending comments whose current revision arrived longer than its wait ago and
    that nobody marked unscored yet (oldest first)."""
    cutoff = now - timedelta(seconds=source.unscored_wait_seconds)
    return list(
        session.scalars(
            _waiting(cutoff)
            .where(Comment.source_id == source.id)
            .order_by(Revision.received_at, Comment.id)
            .limit(limit)
            .with_for_update(of=Comment, skip_locked=True)
        )
    )


def settle_unscored(session: Session, now: datetime, limit: int) -> tuple[list[str], list[str]]:
    """Approve provisionally (fail-open) or mark held (fail-closed) what waited too long.

    Returns (provisionally approved comment ids, event ids to deliver). A comment whose author
    is suspended or banned is never approved provisionally: it is held as under fail-closed.
    The caller commits, then queues the events.
    """
    approved: list[str] = []
    events: list[str] = []
    # Only the sources with a comment waiting at all: one query, however many sources there are.
    waiting = _waiting(now - SHORTEST_WAIT).with_only_columns(Comment.source_id).distinct()
    for source in session.scalars(
        select(Source).where(Source.id.in_(waiting.scalar_subquery())).order_by(Source.id)
    ):
        for comment in overdue_comments(session, source, now, limit - len(events)):
            fail_open = source.unscored_mode == UnscoredMode.OPEN.value and (
                active_sanction(session, source.id, author_key(comment), now) is None
            )
            status = Status.APPROVED if fail_open else Status.PENDING
            reason = UnscoredReason(wait_seconds=source.unscored_wait_seconds, outcome=status.value)
            _, event = record_decision(
                session,
                comment,
                status,
                actor=Actor.SYSTEM.value,
                reasons=[reason],
                unscored=Unscored.PROVISIONAL if fail_open else Unscored.HELD,
            )
            events.append(event.id)
            if fail_open:
                approved.append(comment.id)
        if len(events) >= limit:
            break
    return approved, events
