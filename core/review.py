"""Review use cases without Flask: queue, claims, moderator decisions, undo and the audit log."""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import Session, selectinload

from core.domain import LABELS, Actor, Status, Unscored
from core.reasons import APPROVE_REASONS, REJECT_REASONS, ModeratorReason, UndoReason
from core.store import record_decision
from core.tables import Comment, CommentNote, Decision, Event, Source, User

# A claim keeps other moderators off an item for this long unless it is released or decided.
CLAIM_DURATION = timedelta(minutes=5)
# A moderator may take back their own decision for this long.
UNDO_WINDOW = timedelta(seconds=10)
# The label filter keeps comments scoring at least this much on the label.
LABEL_FILTER_MIN_SCORE = 0.5
MAX_PER_PAGE = 100
MAX_BULK = 100
MAX_NOTE_CHARS = 1000

UNDO_REASON_CODE = "undo"
# The reject reason a page suggests for a comment's highest-scoring label.
SUGGESTED_REJECT_REASON: dict[str, str] = {
    "toxic": "toxic",
    "identity_hate": "hate",
    "threat": "threat",
    "spam": "spam",
}
REVIEWABLE = (Status.APPROVED, Status.REJECTED)


class ReviewError(Exception):
    """A review request that cannot be carried out; the message is fit for the moderator."""


class CommentNotFound(ReviewError):
    pass


class ClaimedByOther(ReviewError):
    pass


class InvalidDecision(ReviewError):
    pass


class UndoRefused(ReviewError):
    pass


# The queue's tab of comments the scorer has not decided in time (QueueFilters.unscored).
UNSCORED_TAB = "unscored"


class Sort(enum.StrEnum):
    RISK = "risk"
    AGE = "age"


@dataclass(frozen=True)
class QueueFilters:
    """What the moderator asked to see."""

    status: Status = Status.FLAGGED
    # The Unscored tab instead of a status: comments the scorer has not decided within their
    # source's wait, held pending or approved provisionally (core.unscored).
    unscored: bool = False
    sort: Sort = Sort.RISK
    source: str | None = None
    thread: str | None = None
    label: str | None = None
    author: str | None = None
    page: int = 1
    per_page: int = 20

    @property
    def tab(self) -> str:
        """The tab shown: a status, or "unscored"."""
        return UNSCORED_TAB if self.unscored else self.status.value


@dataclass(frozen=True)
class QueuePage:
    items: list[Comment]
    total: int
    # Per status: comments this moderator can see, and those others hold a live claim on (in
    # no count above, as nobody else may decide them meanwhile).
    counts: dict[str, int]
    page: int
    per_page: int
    held: dict[str, int] = field(default_factory=dict)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


@dataclass(frozen=True)
class AuditFilters:
    actor: str | None = None
    status: str | None = None
    moderator: str | None = None
    source: str | None = None
    comment: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    page: int = 1
    per_page: int = 50


# How much of a comment's text an audit row shows (the page and the CSV alike).
AUDIT_EXCERPT_CHARS = 200


@dataclass(frozen=True)
class AuditComment:
    """What an audit reader needs to know which comment a decision was about."""

    excerpt: str
    author_name: str
    author_id: str | None
    source_id: str
    source_name: str
    thread_id: str
    thread_title: str | None


@dataclass(frozen=True)
class AuditRow:
    """One decision with the names a reader needs: who (model version or moderator), when, why,
    and on what (the comment's text, shortened, its author, source and thread)."""

    decision: Decision
    moderator_email: str | None
    comment: AuditComment


@dataclass(frozen=True)
class AuditPage:
    rows: list[AuditRow]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


@dataclass
class BulkOutcome:
    decided: list[tuple[Decision, Event]] = field(default_factory=list)
    # comment id -> why it was left alone
    skipped: dict[str, str] = field(default_factory=dict)
    # Comments an undo gave back to the model (pending or approved provisionally): the caller
    # queues their scoring after the commit (the sweeper re-queues any it could not).
    awaiting_model: list[str] = field(default_factory=list)


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def risk_expression(dialect: str) -> ColumnElement[float]:
    """The highest label score of a comment, in SQL (0 when unscored)."""
    parts = [func.coalesce(Comment.scores[label].as_float(), 0.0) for label in LABELS]
    if dialect == "sqlite":
        return func.max(*parts)
    return func.greatest(*parts)


def risk_of(comment: Comment) -> float | None:
    if not comment.scores:
        return None
    return max(float(v) for v in comment.scores.values())


