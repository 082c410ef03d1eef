"""What the sweeper picks up: work whose queue message was lost or never sent."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from core.author_data import apply_retention
from core.authors import expire_sanctions
from core.deliveries import due_event_ids
from core.store import awaiting_model, forget_webhooks_before, stale_pending_ids
from core.tables import Comment
from core.unscored import settle_unscored


@dataclass(frozen=True)
class StaleWork:
    """Ids to queue again, and how many old webhook ids were forgotten."""

    comment_ids: list[str]
    event_ids: list[str]
    webhooks_forgotten: int
    # Suspensions that ran out and were lifted (their author.reinstated events are in event_ids).
    sanctions_expired: int = 0
    # Comments whose IP address, user agent or body aged out (sources' retention_days).
    retention_erased: int = 0
    # Comments the scorer left undecided past their source's wait (core.unscored): approved
    # provisionally (fail-open), or held with a comment.unscored event (fail-closed).
    provisionally_approved: int = 0
    held_unscored: int = 0


def collect_stale_work(
    session: Session,
    *,
    stale_after: timedelta,
    event_grace: timedelta,
    webhook_memory: timedelta,
    limit: int,
) -> StaleWork:
    """Comments pending too long, events overdue; prunes webhook ids past the replay window and
    lifts suspensions that ran out (their author.reinstated events are due at once); erases
    what each source's retention period says is too old to keep; settles comments the scorer
    has not decided within their source's wait (core.unscored; their events are due at once).

    An event counts as overdue only `event_grace` after its next attempt time, which keeps the
    sweeper off events whose delivery task was queued a moment ago (a duplicate is harmless,
    core.deliveries claims each attempt, but needless).
    """
    now = datetime.now(UTC)
    reinstated = expire_sanctions(session, now, limit=limit)
    approved, unscored = settle_unscored(session, now, limit=limit)
    fresh = [*reinstated, *unscored]
    overdue = due_event_ids(session, now=now - event_grace, limit=limit)
    return StaleWork(
        comment_ids=stale_pending_ids(session, stale_after, limit=limit),
        event_ids=[*fresh, *(e for e in overdue if e not in fresh)],
        webhooks_forgotten=forget_webhooks_before(session, now - webhook_memory),
        sanctions_expired=len(reinstated),
        retention_erased=apply_retention(session, now, limit=limit),
        provisionally_approved=len(approved),
        held_unscored=len(unscored) - len(approved),
    )


def mark_requeued(session: Session, comment_ids: Sequence[str]) -> None:
    """Restart the stale clock of re-queued comments, so a backlog is not queued every sweep."""
    if not comment_ids:
        return
    session.execute(
        update(Comment)
        .where(Comment.id.in_(list(comment_ids)), awaiting_model())
        .values(updated_at=datetime.now(UTC))
        .execution_options(synchronize_session=False)
    )
