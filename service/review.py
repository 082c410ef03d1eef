"""The review API under /v1/review: the moderator page's data and actions, for scripts too."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit

import structlog
from flask import Blueprint, Response, current_app, request, stream_with_context
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from core import review
from core.db import session_scope
from core.domain import LABELS, Status
from core.logging import request_id_headers
from core.review import AuditFilters, QueueFilters, Sort
from core.settings import Settings
from core.tables import Comment, Decision, Event
from service.auth import current_moderator, moderator_token_or_session_required
from service.errors import (
    ApiError,
    Conflict,
    MalformedJson,
    NotFound,
    UnsupportedMediaType,
    ValidationFailed,
)
from service.intake import BROKER_UNAVAILABLE
from service.openapi import documented
from service.queue import DELIVER_EVENT
from service.review_schemas import (
    AuditResponse,
    Author,
    AuthorResponse,
    BulkDecideRequest,
    ClaimResponse,
    CommentDetail,
    DecideRequest,
    DecideResponse,
    DecisionOut,
    Parent,
    QueueResponse,
    ReviewItem,
    Thread,
    UndoRequest,
)

log = structlog.stdlib.get_logger(__name__)

bp = Blueprint("review", __name__, url_prefix="/v1/review")

M = TypeVar("M", bound=BaseModel)
SECURITY = ["moderatorToken"]
TAGS = ["review"]
ERRORS: dict[int, str] = {401: "problem", 422: "problem"}

PAGING_PARAMETERS: list[dict[str, Any]] = [
    {"name": name, "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100_000}}
    for name in ("page", "per_page")
]
QUEUE_PARAMETERS: list[dict[str, Any]] = [
    {"name": "status", "in": "query", "schema": {"enum": [s.value for s in Status]}},
    {"name": "sort", "in": "query", "schema": {"enum": [s.value for s in Sort]}},
    {"name": "source", "in": "query", "schema": {"type": "string"}},
    {"name": "thread", "in": "query", "schema": {"type": "string"}},
    {"name": "label", "in": "query", "schema": {"enum": list(LABELS)}},
    {"name": "author", "in": "query", "schema": {"type": "string"}},
    *PAGING_PARAMETERS,
]
AUDIT_PARAMETERS: list[dict[str, Any]] = [
    {"name": "actor", "in": "query", "schema": {"enum": ["model", "moderator"]}},
    {"name": "status", "in": "query", "schema": {"enum": [s.value for s in Status]}},
    {"name": "moderator", "in": "query", "schema": {"type": "string", "format": "email"}},
    {"name": "source", "in": "query", "schema": {"type": "string"}},
    {"name": "comment", "in": "query", "schema": {"type": "string"}},
    {"name": "since", "in": "query", "schema": {"type": "string", "format": "date-time"}},
    {"name": "until", "in": "query", "schema": {"type": "string", "format": "date-time"}},
    *PAGING_PARAMETERS,
]
CSV_COLUMNS = (
    "decision_id",
    "created_at",
    "comment_id",
    "status",
    "previous_status",
    "actor",
    "model_version",
    "moderator",
    "reason_code",
    "note",
    "reasons",
)


def _settings() -> Settings:
    settings: Settings = current_app.config["MODERATION_SETTINGS"]
    return settings


def safe_http_url(url: str | None) -> str | None:
    """A link we may render: only absolute http(s) URLs (no javascript:, data: ...)."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return url.strip()


def latest_reasons(comment: Comment) -> list[dict[str, Any]]:
    """Why the comment is where it is: the reasons of its latest decision."""
    return list(comment.decisions[-1].reasons) if comment.decisions else []


def item_out(comment: Comment, parent: Comment | None, viewer_id: int) -> ReviewItem:
    return ReviewItem(
        id=comment.id,
        source_id=comment.source_id,
        external_id=comment.external_id,
        status=comment.status,
        revision=comment.revision,
        body=comment.body,
        author=Author(name=comment.author_name, id=comment.author_id),
        thread=Thread(
            id=comment.thread_id,
            title=comment.thread_title,
            url=safe_http_url(comment.thread_url),
        ),
        parent=(
            Parent(
                id=parent.id, author_name=parent.author_name, body=parent.body, status=parent.status
            )
            if parent is not None
            else None
        ),
        scores=comment.scores,
        risk=review.risk_of(comment),
        highlights=[[int(s), int(e)] for s, e, *_ in comment.highlights or []],
        reasons=latest_reasons(comment),
        suggested_reject_reason=review.suggested_reject_reason(comment.scores),
        received_at=comment.received_at,
        decided_at=comment.decided_at,
        claimed_by_me=comment.claimed_by == viewer_id,
    )


