"""Suspensions and bans of authors, per source: who, why, until when, and what they change.

An author is named as the CMS names them: their id, or their e-mail address for a CMS that sends
no author id. While a sanction lasts, the model's decision on that author's comments is
rejected or held for a person (the source's `sanctioned_comments`), with a reason saying so.
Each sanction and each lift is an event for the CMS (author.suspended, author.banned,
author.reinstated); the sanction rows, never deleted, are the audit trail.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import ColumnElement, and_, func, or_, select, tuple_
from sqlalchemy.orm import Session

from core.domain import EventType, Status
from core.policy import Outcome
from core.reasons import SanctionReason, TrustReason
from core.sources import get_source
from core.store import record_author_event
from core.tables import AuthorSanction, Comment, Event, Report, Source

log = structlog.stdlib.get_logger(__name__)

MAX_REASON_CHARS = 1000
MAX_AUTHOR_ID_CHARS = 320
MAX_SUSPENSION = timedelta(days=3650)
# lifted_by of a sanction that ran out (the sweeper lifts it).
EXPIRY = "expiry"


class SanctionKind(enum.StrEnum):
    SUSPENSION = "suspension"
    BAN = "ban"


class SanctionedComments(enum.StrEnum):
    """What a source does with a comment by a sanctioned author."""

    REJECT = "reject"
    HOLD = "hold"


class AuthorError(ValueError):
    """A request about an author that cannot be carried out; the message says why."""


class InvalidSanction(AuthorError):
    pass


class NotSanctioned(AuthorError):
    """Reinstating an author nobody suspended or banned."""


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def author_key(comment: Comment) -> str:
    """How sanctions, exports and erasure name a comment's author."""
    return comment.author_id or comment.author_email


def by_author(source_id: str, author_id: str) -> ColumnElement[bool]:
    """Comments of one author at one source: by id, or by e-mail where the CMS sent no id."""
    return and_(
        Comment.source_id == source_id,
        or_(
            Comment.author_id == author_id,
            and_(Comment.author_id.is_(None), Comment.author_email == author_id),
        ),
    )


class UnknownSource(AuthorError):
    """No source with that name or id (or several with that name)."""


def source_named(session: Session, name_or_id: str) -> str:
    """The id of the source the CLI names by its id or its name."""
    found = list(
        session.scalars(
            select(Source.id).where(or_(Source.id == name_or_id, Source.name == name_or_id))
        )
    )
    if name_or_id in found:
        return name_or_id
    if len(found) != 1:
        several = "several sources are" if found else "no source is"
        raise UnknownSource(f"{several} named {name_or_id!r}; give its id")
    return found[0]


def check_author_id(author_id: str) -> str:
    if not author_id or len(author_id) > MAX_AUTHOR_ID_CHARS or "\x00" in author_id:
        raise InvalidSanction(f"an author id is 1 to {MAX_AUTHOR_ID_CHARS} characters, without NUL")
    return author_id


def _check_reason(reason: str) -> str:
    reason = reason.strip()
    if not reason:
        raise InvalidSanction("say why: a reason is required")
    if len(reason) > MAX_REASON_CHARS or "\x00" in reason:
        raise InvalidSanction(f"the reason must be at most {MAX_REASON_CHARS} characters")
    return reason


def is_active(sanction: AuthorSanction, now: datetime) -> bool:
    return sanction.lifted_at is None and (sanction.ends_at is None or sanction.ends_at > now)


def active_sanction(
    session: Session, source_id: str, author_id: str, now: datetime | None = None
) -> AuthorSanction | None:
    """The sanction in force on this author now, if any (the latest one)."""
    now = now or datetime.now(UTC)
    return session.scalar(
        select(AuthorSanction)
        .where(
            AuthorSanction.source_id == source_id,
            AuthorSanction.author_id == author_id,
            AuthorSanction.lifted_at.is_(None),
            or_(AuthorSanction.ends_at.is_(None), AuthorSanction.ends_at > now),
        )
        .order_by(AuthorSanction.id.desc())
        .limit(1)
    )


def active_sanctions(
    session: Session, comments: Sequence[Comment], now: datetime | None = None
) -> dict[tuple[str, str], AuthorSanction]:
    """active_sanction of each comment's author, in one query: {(source id, author): sanction}."""
    now = now or datetime.now(UTC)
    authors = {(c.source_id, author_key(c)) for c in comments}
    if not authors:
        return {}
    found: dict[tuple[str, str], AuthorSanction] = {}
    rows = session.scalars(
        select(AuthorSanction)
        .where(
            tuple_(AuthorSanction.source_id, AuthorSanction.author_id).in_(sorted(authors)),
            AuthorSanction.lifted_at.is_(None),
            or_(AuthorSanction.ends_at.is_(None), AuthorSanction.ends_at > now),
        )
        .order_by(AuthorSanction.id)
    )
    # Ordered by id, so the latest one of each author wins, as in active_sanction.
    for sanction in rows:
        found[(sanction.source_id, sanction.author_id)] = sanction
    return found