def _visible_to(viewer_id: int, now: datetime) -> ColumnElement[bool]:
    """Items nobody else holds a live claim on."""
    return or_(
        Comment.claimed_by.is_(None),
        Comment.claimed_by == viewer_id,
        Comment.claimed_until.is_(None),
        Comment.claimed_until < now,
    )


# Any SELECT, whatever its columns: the filters only add WHERE clauses.
AnySelect = TypeVar("AnySelect", bound="Select[*tuple[Any, ...]]")


def _filtered(query: AnySelect, filters: QueueFilters, dialect: str) -> AnySelect:
    if filters.source:
        query = query.where(Comment.source_id == filters.source)
    if filters.thread:
        query = query.where(Comment.thread_id == filters.thread)
    if filters.author:
        query = query.where(
            or_(Comment.author_id == filters.author, Comment.author_name == filters.author)
        )
    if filters.label:
        if filters.label not in LABELS:
            raise InvalidDecision(f"unknown label {filters.label!r}")
        query = query.where(
            func.coalesce(Comment.scores[filters.label].as_float(), 0.0) >= LABEL_FILTER_MIN_SCORE
        )
    return query


def list_queue(
    session: Session, filters: QueueFilters, viewer_id: int, now: datetime | None = None
) -> QueuePage:
    """One page of comments in a status, hiding those another moderator has claimed."""
    now = _now(now)
    dialect = session.get_bind().dialect.name
    if filters.thread and not filters.source:
        _refuse_an_ambiguous_thread(session, filters.thread)
    per_page = max(1, min(filters.per_page, MAX_PER_PAGE))
    page = max(1, filters.page)
    visible = _visible_to(viewer_id, now)

    base = _filtered(select(Comment).where(visible), filters, dialect)
    in_tab = (
        Comment.unscored.is_not(None)
        if filters.unscored
        else Comment.status == filters.status.value
    )
    query = base.where(in_tab)
    if filters.sort is Sort.RISK:
        query = query.order_by(
            risk_expression(dialect).desc(), Comment.received_at.asc(), Comment.id
        )
    else:
        query = query.order_by(Comment.received_at.asc(), Comment.id)
    # The page shows each comment's latest reasons: load the decisions in one more query.
    query = query.options(selectinload(Comment.decisions))
    items = list(session.scalars(query.limit(per_page).offset((page - 1) * per_page)))

    counts = _status_counts(session, filters, dialect, visible)
    everyone = _status_counts(session, filters, dialect, None)
    held = {status: everyone[status] - counts[status] for status in counts}
    return QueuePage(
        items=items,
        total=counts[filters.tab],
        counts=counts,
        page=page,
        per_page=per_page,
        held=held,
    )


def _refuse_an_ambiguous_thread(session: Session, thread: str) -> None:
    """Thread ids are each CMS's own: two sources may both have an "article-3", and a filter by
    it alone would mix their articles. Without a source, a thread must belong to one."""
    query = select(Comment.source_id).where(Comment.thread_id == thread).distinct().limit(2)
    if len(list(session.scalars(query))) > 1:
        raise InvalidDecision(
            f"thread {thread!r} is at more than one source: pick its source too "
            "(thread ids are per source)"
        )


def _status_counts(
    session: Session, filters: QueueFilters, dialect: str, visible: ColumnElement[bool] | None
) -> dict[str, int]:
    query = select(Comment.status, func.count())
    if visible is not None:
        query = query.where(visible)
    counts = {status.value: 0 for status in Status}
    for status, count in session.execute(
        _filtered(query, filters, dialect).group_by(Comment.status)
    ):
        counts[status] = int(count)
    unscored = select(func.count()).select_from(Comment).where(Comment.unscored.is_not(None))
    if visible is not None:
        unscored = unscored.where(visible)
    counts[UNSCORED_TAB] = int(session.scalar(_filtered(unscored, filters, dialect)) or 0)
    return counts


# Comment ids are short ASCII ("cmt_" + hex); anything else cannot name one (and PostgreSQL
# refuses NUL in text outright, so it must not reach a query).
MAX_ID_CHARS = 64


def _plausible_id(comment_id: str) -> bool:
    return 0 < len(comment_id) <= MAX_ID_CHARS and "\x00" not in comment_id


def get_comment(session: Session, comment_id: str) -> Comment:
    if not _plausible_id(comment_id):
        raise CommentNotFound(f"no comment {comment_id!r}")
    comment = session.get(Comment, comment_id)
    if comment is None:
        raise CommentNotFound(f"no comment {comment_id}")
    return comment