def decision_out(
    decision: Decision, moderator: str | None, event: Event | None = None
) -> DecisionOut:
    return DecisionOut(
        id=decision.id,
        comment_id=decision.comment_id,
        status=decision.status,
        previous_status=decision.previous_status,
        actor=decision.actor,
        model_version=decision.model_version,
        moderator=moderator,
        reason_code=decision.reason_code,
        note=decision.note,
        reasons=list(decision.reasons),
        created_at=decision.created_at,
        event_id=event.id if event is not None else None,
    )


def queue_deliveries(event_ids: Iterable[str]) -> None:
    """After commit: ask a worker to deliver each event; if Redis is down the sweeper will."""
    client = current_app.extensions["celery"]
    for event_id in event_ids:
        try:
            client.send_task(
                DELIVER_EVENT,
                args=[event_id],
                headers=request_id_headers(),
            )
        except BROKER_UNAVAILABLE as exc:
            # The outbox row stays pending; the sweeper queues it when the broker is back.
            log.warning(
                "delivery not queued: broker unavailable; the sweeper will queue it",
                event_id=event_id,
                error=type(exc).__name__,
            )


def parse_body(model: type[M]) -> M:
    """The JSON body validated against model, or a problem+json naming every bad field."""
    if not request.is_json:
        raise UnsupportedMediaType("send application/json")
    data = request.get_json(silent=True)
    if data is None:
        raise MalformedJson("the body is not valid JSON")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed(
            "the request has invalid fields",
            errors=[
                {"field": ".".join(str(p) for p in err["loc"]) or "body", "message": err["msg"]}
                for err in exc.errors()
            ],
        ) from exc


MAX_INT_ARG = 1_000_000


MAX_PAGE = 100_000
MAX_TEXT_ARG_CHARS = 320


def _text_arg(args: Mapping[str, str], name: str) -> str | None:
    """A free-text filter: bounded, and never a NUL (PostgreSQL text cannot hold one)."""
    raw = (args.get(name) or "").strip()
    if "\x00" in raw or len(raw) > MAX_TEXT_ARG_CHARS:
        raise ValidationFailed(
            f"{name} is not a usable filter",
            errors=[{"field": name, "message": f"at most {MAX_TEXT_ARG_CHARS} characters, no NUL"}],
        )
    return raw or None


def _int_arg(args: Mapping[str, str], name: str, default: int) -> int:
    raw = args.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ValidationFailed(
            f"{name} must be a whole number", errors=[{"field": name, "message": "not an integer"}]
        ) from exc
    if not 1 <= value <= MAX_PAGE:
        raise ValidationFailed(
            f"{name} must be between 1 and {MAX_PAGE}",
            errors=[{"field": name, "message": f"must be between 1 and {MAX_PAGE}"}],
        )
    if value > MAX_INT_ARG:
        # Past this the database's OFFSET arithmetic overflows (a 500, not an empty page).
        raise ValidationFailed(
            f"{name} must be at most {MAX_INT_ARG}",
            errors=[{"field": name, "message": f"must be <= {MAX_INT_ARG}"}],
        )
    return value


def _choice(args: Mapping[str, str], name: str, allowed: Sequence[str]) -> str | None:
    raw = (args.get(name) or "").strip()
    if not raw:
        return None
    if raw not in allowed:
        raise ValidationFailed(
            f"{name} must be one of {', '.join(allowed)}",
            errors=[{"field": name, "message": f"must be one of {', '.join(allowed)}"}],
        )
    return raw


