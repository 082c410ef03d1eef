"""Reader reports: forwarded by the CMS, weighed by the reporter's record, settled by a person.

Each report counts for its reader's weight: (1 + upheld) / (1 + dismissed) of their earlier
reports at the source, between MIN_WEIGHT and MAX_WEIGHT (as Discourse scores flags: readers
whose flags moderators agreed with weigh more). When the open reports on an approved comment
reach the source's `report_threshold`, the comment is reopened into the Reported list and the
CMS hears comment.reported. A moderator upholds them (the comment is rejected) or dismisses
them (it stays); the CMS hears comment.reported again with the outcome.
"""

from __future__ import annotations

import enum
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.authors import iso
from core.domain import Actor, EventType, Status
from core.reasons import ModeratorReason
from core.store import record_comment_event, record_decision
from core.tables import Comment, Event, Report, Source

log = structlog.stdlib.get_logger(__name__)

# A reader's reason -> the reject reason code a moderator's upholding uses.
REPORT_REASONS: dict[str, str] = {
    "abusive": "toxic",
    "hate": "hate",
    "threat": "threat",
    "spam": "spam",
    "harassment": "harassment",
    "personal_info": "personal_info",
    "off_topic": "off_topic",
    "other": "other",
}
MAX_REPORT_CHARS = 500
MIN_WEIGHT = 0.2
MAX_WEIGHT = 5.0


class ReportState(enum.StrEnum):
    OPEN = "open"
    UPHELD = "upheld"
    DISMISSED = "dismissed"


class ReportError(ValueError):
    """A report that cannot be received or settled; the message says why."""


class ReportNotFound(ReportError, LookupError):
    pass


class DuplicateReport(ReportError):
    """This reader reported this comment already."""


def reporter_weight(session: Session, source_id: str, reporter_id: str) -> float:
    """What a new report by this reader counts for, from how their earlier ones were settled."""
    settled = Counter(
        dict(
            session.execute(
                select(Report.state, func.count())
                .where(Report.source_id == source_id, Report.reporter_id == reporter_id)
                .group_by(Report.state)
            ).all()
        )
    )
    ratio = (1 + settled[ReportState.UPHELD.value]) / (1 + settled[ReportState.DISMISSED.value])
    return round(min(MAX_WEIGHT, max(MIN_WEIGHT, ratio)), 3)


def open_weight(session: Session, comment_id: str) -> float:
    total = session.scalar(
        select(func.coalesce(func.sum(Report.weight), 0.0)).where(
            Report.comment_id == comment_id, Report.state == ReportState.OPEN.value
        )
    )
    return float(total or 0.0)


def _report_data(state: str, count: int, weight: float, threshold: float) -> dict[str, Any]:
    return {
        "report": {
            "state": state,
            "count": count,
            "weight": round(weight, 3),
            "threshold": threshold,
        }
    }


@dataclass(frozen=True)
class Received:
    report: Report
    # comment.reported, when this report made the comment cross its source's threshold.
    event: Event | None


def receive_report(
    session: Session,
    source_id: str,
    external_id: str,
    reporter_id: str,
    reason: str,
    text: str | None,
    now: datetime | None = None,
) -> Received:
    """Store a reader's report; reopen an approved comment once the reports weigh enough. The
    caller commits, then queues the event if any."""
    now = now or datetime.now(UTC)
    if reason not in REPORT_REASONS:
        raise ReportError(f"reason must be one of {', '.join(REPORT_REASONS)}")
    row = session.execute(
        select(Comment, Source)
        .join(Source, Source.id == Comment.source_id)
        .where(Comment.source_id == source_id, Comment.external_id == external_id)
        .with_for_update(of=Comment)
    ).one_or_none()
    if row is None:
        raise ReportNotFound(f"no comment {external_id!r} from this source")
    comment, source = row
    before = open_weight(session, comment.id)
    report = Report(
        comment_id=comment.id,
        source_id=source_id,
        reporter_id=reporter_id,
        reason=reason,
        text=(text or "").strip() or None,
        weight=reporter_weight(session, source_id, reporter_id),
        state=ReportState.OPEN.value,
        received_at=now,
    )
    try:
        with session.begin_nested():
            session.add(report)
            session.flush()
    except IntegrityError:
        raise DuplicateReport("this reader reported this comment already") from None
    after = before + report.weight
    event = None
    if comment.status == Status.APPROVED.value and before < source.report_threshold <= after:
        count = session.scalar(
            select(func.count()).where(
                Report.comment_id == comment.id, Report.state == ReportState.OPEN.value
            )
        )
        event = record_comment_event(
            session,
            comment,
            EventType.REPORTED,
            _report_data(ReportState.OPEN.value, int(count or 0), after, source.report_threshold),
            now,
        )
        log.info("comment reopened by reports", comment_id=comment.id, weight=after)
    return Received(report, event)