def parent_of(session: Session, comment: Comment) -> Comment | None:
    """The comment this one replies to, for context (same source)."""
    if not comment.parent_external_id:
        return None
    return session.scalar(
        select(Comment).where(
            Comment.source_id == comment.source_id,
            Comment.external_id == comment.parent_external_id,
        )
    )


def parents_of(session: Session, comments: Sequence[Comment]) -> dict[str, Comment]:
    """Parents of many comments in one query: comment id -> parent."""
    wanted = {(c.source_id, c.parent_external_id) for c in comments if c.parent_external_id}
    if not wanted:
        return {}
    rows = session.scalars(
        select(Comment).where(
            or_(*(and_(Comment.source_id == s, Comment.external_id == e) for s, e in wanted))
        )
    )
    by_key = {(p.source_id, p.external_id): p for p in rows}
    return {
        c.id: by_key[(c.source_id, c.parent_external_id)]
        for c in comments
        if c.parent_external_id and (c.source_id, c.parent_external_id) in by_key
    }


def author_comments(session: Session, comment: Comment, limit: int = 100) -> list[Comment]:
    """Every comment by the same author at the same source, newest first (this one included)."""
    same_author = (
        Comment.author_id == comment.author_id
        if comment.author_id
        else Comment.author_email == comment.author_email
    )
    return list(
        session.scalars(
            select(Comment)
            .where(Comment.source_id == comment.source_id, same_author)
            .options(selectinload(Comment.decisions))
            .order_by(Comment.received_at.desc(), Comment.id)
            .limit(limit)
        )
    )


@dataclass(frozen=True)
class AuthorHistory:
    """A comment's author at its source: their comments (newest first) and how they ended."""

    comment: Comment
    comments: list[Comment]
    outcomes: dict[str, int]


def author_history(session: Session, comment_id: str) -> AuthorHistory:
    comment = get_comment(session, comment_id)
    comments = author_comments(session, comment)
    outcomes = {s.value: 0 for s in Status}
    for other in comments:
        outcomes[other.status] = outcomes.get(other.status, 0) + 1
    return AuthorHistory(comment=comment, comments=comments, outcomes=outcomes)


def latest_reasons(comment: Comment) -> list[dict[str, Any]]:
    """Why the comment is where it is: the reasons of its latest decision."""
    return list(comment.decisions[-1].reasons) if comment.decisions else []


def _claimed_by_other(comment: Comment, user_id: int, now: datetime) -> bool:
    return (
        comment.claimed_by is not None
        and comment.claimed_by != user_id
        and comment.claimed_until is not None
        and comment.claimed_until >= now
    )


def _locked(session: Session, comment_id: str) -> Comment:
    if not _plausible_id(comment_id):
        raise CommentNotFound(f"no comment {comment_id!r}")
    comment = session.scalar(select(Comment).where(Comment.id == comment_id).with_for_update())
    if comment is None:
        raise CommentNotFound(f"no comment {comment_id}")
    return comment


def claim(session: Session, comment_id: str, user_id: int, now: datetime | None = None) -> Comment:
    """Hold a comment for this moderator for CLAIM_DURATION; refused while another holds it."""
    now = _now(now)
    comment = _locked(session, comment_id)
    if _claimed_by_other(comment, user_id, now):
        raise ClaimedByOther("another moderator is reviewing this comment")
    comment.claimed_by = user_id
    comment.claimed_until = now + CLAIM_DURATION
    session.flush()
    return comment


def release(session: Session, comment_id: str, user_id: int) -> Comment:
    """Give a claim back early; releasing someone else's claim changes nothing."""
    comment = _locked(session, comment_id)
    if comment.claimed_by == user_id:
        comment.claimed_by = None
        comment.claimed_until = None
        session.flush()
    return comment


def check_reason(status: Status, reason_code: str | None, note: str | None) -> None:
    """A rejection needs a known reason code; an approval may carry one; notes are bounded."""
    if status not in REVIEWABLE:
        raise InvalidDecision("a moderator can approve or reject")
    allowed = REJECT_REASONS if status is Status.REJECTED else APPROVE_REASONS
    if status is Status.REJECTED and not reason_code:
        raise InvalidDecision("a rejection needs a reason code")
    if reason_code and reason_code not in allowed:
        raise InvalidDecision(f"reason code must be one of {', '.join(allowed)} for {status.value}")
    if note is not None and len(note) > MAX_NOTE_CHARS:
        raise InvalidDecision(f"the note is longer than {MAX_NOTE_CHARS} characters")