def sanctions_of(session: Session, source_id: str, author_id: str) -> list[AuthorSanction]:
    """Every sanction of this author at this source, newest first."""
    return list(
        session.scalars(
            select(AuthorSanction)
            .where(AuthorSanction.source_id == source_id, AuthorSanction.author_id == author_id)
            .order_by(AuthorSanction.id.desc())
        )
    )


def sanction_json(sanction: AuthorSanction, now: datetime | None = None) -> dict[str, Any]:
    """A sanction as the API, the CLI and the author's export show it."""
    now = now or datetime.now(UTC)
    return {
        "id": sanction.id,
        "source_id": sanction.source_id,
        "author_id": sanction.author_id,
        "kind": sanction.kind,
        "reason": sanction.reason,
        "created_by": sanction.created_by,
        "created_at": iso(sanction.created_at),
        "ends_at": iso(sanction.ends_at),
        "active": is_active(sanction, now),
        "lifted_at": iso(sanction.lifted_at),
        "lifted_by": sanction.lifted_by,
        "lift_reason": sanction.lift_reason,
    }


def _event_data(sanction: AuthorSanction) -> dict[str, Any]:
    """What the CMS hears of a sanction (not who of our moderators made it)."""
    data: dict[str, Any] = {
        "source_id": sanction.source_id,
        "author_id": sanction.author_id,
        "sanction": {
            "id": sanction.id,
            "kind": sanction.kind,
            "reason": sanction.reason,
            "starts_at": iso(sanction.created_at),
            "ends_at": iso(sanction.ends_at),
        },
    }
    if sanction.lifted_at is not None:
        data["sanction"]["lifted_at"] = iso(sanction.lifted_at)
        data["sanction"]["lifted"] = "expiry" if sanction.lifted_by == EXPIRY else "moderator"
        data["sanction"]["lift_reason"] = sanction.lift_reason
    return data


@dataclass(frozen=True)
class SanctionChange:
    """A sanction as it stands after a change, and the event telling the CMS."""

    sanction: AuthorSanction
    event: Event


def sanction_author(
    session: Session,
    source_id: str,
    author_id: str,
    kind: SanctionKind,
    reason: str,
    by: str,
    duration: timedelta | None = None,
    now: datetime | None = None,
) -> SanctionChange:
    """Suspend an author for `duration` or ban them for good; the caller commits, then queues
    the event. A sanction in force is replaced (lifted, saying by which)."""
    now = now or datetime.now(UTC)
    author_id = check_author_id(author_id)
    reason = _check_reason(reason)
    if kind is SanctionKind.SUSPENSION:
        if duration is None or not timedelta(0) < duration <= MAX_SUSPENSION:
            raise InvalidSanction("a suspension lasts from a moment to 3650 days")
        ends_at: datetime | None = now + duration
    else:
        if duration is not None:
            raise InvalidSanction("a ban has no end; suspend for a period instead")
        ends_at = None
    get_source(session, source_id)
    current = active_sanction(session, source_id, author_id, now)
    sanction = AuthorSanction(
        source_id=source_id,
        author_id=author_id,
        kind=kind.value,
        reason=reason,
        created_by=by,
        created_at=now,
        ends_at=ends_at,
    )
    session.add(sanction)
    session.flush()
    if current is not None:
        current.lifted_at = now
        current.lifted_by = by
        current.lift_reason = f"replaced by {kind.value} {sanction.id}"
    event_type = EventType.AUTHOR_BANNED if kind is SanctionKind.BAN else EventType.AUTHOR_SUSPENDED
    event = record_author_event(session, source_id, event_type, _event_data(sanction), now)
    log.info(
        "author sanctioned",
        source_id=source_id,
        sanction_id=sanction.id,
        kind=kind.value,
        ends_at=iso(ends_at),
        event_id=event.id,
    )
    return SanctionChange(sanction, event)


def _lift(
    session: Session, sanction: AuthorSanction, by: str, reason: str | None, at: datetime
) -> Event:
    sanction.lifted_at = at
    sanction.lifted_by = by
    sanction.lift_reason = reason
    session.flush()
    return record_author_event(
        session, sanction.source_id, EventType.AUTHOR_REINSTATED, _event_data(sanction), at
    )


def reinstate_author(
    session: Session,
    source_id: str,
    author_id: str,
    by: str,
    reason: str,
    now: datetime | None = None,
) -> SanctionChange:
    """Lift the sanction in force by hand; the caller commits, then queues the event."""
    now = now or datetime.now(UTC)
    author_id = check_author_id(author_id)
    reason = _check_reason(reason)
    get_source(session, source_id)
    current = active_sanction(session, source_id, author_id, now)
    if current is None:
        raise NotSanctioned(f"author {author_id!r} is neither suspended nor banned")
    event = _lift(session, current, by, reason, now)
    log.info("author reinstated", source_id=source_id, sanction_id=current.id, event_id=event.id)
    return SanctionChange(current, event)