@dataclass(frozen=True)
class ReportedComment:
    comment: Comment
    reports: list[Report]
    weight: float
    threshold: float


def list_reported(
    session: Session, limit: int = 100, source_id: str | None = None
) -> list[ReportedComment]:
    """Approved comments whose open reports reach their source's threshold (at one source, when
    given), heaviest first."""
    weights = (
        select(Report.comment_id, func.sum(Report.weight).label("weight"))
        .where(Report.state == ReportState.OPEN.value)
        .group_by(Report.comment_id)
        .subquery()
    )
    query = (
        select(Comment, weights.c.weight, Source.report_threshold)
        .join(weights, weights.c.comment_id == Comment.id)
        .join(Source, Source.id == Comment.source_id)
        .where(Comment.status == Status.APPROVED.value, weights.c.weight >= Source.report_threshold)
    )
    if source_id is not None:
        query = query.where(Comment.source_id == source_id)
    rows = session.execute(query.order_by(weights.c.weight.desc(), Comment.id).limit(limit)).all()
    ids = [comment.id for comment, _, _ in rows]
    reports: dict[str, list[Report]] = {i: [] for i in ids}
    for report in session.scalars(
        select(Report)
        .where(Report.comment_id.in_(ids), Report.state == ReportState.OPEN.value)
        .order_by(Report.id)
    ):
        reports[report.comment_id].append(report)
    return [
        ReportedComment(comment, reports[comment.id], float(weight), float(threshold))
        for comment, weight, threshold in rows
    ]


def report_json(report: Report) -> dict[str, Any]:
    return {
        "id": report.id,
        "comment_id": report.comment_id,
        "reporter_id": report.reporter_id,
        "reason": report.reason,
        "text": report.text,
        "weight": report.weight,
        "state": report.state,
        "received_at": iso(report.received_at),
        "resolved_at": iso(report.resolved_at),
        "resolved_by": report.resolved_by,
    }


@dataclass(frozen=True)
class Settled:
    reports: list[Report]
    events: list[Event]


def resolve_reports(
    session: Session,
    comment_id: str,
    user_id: int,
    outcome: ReportState,
    now: datetime | None = None,
) -> Settled:
    """Uphold (reject the comment, for the readers' most common reason) or dismiss its open
    reports; audited in the reports and, when upheld, a moderator decision. The caller commits,
    then queues the events."""
    now = now or datetime.now(UTC)
    if outcome is ReportState.OPEN:
        raise ReportError("reports are upheld or dismissed")
    comment = session.scalar(select(Comment).where(Comment.id == comment_id).with_for_update())
    if comment is None:
        raise ReportNotFound(f"no comment {comment_id!r}")
    reports = list(
        session.scalars(
            select(Report)
            .where(Report.comment_id == comment_id, Report.state == ReportState.OPEN.value)
            .order_by(Report.id)
        )
    )
    if not reports:
        raise ReportError("this comment has no open reports")
    source = session.get_one(Source, comment.source_id)
    weight = sum(r.weight for r in reports)
    for report in reports:
        report.state = outcome.value
        report.resolved_at = now
        report.resolved_by = user_id
    events = []
    if outcome is ReportState.UPHELD and comment.status != Status.REJECTED.value:
        reason = Counter(r.reason for r in reports).most_common(1)[0][0]
        code = REPORT_REASONS[reason]
        _, rejected = record_decision(
            session,
            comment,
            Status.REJECTED,
            actor=Actor.MODERATOR.value,
            reasons=[ModeratorReason(reason_code=code, outcome=Status.REJECTED.value)],
            moderator_id=user_id,
            reason_code=code,
            note=f"{len(reports)} reader report(s) upheld",
        )
        events.append(rejected)
    events.append(
        record_comment_event(
            session,
            comment,
            EventType.REPORTED,
            _report_data(outcome.value, len(reports), weight, source.report_threshold),
            now,
        )
    )
    session.flush()
    log.info("reports settled", comment_id=comment_id, outcome=outcome.value, count=len(reports))
    return Settled(reports, events)