def _datetime_arg(
    args: Mapping[str, str], name: str, inclusive_day: bool = False
) -> datetime | None:
    """An ISO date or datetime, in UTC; a bare date as an upper bound means the end of that day."""
    raw = (args.get(name) or "").strip()
    if not raw:
        return None
    if inclusive_day and len(raw) == 10:
        day = _datetime_arg(args, name)
        if day is None:
            return None
        try:
            return day + timedelta(days=1)
        except OverflowError:
            # The end of 9999-12-31 is after every time a decision can carry: no upper bound.
            return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValidationFailed(
            f"{name} must be an ISO 8601 date", errors=[{"field": name, "message": "not a date"}]
        ) from exc
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        # E.g. 0001-01-01T00:30+01:00: its UTC time falls outside the years 1 to 9999.
        message = f"must be between {datetime.min.isoformat()}Z and {datetime.max.isoformat()}Z"
        raise ValidationFailed(
            f"{name} {message}", errors=[{"field": name, "message": message}]
        ) from None


def queue_filters(args: Mapping[str, str]) -> QueueFilters:
    """Query parameters (API or page) -> QueueFilters, refusing unknown values."""
    return QueueFilters(
        status=Status(_choice(args, "status", [s.value for s in Status]) or Status.FLAGGED),
        sort=Sort(_choice(args, "sort", [s.value for s in Sort]) or Sort.RISK),
        source=_text_arg(args, "source"),
        thread=_text_arg(args, "thread"),
        label=_choice(args, "label", LABELS),
        author=_text_arg(args, "author"),
        page=_int_arg(args, "page", 1),
        per_page=_int_arg(args, "per_page", 20),
    )


def audit_filters(args: Mapping[str, str]) -> AuditFilters:
    return AuditFilters(
        actor=_choice(args, "actor", ["model", "moderator"]),
        status=_choice(args, "status", [s.value for s in Status]),
        moderator=_text_arg(args, "moderator"),
        source=_text_arg(args, "source"),
        comment=_text_arg(args, "comment"),
        since=_datetime_arg(args, "since"),
        until=_datetime_arg(args, "until", inclusive_day=True),
        page=_int_arg(args, "page", 1),
        per_page=_int_arg(args, "per_page", 50),
    )


def review_error(error: review.ReviewError) -> ApiError:
    """Map a use-case refusal to its problem+json."""
    if isinstance(error, review.CommentNotFound):
        return NotFound(str(error))
    if isinstance(error, review.ClaimedByOther | review.UndoRefused):
        return Conflict(str(error))
    return ValidationFailed(str(error), errors=[{"field": "body", "message": str(error)}])


@contextmanager
def _review_session() -> Iterator[Session]:
    """A committed session in which a use-case refusal becomes its problem+json."""
    try:
        with session_scope(_settings()) as session:
            yield session
    except review.ReviewError as error:
        raise review_error(error) from error


def _json(model: BaseModel, status: int = 200) -> Response:
    response = current_app.response_class(
        model.model_dump_json(), status=status, mimetype="application/json"
    )
    return response


def decide_response(outcome: review.BulkOutcome, emails: Mapping[int, str]) -> DecideResponse:
    decisions = [decision_out(d, emails.get(d.moderator_id or 0), e) for d, e in outcome.decided]
    undo_until = (
        max(d.created_at for d, _ in outcome.decided) + review.UNDO_WINDOW
        if outcome.decided
        else None
    )
    return DecideResponse(decisions=decisions, skipped=outcome.skipped, undo_until=undo_until)


@bp.get("/queue")
@documented(
    summary="List comments awaiting review (flagged by default), sorted and filtered",
    tags=TAGS,
    responses={200: QueueResponse, **ERRORS},
    security=SECURITY,
    parameters=QUEUE_PARAMETERS,
)
@moderator_token_or_session_required
def list_queue() -> Any:
    moderator = current_moderator()
    filters = queue_filters(request.args)
    with _review_session() as session:
        page = review.list_queue(session, filters, moderator.id)
        parents = review.parents_of(session, page.items)
        body = QueueResponse(
            items=[item_out(c, parents.get(c.id), moderator.id) for c in page.items],
            counts=page.counts,
            total=page.total,
            page=page.page,
            per_page=page.per_page,
            pages=page.pages,
        )
    return _json(body)