def expire_sanctions(session: Session, now: datetime | None = None, limit: int = 500) -> list[str]:
    """Lift suspensions whose end has passed (the sweeper); the ids of their reinstated events."""
    now = now or datetime.now(UTC)
    expired = session.scalars(
        select(AuthorSanction)
        .where(
            AuthorSanction.lifted_at.is_(None),
            AuthorSanction.ends_at.is_not(None),
            AuthorSanction.ends_at <= now,
        )
        .order_by(AuthorSanction.ends_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    event_ids = []
    for sanction in list(expired):
        assert sanction.ends_at is not None
        event_ids.append(
            _lift(session, sanction, EXPIRY, "the suspension ended", sanction.ends_at).id
        )
        log.info("suspension expired", source_id=sanction.source_id, sanction_id=sanction.id)
    return event_ids


_RANK = {Status.APPROVED: 0, Status.FLAGGED: 1, Status.REJECTED: 2}


def sanctioned_outcome(
    session: Session,
    comment: Comment,
    source: Source,
    outcome: Outcome,
    now: datetime | None = None,
    sanctions: Mapping[tuple[str, str], AuthorSanction] | None = None,
) -> Outcome:
    """The model's outcome, made stricter when the author is suspended or banned: rejected, or
    held for a person (at least flagged), as the source says, with the reason why.
    `sanctions`: active_sanctions already read for a batch (no query then)."""
    sanction = (
        sanctions.get((source.id, author_key(comment)))
        if sanctions is not None
        else active_sanction(session, source.id, author_key(comment), now)
    )
    if sanction is None:
        return outcome
    wanted = (
        Status.FLAGGED
        if source.sanctioned_comments == SanctionedComments.HOLD.value
        else Status.REJECTED
    )
    status = max(outcome.status, wanted, key=_RANK.__getitem__)
    reason = SanctionReason(
        sanction=SanctionKind(sanction.kind).value,
        sanction_id=sanction.id,
        until=iso(sanction.ends_at),
        outcome=status.value,
    )
    # "Nothing called for a flag" is no longer true once the sanction did.
    kept = [r for r in outcome.reasons if r.to_json()["kind"] != "below_thresholds"]
    return Outcome(status=status, reasons=[*kept, reason])


@dataclass(frozen=True)
class AuthorRecord:
    """An author's record at a source: how their comments ended, and readers' reports on them."""

    approved: int = 0
    rejected: int = 0
    reported: int = 0
    upheld: int = 0

    def as_json(self) -> dict[str, int]:
        return {
            "approved": self.approved,
            "rejected": self.rejected,
            "reported": self.reported,
            "upheld": self.upheld,
        }


def _key_column() -> ColumnElement[str]:
    return func.coalesce(Comment.author_id, Comment.author_email)


def author_records(session: Session, comments: Sequence[Comment]) -> dict[str, AuthorRecord]:
    """The record of each comment's author at its source, by comment id (two grouped queries)."""
    keys = {(c.source_id, author_key(c)) for c in comments}
    if not keys:
        return {}
    sources = {s for s, _ in keys}
    key = _key_column()
    counts: dict[tuple[str, str], dict[str, int]] = {k: {} for k in keys}
    for source_id, author, status, count in session.execute(
        select(Comment.source_id, key, Comment.status, func.count())
        .where(Comment.source_id.in_(sources), key.in_([a for _, a in keys]))
        .group_by(Comment.source_id, key, Comment.status)
    ):
        counts.setdefault((source_id, author), {})[status] = int(count)
    for source_id, author, state, count in session.execute(
        select(Comment.source_id, key, Report.state, func.count())
        .join(Report, Report.comment_id == Comment.id)
        .where(Comment.source_id.in_(sources), key.in_([a for _, a in keys]))
        .group_by(Comment.source_id, key, Report.state)
    ):
        bucket = counts.setdefault((source_id, author), {})
        bucket["reported"] = bucket.get("reported", 0) + int(count)
        if state == "upheld":
            bucket["upheld"] = int(count)
    records = {
        k: AuthorRecord(
            approved=v.get(Status.APPROVED.value, 0),
            rejected=v.get(Status.REJECTED.value, 0),
            reported=v.get("reported", 0),
            upheld=v.get("upheld", 0),
        )
        for k, v in counts.items()
    }
    return {c.id: records.get((c.source_id, author_key(c)), AuthorRecord()) for c in comments}


def trusted_outcome(
    session: Session, comment: Comment, source: Source, outcome: Outcome
) -> Outcome:
    """Pre-moderation: a newcomer's (fewer approved comments than the source requires) approval
    becomes a flag for a person, with a reason saying so."""
    required = source.premoderate_below
    if required <= 0 or outcome.status is not Status.APPROVED:
        return outcome
    approved = int(
        session.scalar(
            select(func.count()).where(
                by_author(source.id, author_key(comment)),
                Comment.status == Status.APPROVED.value,
            )
        )
        or 0
    )
    if approved >= required:
        return outcome
    reason = TrustReason(approved=approved, required=required, outcome=Status.FLAGGED.value)
    kept = [r for r in outcome.reasons if r.to_json()["kind"] != "below_thresholds"]
    return Outcome(status=Status.FLAGGED, reasons=[*kept, reason])