def _decide_locked(
    session: Session,
    comment: Comment,
    user_id: int,
    status: Status,
    reason_code: str | None,
    note: str | None,
) -> tuple[Decision, Event]:
    decision, event = record_decision(
        session,
        comment,
        status,
        actor=Actor.MODERATOR.value,
        reasons=[ModeratorReason(reason_code=reason_code, outcome=status.value)],
        moderator_id=user_id,
        reason_code=reason_code,
        note=note or None,
    )
    comment.claimed_by = None
    comment.claimed_until = None
    return decision, event


def decide(
    session: Session,
    comment_id: str,
    user_id: int,
    status: Status,
    reason_code: str | None = None,
    note: str | None = None,
    now: datetime | None = None,
) -> tuple[Decision, Event]:
    """Record a moderator's decision like the model's (decision + outbox event); frees the claim.

    The caller commits, then queues worker.deliver_event with the event id.
    """
    check_reason(status, reason_code, note)
    now = _now(now)
    comment = _locked(session, comment_id)
    if _claimed_by_other(comment, user_id, now):
        raise ClaimedByOther("another moderator is reviewing this comment")
    return _decide_locked(session, comment, user_id, status, reason_code, note)


def bulk_decide(
    session: Session,
    comment_ids: Sequence[str],
    user_id: int,
    status: Status,
    reason_code: str | None = None,
    note: str | None = None,
    now: datetime | None = None,
) -> BulkOutcome:
    """Decide many comments at once; those missing or held by another moderator are skipped."""
    check_reason(status, reason_code, note)
    if len(comment_ids) > MAX_BULK:
        raise InvalidDecision(f"at most {MAX_BULK} comments at once")
    now = _now(now)
    outcome = BulkOutcome()
    for comment_id in dict.fromkeys(comment_ids):
        comment = (
            session.scalar(select(Comment).where(Comment.id == comment_id).with_for_update())
            if _plausible_id(comment_id)
            else None
        )
        if comment is None:
            outcome.skipped[comment_id] = "not found"
        elif _claimed_by_other(comment, user_id, now):
            outcome.skipped[comment_id] = "claimed by another moderator"
        else:
            outcome.decided.append(
                _decide_locked(session, comment, user_id, status, reason_code, note)
            )
    return outcome


@dataclass(frozen=True)
class Verdict:
    """What a moderator decided: the new status, why, and an optional note."""

    status: Status
    reason_code: str | None = None
    note: str | None = None


def decide_comments(
    session: Session,
    comment_ids: Sequence[str],
    user_id: int,
    verdict: Verdict,
    *,
    bulk: bool = False,
    now: datetime | None = None,
) -> BulkOutcome:
    """A moderator's verdict on one comment (refused when missing or claimed by another) or on
    many at once (those skipped instead); the API and the pages both decide through this."""
    how = (verdict.status, verdict.reason_code, verdict.note, now)
    if bulk:
        return bulk_decide(session, comment_ids, user_id, *how)
    (comment_id,) = comment_ids
    return BulkOutcome(decided=[decide(session, comment_id, user_id, *how)])


def _latest_decision_id(session: Session, comment_id: str) -> int | None:
    return session.scalar(select(func.max(Decision.id)).where(Decision.comment_id == comment_id))


def _undo_refusal(session: Session, decision: Decision, user_id: int, now: datetime) -> str | None:
    if decision.moderator_id != user_id or decision.actor != Actor.MODERATOR.value:
        return "only your own decisions can be undone"
    if decision.reason_code == UNDO_REASON_CODE:
        return "an undo cannot be undone"
    if now - decision.created_at > UNDO_WINDOW:
        return f"decisions can be undone for {int(UNDO_WINDOW.total_seconds())} seconds"
    if _latest_decision_id(session, decision.comment_id) != decision.id:
        return "the comment was decided again since"
    return None