@bp.get("/comments/<comment_id>")
@documented(
    summary="One comment with its context, scores, highlights and decision history",
    tags=TAGS,
    responses={200: CommentDetail, 401: "problem", 404: "problem"},
    security=SECURITY,
)
@moderator_token_or_session_required
def get_comment(comment_id: str) -> Any:
    moderator = current_moderator()
    with _review_session() as session:
        comment = review.get_comment(session, comment_id)
        emails = review.moderator_emails(
            session, [d.moderator_id for d in comment.decisions if d.moderator_id]
        )
        item = item_out(comment, review.parent_of(session, comment), moderator.id)
        body = CommentDetail(
            **item.model_dump(),
            decisions=[decision_out(d, emails.get(d.moderator_id or 0)) for d in comment.decisions],
        )
    return _json(body)


@bp.post("/comments/<comment_id>/claim")
@documented(
    summary="Claim a comment so no other moderator reviews it (expires after 5 minutes)",
    tags=TAGS,
    responses={200: ClaimResponse, 401: "problem", 404: "problem", 409: "problem"},
    security=SECURITY,
)
@moderator_token_or_session_required
def claim(comment_id: str) -> Any:
    return _change_claim(review.claim, comment_id)


@bp.delete("/comments/<comment_id>/claim")
@documented(
    summary="Release your claim on a comment",
    tags=TAGS,
    responses={200: ClaimResponse, 401: "problem", 404: "problem"},
    security=SECURITY,
)
@moderator_token_or_session_required
def release(comment_id: str) -> Any:
    return _change_claim(review.release, comment_id)


def _change_claim(change: Callable[[Session, str, int], Comment], comment_id: str) -> Any:
    """Claim or release a comment for the signed-in moderator; the claim as it stands after."""
    moderator = current_moderator()
    with _review_session() as session:
        comment = change(session, comment_id, moderator.id)
        body = ClaimResponse(id=comment.id, claimed_until=comment.claimed_until)
    return _json(body)


def _decide(ids: Sequence[str], request_body: DecideRequest, single: bool) -> Response:
    moderator = current_moderator()
    status = Status(request_body.status)
    with _review_session() as session:
        if single:
            outcome = review.BulkOutcome(
                decided=[
                    review.decide(
                        session,
                        ids[0],
                        moderator.id,
                        status,
                        request_body.reason_code,
                        request_body.note,
                    )
                ]
            )
        else:
            outcome = review.bulk_decide(
                session,
                ids,
                moderator.id,
                status,
                request_body.reason_code,
                request_body.note,
            )
        body = decide_response(outcome, {moderator.id: moderator.email})
    for decision in body.decisions:
        log.info(
            "moderator decided",
            comment_id=decision.comment_id,
            moderator_id=moderator.id,
            status=decision.status,
        )
    queue_deliveries(d.event_id for d in body.decisions if d.event_id)
    return _json(body, 201 if body.decisions else 200)


@bp.post("/comments/<comment_id>/decision")
@documented(
    summary="Approve or reject one comment (a rejection needs a reason code)",
    tags=TAGS,
    request=DecideRequest,
    responses={201: DecideResponse, 400: "problem", 404: "problem", 409: "problem", **ERRORS},
    security=SECURITY,
)
@moderator_token_or_session_required
def decide(comment_id: str) -> Any:
    return _decide([comment_id], parse_body(DecideRequest), single=True)


@bp.post("/decisions")
@documented(
    summary="Approve or reject many comments at once; comments claimed by others are skipped",
    tags=TAGS,
    request=BulkDecideRequest,
    responses={201: DecideResponse, 200: DecideResponse, 400: "problem", **ERRORS},
    security=SECURITY,
)
@moderator_token_or_session_required
def bulk_decide() -> Any:
    body = parse_body(BulkDecideRequest)
    return _decide(body.ids, body, single=False)


@bp.post("/undo")
@documented(
    summary="Undo your last decision (or the given ones) within 10 seconds",
    tags=TAGS,
    request=UndoRequest,
    responses={201: DecideResponse, 400: "problem", 409: "problem", **ERRORS},
    security=SECURITY,
)
@moderator_token_or_session_required
def undo() -> Any:
    moderator = current_moderator()
    request_body = parse_body(UndoRequest) if request.content_length else UndoRequest()
    with _review_session() as session:
        outcome = review.undo(session, moderator.id, request_body.decision_ids)
        body = decide_response(outcome, {moderator.id: moderator.email})
        body.undo_until = None
    for decision in body.decisions:
        log.info(
            "moderator undid a decision",
            comment_id=decision.comment_id,
            moderator_id=moderator.id,
        )
    queue_deliveries(d.event_id for d in body.decisions if d.event_id)
    return _json(body, 201)


