"""What the review API and the review pages share: filters from a query, deciding, the CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

import structlog
from flask import Response, stream_with_context
from sqlalchemy.orm import Session

from core import appeals, review
from core.db import session_scope
from core.domain import LABELS, Actor, Status
from core.reasons import describe_reasons
from core.review import UNSCORED_TAB, AuditFilters, BulkOutcome, QueueFilters, Sort
from core.settings import Settings
from service.auth import Moderator
from service.review import together
from service.review.schemas import PersonInQueue
from service.web import (
    choice_arg,
    datetime_arg,
    int_arg,
    queue_deliveries,
    queue_scoring,
    settings,
    text_arg,
)

log = structlog.stdlib.get_logger(__name__)

T = TypeVar("T")

MAX_PAGE = 100_000
CSV_COLUMNS = (
    "decision_id",
    "created_at",
    "comment_id",
    "source",
    "thread",
    "author",
    "comment",
    "status",
    "previous_status",
    "actor",
    "model_version",
    "moderator",
    "reason_code",
    "note",
    "reasons",
)


def _page_arg(args: Mapping[str, str], name: str, default: int) -> int:
    return int_arg(args, name, default, 1, MAX_PAGE)


# What the queue's status parameter may name: a status, or the Unscored tab.
QUEUE_TABS = [*(s.value for s in Status), UNSCORED_TAB]


def queue_filters(args: Mapping[str, str]) -> QueueFilters:
    """Query parameters (API or page) -> QueueFilters, refusing unknown values."""
    tab = choice_arg(args, "status", QUEUE_TABS) or Status.FLAGGED.value
    return QueueFilters(
        status=Status.PENDING if tab == UNSCORED_TAB else Status(tab),
        unscored=tab == UNSCORED_TAB,
        sort=Sort(choice_arg(args, "sort", [s.value for s in Sort]) or Sort.RISK),
        source=text_arg(args, "source"),
        thread=text_arg(args, "thread"),
        label=choice_arg(args, "label", LABELS),
        author=text_arg(args, "author"),
        page=_page_arg(args, "page", 1),
        per_page=_page_arg(args, "per_page", 20),
    )


def audit_filters(args: Mapping[str, str]) -> AuditFilters:
    return AuditFilters(
        actor=choice_arg(args, "actor", [a.value for a in Actor]),
        status=choice_arg(args, "status", [s.value for s in Status]),
        moderator=text_arg(args, "moderator"),
        source=text_arg(args, "source"),
        comment=text_arg(args, "comment"),
        since=datetime_arg(args, "since"),
        until=datetime_arg(args, "until", inclusive_day=True),
        page=_page_arg(args, "page", 1),
        per_page=_page_arg(args, "per_page", 50),
    )


def appeal_state(args: Mapping[str, str]) -> appeals.AppealState:
    """The appeals tab asked for (open by default)."""
    states = [s.value for s in appeals.AppealState]
    return appeals.AppealState(choice_arg(args, "state", states) or appeals.AppealState.OPEN)


def appeal_number(text: str) -> int:
    """An appeal id from a path: digits within 32 bits, else no appeal has it."""
    if not text.isascii() or not text.isdigit() or not 0 < int(text) <= 2**31 - 1:
        raise appeals.AppealNotFound(f"no appeal {text[:20]!r}")
    return int(text)


def commit_decisions(
    moderator: Moderator,
    act: Callable[[Session], BulkOutcome],
    present: Callable[[BulkOutcome], T],
    *,
    undo: bool = False,
) -> T:
    """Run a decision use case in one committed session, present its outcome while the rows
    are loaded, then log each decision, queue its callback and keep it as the moderator's last
    action (an undo clears that) -- the API and the pages alike."""
    configured = settings()
    with session_scope(configured) as session:
        outcome = act(session)
        shown = present(outcome)
        decided = [(d.id, d.comment_id, d.status, e.id) for d, e in outcome.decided]
        latest = max((d.created_at for d, _ in outcome.decided), default=None)
    message = "moderator undid a decision" if undo else "moderator decided"
    for _, comment_id, status, _ in decided:
        log.info(message, comment_id=comment_id, moderator_id=moderator.id, status=status)
    queue_deliveries(event_id for *_, event_id in decided)
    # An undo that gave a comment back to the model: score it now, not at the next sweep.
    queue_scoring(outcome.awaiting_model)
    if undo:
        together.forget_action(configured, moderator)
    elif latest is not None:
        ids = [decision_id for decision_id, *_ in decided]
        together.remember_action(configured, moderator, ids, latest + review.UNDO_WINDOW)
    return shown


def last_action_ids(moderator: Moderator) -> list[int] | None:
    """The decisions of the moderator's last action, while its undo window is open."""
    action = together.last_action(settings(), moderator)
    return action.decision_ids if action is not None else None


def people_in_queue(session: Session, moderator: Moderator) -> list[PersonInQueue]:
    """Everyone in the queue now or holding a comment, with what they hold; you first."""
    holding = review.holders(session)
    seen = {p.email: p.seen_at for p in together.present(settings())}
    people = [
        PersonInQueue(
            email=email,
            seen_at=seen.get(email),
            holding=holding.get(email, []),
            you=email == moderator.email,
        )
        for email in sorted(set(seen) | set(holding))
    ]
    return sorted(people, key=lambda p: (not p.you, p.email))


def _csv_cell(value: Any) -> str:
    """Text a spreadsheet will not run as a formula (CSV injection)."""
    text = "" if value is None else str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


def _csv_row(row: review.AuditRow) -> list[str]:
    d, c = row.decision, row.comment
    return [
        _csv_cell(v)
        for v in (
            d.id,
            d.created_at.isoformat(),
            d.comment_id,
            c.source_name,
            c.thread_title or c.thread_id,
            c.author_name,
            c.excerpt,
            d.status,
            d.previous_status,
            d.actor,
            d.model_version,
            row.moderator_email,
            d.reason_code,
            d.note,
            "; ".join(describe_reasons(d.reasons)),
        )
    ]


def audit_csv_lines(filters: AuditFilters, configured: Settings) -> Iterator[str]:
    """The audit log as CSV lines, streamed in batches.

    Stops once before the header, after the first query: the caller runs it that far before
    answering, so a database failure is an error response, never an export cut short.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    with session_scope(configured) as session:
        rows = review.iter_audit(session, filters)
        first = next(rows, None)
        yield ""
        writer.writerow(CSV_COLUMNS)
        if first is not None:
            writer.writerow(_csv_row(first))
        yield buffer.getvalue()
        for row in rows:
            buffer.seek(0)
            buffer.truncate()
            writer.writerow(_csv_row(row))
            yield buffer.getvalue()


def audit_csv_response(filters: AuditFilters) -> Response:
    lines = audit_csv_lines(filters, settings())
    next(lines)  # the first query runs now, before the status line is sent
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return Response(
        stream_with_context(lines),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="audit-{stamp}.csv"'},
    )