def _mark_before(session: Session, decision: Decision) -> Unscored | None:
    """The comment's unscored mark (core.unscored) just before `decision`: set by the sweeper's
    decision on the same revision, restored by an undo of a later one, cleared by any other."""
    earlier = session.scalar(
        select(Decision)
        .where(Decision.comment_id == decision.comment_id, Decision.id < decision.id)
        .order_by(Decision.id.desc())
        .limit(1)
    )
    if earlier is None or earlier.revision != decision.revision:
        return None
    if earlier.actor == Actor.SYSTEM.value and earlier.status in (
        Status.APPROVED.value,
        Status.PENDING.value,
    ):
        return Unscored.PROVISIONAL if earlier.status == Status.APPROVED.value else Unscored.HELD
    if earlier.reason_code == UNDO_REASON_CODE:
        undone = next((r["undoes"] for r in earlier.reasons if r.get("kind") == "undo"), None)
        taken_back = session.get(Decision, undone) if undone is not None else None
        return _mark_before(session, taken_back) if taken_back is not None else None
    return None


MAX_DECISION_ID = 2**31 - 1


def undo(
    session: Session,
    user_id: int,
    decision_ids: Sequence[int] | None = None,
    now: datetime | None = None,
) -> BulkOutcome:
    """Take back this moderator's last action (or the given decisions) within UNDO_WINDOW.

    History is append-only: each undo is a new decision back to the previous status, with its
    own event for the CMS. A comment the model had not decided yet (pending, held or approved
    provisionally, core.unscored) goes back to awaiting it, marked as it was: the caller queues
    its scoring (outcome.awaiting_model), so the model decides it as if no one had.
    """
    now = _now(now)
    if decision_ids:
        # Ids are 32-bit in the database: a larger one names no decision (and must not reach
        # PostgreSQL, which refuses to compare with it).
        wanted = [i for i in decision_ids if 0 < i <= MAX_DECISION_ID]
        targets = list(session.scalars(select(Decision).where(Decision.id.in_(wanted))))
    else:
        last = session.scalar(
            select(Decision)
            .where(
                Decision.moderator_id == user_id,
                Decision.actor == Actor.MODERATOR.value,
                or_(Decision.reason_code.is_(None), Decision.reason_code != UNDO_REASON_CODE),
            )
            .order_by(Decision.id.desc())
            .limit(1)
        )
        targets = [last] if last is not None else []
    if not targets:
        raise UndoRefused("nothing to undo")
    outcome = BulkOutcome()
    for decision in sorted(targets, key=lambda d: d.id):
        refusal = _undo_refusal(session, decision, user_id, now)
        if refusal is not None:
            outcome.skipped[decision.comment_id] = refusal
            continue
        comment = _locked(session, decision.comment_id)
        previous = Status(decision.previous_status)
        mark = _mark_before(session, decision)
        outcome.decided.append(
            record_decision(
                session,
                comment,
                previous,
                actor=Actor.MODERATOR.value,
                reasons=[UndoReason(undoes=decision.id, outcome=decision.previous_status)],
                moderator_id=user_id,
                reason_code=UNDO_REASON_CODE,
                unscored=mark,
            )
        )
        if previous is Status.PENDING or mark is Unscored.PROVISIONAL:
            outcome.awaiting_model.append(comment.id)
    if not outcome.decided:
        raise UndoRefused("; ".join(sorted(set(outcome.skipped.values()))))
    return outcome


_AUDIT_COMMENT_COLUMNS = (
    # One character more than shown, so the row knows whether the text was cut.
    func.substr(Comment.body, 1, AUDIT_EXCERPT_CHARS + 1),
    Comment.author_name,
    Comment.author_id,
    Comment.source_id,
    Source.name,
    Comment.thread_id,
    Comment.thread_title,
)


def _audit_query(filters: AuditFilters) -> Select[Any]:
    query = (
        select(Decision, User.email, *_AUDIT_COMMENT_COLUMNS)
        .outerjoin(User, User.id == Decision.moderator_id)
        .join(Comment, Comment.id == Decision.comment_id)
        .join(Source, Source.id == Comment.source_id)
    )
    if filters.actor:
        query = query.where(Decision.actor == filters.actor)
    if filters.status:
        query = query.where(Decision.status == filters.status)
    if filters.moderator:
        query = query.where(func.lower(User.email) == filters.moderator.strip().lower())
    if filters.source:
        query = query.where(Comment.source_id == filters.source)
    if filters.comment:
        query = query.where(
            or_(Comment.id == filters.comment, Comment.external_id == filters.comment)
        )
    if filters.since:
        query = query.where(Decision.created_at >= filters.since)
    if filters.until:
        query = query.where(Decision.created_at < filters.until)
    return query