@bp.get("/comments/<comment_id>/author")
@documented(
    summary="The author's comments at the same source and their outcomes",
    tags=TAGS,
    responses={200: AuthorResponse, 401: "problem", 404: "problem"},
    security=SECURITY,
)
@moderator_token_or_session_required
def author(comment_id: str) -> Any:
    moderator = current_moderator()
    with _review_session() as session:
        comment = review.get_comment(session, comment_id)
        comments = review.author_comments(session, comment)
        outcomes = {s.value: 0 for s in Status}
        for other in comments:
            outcomes[other.status] = outcomes.get(other.status, 0) + 1
        parents = review.parents_of(session, comments)
        body = AuthorResponse(
            author=Author(name=comment.author_name, id=comment.author_id),
            comments=[item_out(c, parents.get(c.id), moderator.id) for c in comments],
            outcomes=outcomes,
        )
    return _json(body)


@bp.get("/audit")
@documented(
    summary="Every decision, by the model or a moderator: who, when, why (newest first)",
    tags=TAGS,
    responses={200: AuditResponse, **ERRORS},
    security=SECURITY,
    parameters=AUDIT_PARAMETERS,
)
@moderator_token_or_session_required
def audit() -> Any:
    filters = audit_filters(request.args)
    with session_scope(_settings()) as session:
        page = review.audit(session, filters)
        body = AuditResponse(
            decisions=[decision_out(r.decision, r.moderator_email) for r in page.rows],
            total=page.total,
            page=page.page,
            per_page=page.per_page,
            pages=page.pages,
        )
    return _json(body)


def _csv_cell(value: Any) -> str:
    """Text a spreadsheet will not run as a formula (CSV injection)."""
    text = "" if value is None else str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


def _describe_reasons(reasons: Sequence[Mapping[str, Any]]) -> str:
    parts = []
    for reason in reasons:
        kind = reason.get("kind")
        if kind == "score":
            label, score, threshold = (
                reason.get("label"),
                reason.get("score"),
                reason.get("threshold"),
            )
            parts.append(f"{label} {score} >= {threshold}")
        elif kind == "blocklist":
            parts.append(f"blocklist: {reason.get('term')}")
        elif kind == "links":
            parts.append(f"links {reason.get('count')} > {reason.get('limit')}")
        elif kind == "undo":
            parts.append(f"undo of decision {reason.get('undoes')}")
        else:
            parts.append(str(kind))
    return "; ".join(parts)


def audit_csv_lines(filters: AuditFilters, settings: Settings) -> Iterator[str]:
    """The audit log as CSV lines, streamed in batches."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    yield buffer.getvalue()
    with session_scope(settings) as session:
        for row in review.iter_audit(session, filters):
            buffer.seek(0)
            buffer.truncate()
            d = row.decision
            writer.writerow(
                [
                    _csv_cell(v)
                    for v in (
                        d.id,
                        d.created_at.isoformat(),
                        d.comment_id,
                        d.status,
                        d.previous_status,
                        d.actor,
                        d.model_version,
                        row.moderator_email,
                        d.reason_code,
                        d.note,
                        _describe_reasons(d.reasons),
                    )
                ]
            )
            yield buffer.getvalue()


def audit_csv_response(filters: AuditFilters) -> Response:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return Response(
        stream_with_context(audit_csv_lines(filters, _settings())),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="audit-{stamp}.csv"'},
    )


@bp.get("/audit.csv")
@documented(
    summary="The audit log as CSV (same filters as /audit, oldest first, all pages)",
    tags=TAGS,
    responses={200: "text/csv", **ERRORS},
    security=SECURITY,
    parameters=AUDIT_PARAMETERS,
)
@moderator_token_or_session_required
def audit_csv() -> Any:
    return audit_csv_response(audit_filters(request.args))