def audit(session: Session, filters: AuditFilters) -> AuditPage:
    """Every decision, model or person, newest first, filtered and paginated."""
    per_page = max(1, min(filters.per_page, 500))
    page = max(1, filters.page)
    query = _audit_query(filters)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.execute(
        query.order_by(Decision.id.desc()).limit(per_page).offset((page - 1) * per_page)
    )
    return AuditPage(
        rows=[_audit_row(row) for row in rows],
        total=int(total),
        page=page,
        per_page=per_page,
    )


def iter_audit(session: Session, filters: AuditFilters, batch: int = 1000) -> Iterator[AuditRow]:
    """Every matching decision, oldest first, in batches (for the CSV export)."""
    last_id = 0
    query = _audit_query(filters)
    while True:
        rows = list(
            session.execute(
                query.where(Decision.id > last_id).order_by(Decision.id.asc()).limit(batch)
            )
        )
        if not rows:
            return
        for row in rows:
            yield _audit_row(row)
        last_id = rows[-1][0].id


def _audit_row(row: Any) -> AuditRow:
    decision, email, body, *names = row
    excerpt = body if len(body) <= AUDIT_EXCERPT_CHARS else body[: AUDIT_EXCERPT_CHARS - 1] + "…"
    return AuditRow(decision=decision, moderator_email=email, comment=AuditComment(excerpt, *names))


def highlight_segments(text: str, spans: Sequence[Sequence[int]] | None) -> list[tuple[str, bool]]:
    """Cut text at highlight offsets: [(piece, highlighted)], overlaps merged, bad spans dropped."""
    cleaned: list[tuple[int, int]] = []
    for span in spans or ():
        if len(span) < 2:
            continue
        start, end = max(0, int(span[0])), min(len(text), int(span[1]))
        if start < end:
            cleaned.append((start, end))
    merged: list[tuple[int, int]] = []
    for start, end in sorted(cleaned):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    segments: list[tuple[str, bool]] = []
    cursor = 0
    for start, end in merged:
        if start > cursor:
            segments.append((text[cursor:start], False))
        segments.append((text[start:end], True))
        cursor = end
    if cursor < len(text) or not segments:
        segments.append((text[cursor:], False))
    return segments


def suggested_reject_reason(scores: Mapping[str, Any] | None) -> str:
    """The reject reason matching the comment's highest label score, for one-key rejection."""
    if not scores:
        return "other"
    label = max(scores, key=lambda k: float(scores[k]))
    return SUGGESTED_REJECT_REASON.get(label, "other")


@dataclass(frozen=True)
class Note:
    """A moderator's note on a comment, for whoever looks at it next."""

    id: int
    comment_id: str
    author: str
    body: str
    created_at: datetime


def add_note(
    session: Session, comment_id: str, user_id: int, body: str, now: datetime | None = None
) -> Note:
    text = body.strip()
    if not text:
        raise InvalidDecision("a note needs some text")
    if len(text) > MAX_NOTE_CHARS:
        raise InvalidDecision(f"a note has at most {MAX_NOTE_CHARS} characters")
    comment = get_comment(session, comment_id)
    note = CommentNote(comment_id=comment.id, user_id=user_id, body=text, created_at=_now(now))
    session.add(note)
    session.flush()
    return notes_for(session, [comment.id])[comment.id][-1]


def notes_for(session: Session, comment_ids: Sequence[str]) -> dict[str, list[Note]]:
    """Each comment's notes, oldest first (every id present, most with none)."""
    found: dict[str, list[Note]] = {comment_id: [] for comment_id in comment_ids}
    if not comment_ids:
        return found
    rows = session.execute(
        select(CommentNote, User.email)
        .join(User, User.id == CommentNote.user_id)
        .where(CommentNote.comment_id.in_(list(comment_ids)))
        .order_by(CommentNote.id)
    )
    for note, email in rows:
        found[note.comment_id].append(
            Note(note.id, note.comment_id, email, note.body, note.created_at)
        )
    return found


def holders(session: Session, now: datetime | None = None) -> dict[str, list[str]]:
    """Who holds a live claim on which comments: {moderator e-mail: [comment ids]}."""
    now = _now(now)
    rows = session.execute(
        select(User.email, Comment.id)
        .join(User, User.id == Comment.claimed_by)
        .where(Comment.claimed_until > now)
        .order_by(User.email, Comment.id)
    )
    held: dict[str, list[str]] = {}
    for email, comment_id in rows:
        held.setdefault(email, []).append(comment_id)
    return held


def moderator_emails(session: Session, ids: Sequence[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(session.execute(select(User.id, User.email).where(User.id.in_(list(ids)))).all())
