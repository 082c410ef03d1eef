"""The CMS-facing API: the signed intake webhook and the comment read endpoint.

Intake checks in Warehouse's order: the source, the size, the signature on the raw body, then
parsing, then shape; the comment is committed before its scoring task is queued (outbox).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import structlog
from flask import Blueprint, Response, current_app, jsonify, request, url_for
from pydantic import BaseModel, ValidationError
from sqlalchemy import Connection
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session

from core import appeals, reports
from core.db import autocommit_connection, session_scope, supports_autocommit
from core.settings import Settings
from core.store import (
    Accepted,
    IntakeSource,
    Receipt,
    WebhookReplayed,
    accept_comment,
    accept_new_comment,
    intake_source,
    remember_webhook,
    source_by_token,
)
from core.store import IncomingComment as StoredIncoming
from core.tables import Comment, Decision
from core.tasks import SCORE_COMMENT, queue_task
from service import limits, signing, web
from service.errors import (
    ApiError,
    MalformedJson,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    Unauthorized,
    UnsupportedMediaType,
    ValidationFailed,
    domain_refusals,
)
from service.metrics import observe_intake
from service.openapi import documented
from service.schemas import (
    MAX_BODY_CHARS,
    AcceptedAppeal,
    AcceptedComment,
    AcceptedReport,
    CommentView,
    DecisionView,
    IncomingAppeal,
    IncomingComment,
    IncomingReport,
    Links,
    RevisionView,
    StatementOfReasons,
    ThreadView,
    field_errors,
    from_row,
)

bp = Blueprint("intake", __name__)
log = structlog.stdlib.get_logger(__name__)

JSON_MEDIA_TYPE = "application/json"
# Errors meaning "the database is unreachable or overloaded", answered 503 + Retry-After.
DATABASE_UNAVAILABLE = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError)
RETRY_AFTER_SECONDS = 5

# What every signed request from a CMS may be refused with (the intake's checks).
SIGNED_REFUSALS: dict[int, str] = {
    status: "problem" for status in (400, 401, 404, 413, 415, 422, 503)
}
WEBHOOK_HEADERS = [
    {"name": name, "in": "header", "required": True, "schema": {"type": "string"}}
    for name in ("webhook-id", "webhook-timestamp", "webhook-signature")
]


@contextmanager
def database_errors() -> Iterator[None]:
    """Turn an unreachable database into a 503 the caller can retry; the transaction rolled back."""
    try:
        yield
    except DATABASE_UNAVAILABLE as exc:
        log.warning("database unavailable", error=type(exc).__name__)
        raise ServiceUnavailable(
            "the database is unavailable; nothing was stored, retry later",
            retry_after=RETRY_AFTER_SECONDS,
        ) from exc


def comment_link(comment_id: str) -> str:
    path = url_for("intake.get_comment", comment_id=comment_id)
    return web.settings().public_url.rstrip("/") + path


def decision_view(decision: Decision) -> DecisionView:
    return from_row(
        DecisionView,
        decision,
        reasons=list(decision.reasons or []),
        statement_of_reasons=(
            StatementOfReasons.model_validate(decision.statement) if decision.statement else None
        ),
    )


def comment_view(comment: Comment) -> CommentView:
    """The comment as its source reads it (call inside the session that loaded it)."""
    decisions = [decision_view(d) for d in comment.decisions]
    return CommentView(
        id=comment.id,
        external_id=comment.external_id,
        source_id=comment.source_id,
        status=comment.status,
        revision=comment.revision,
        body=comment.body,
        thread=ThreadView(id=comment.thread_id, url=comment.thread_url, title=comment.thread_title),
        parent_id=comment.parent_external_id,
        scores=comment.scores,
        highlights=comment.highlights,
        decision=decisions[-1] if decisions else None,
        decisions=decisions,
        revisions=[
            RevisionView(number=r.number, received_at=r.received_at, body=r.body)
            for r in comment.revisions
        ],
        created_at=comment.cms_created_at,
        received_at=comment.received_at,
        updated_at=comment.updated_at,
        decided_at=comment.decided_at,
        links=Links(self=comment_link(comment.id)),
    )


def _read_body(limit: int) -> bytes:
    """The raw body, reading at most limit + 1 bytes whatever Content-Length claims."""
    too_large = PayloadTooLarge(f"the request body is larger than {limit} bytes")
    declared = request.content_length
    if declared is not None and declared > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        chunk = request.stream.read(limit + 1 - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    if size > limit:
        raise too_large
    return b"".join(chunks)


def _replayed(webhook_id: str) -> Unauthorized:
    return Unauthorized(
        f"webhook-id {webhook_id!r} was already received from this source",
        reason=signing.Failure.REPLAYED_WEBHOOK_ID.value,
    )


def _verify_signature(
    settings: Settings, source: IntakeSource, body: bytes
) -> signing.VerifiedWebhook:
    now = datetime.now(UTC)
    try:
        return signing.verify(
            body,
            request.headers,
            source.verification_secrets(now),
            tolerance=timedelta(seconds=settings.signature_tolerance_seconds),
            now=now,
        )
    except signing.SignatureRefused as refused:
        raise Unauthorized(refused.detail, reason=refused.reason.value) from None


def _check_content_type() -> None:
    if request.mimetype != JSON_MEDIA_TYPE:
        raise UnsupportedMediaType(
            f"send the comment as {JSON_MEDIA_TYPE}, not {request.mimetype or 'no content type'}"
        )
    charset = request.mimetype_params.get("charset", "utf-8").lower()
    if charset not in ("utf-8", "utf8"):
        raise UnsupportedMediaType(f"JSON must be UTF-8, not {charset}")


def _parse_object(body: bytes) -> dict[str, Any]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedJson(f"the body is not valid UTF-8 (at byte {exc.start})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MalformedJson(f"the body is not valid JSON: {exc.msg} at offset {exc.pos}") from None
    except (ValueError, RecursionError):
        raise MalformedJson("the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise MalformedJson(f"the body must be a JSON object, not {type(data).__name__}")
    return data


def _validate(data: dict[str, Any], source: IntakeSource) -> IncomingComment:
    return _validated(IncomingComment, data, {MAX_BODY_CHARS: source.max_body_chars})


Signed = TypeVar("Signed", bound=BaseModel)


def _validated(
    model: type[Signed], data: dict[str, Any], context: dict[str, Any] | None = None
) -> Signed:
    """The body as `model`, or a 422 naming every bad field."""
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        errors = field_errors(exc)
        raise ValidationFailed(
            "invalid field(s): " + ", ".join(sorted({e.field for e in errors})),
            errors=[e.model_dump() for e in errors],
        ) from None


def _to_store(incoming: IncomingComment) -> StoredIncoming:
    return StoredIncoming(
        external_id=incoming.id,
        thread_id=incoming.thread.id,
        thread_url=incoming.thread.url,
        thread_title=incoming.thread.title,
        author_name=incoming.author.name,
        author_email=str(incoming.author.email),
        author_id=incoming.author.id,
        body=incoming.body,
        parent_external_id=incoming.parent_id,
        cms_created_at=incoming.created_at,
        ip=str(incoming.ip) if incoming.ip is not None else None,
        user_agent=incoming.user_agent,
        language=incoming.language,
    )


def _accepted(stored: Accepted) -> Response:
    link = comment_link(stored.comment_id)
    body = AcceptedComment(
        id=stored.comment_id,
        status=stored.status,
        revision=stored.revision,
        links=Links(self=link),
    )
    response = jsonify(body.model_dump(mode="json"))
    response.status_code = 202
    response.headers["Location"] = link
    return response


def _measured(view: Callable[..., tuple[Response, str]]) -> Callable[..., Response]:
    """Count each intake request by outcome and time it."""

    def wrapper(*args: Any, **kwargs: Any) -> Response:
        started = time.perf_counter()
        outcome = "rejected_500"
        try:
            response, outcome = view(*args, **kwargs)
            return response
        except ApiError as error:
            if error.status != 503 and not limits.signature_verified():
                # Refused before the source was proven: counted against the client address.
                too_many = limits.count_refused_intake()
                if too_many is not None:
                    error = too_many
            outcome = f"rejected_{error.status}"
            log.info(
                "intake refused",
                source_id=kwargs.get("source_id"),
                status=error.status,
                reason=error.extensions.get("reason"),
            )
            raise error from None
        finally:
            observe_intake(outcome, time.perf_counter() - started)

    wrapper.__name__ = view.__name__
    wrapper.__doc__ = view.__doc__
    return wrapper


def _signed_object(
    session: Any, settings: Settings, source_id: str
) -> tuple[IntakeSource, signing.VerifiedWebhook, dict[str, Any]]:
    """The intake's checks, in its order, for every signed request from a CMS: the source, the
    size, the signature on the raw body, no replay, the content type; then the JSON object."""
    source, replayed = intake_source(session, source_id, request.headers.get("webhook-id"))
    if source is None:
        raise NotFound(f"no source with id {source_id!r}")
    body = _read_body(settings.max_request_bytes)
    verified = _verify_signature(settings, source, body)
    if replayed:
        raise _replayed(verified.webhook_id)
    limits.mark_signature_verified()
    _check_content_type()
    return source, verified, _parse_object(body)


def _checked_comment(
    db: Session | Connection, settings: Settings, source_id: str
) -> tuple[IntakeSource, signing.VerifiedWebhook, StoredIncoming]:
    """The intake's checks, the source's rate limit, then the comment's shape."""
    source, verified, data = _signed_object(db, settings, source_id)
    too_many = limits.count_source_request(source.id)
    if too_many is not None:
        raise too_many
    return source, verified, _to_store(_validate(data, source))


def _receive(session: Session, settings: Settings, source_id: str) -> tuple[Accepted, IntakeSource]:
    """Check the request, then store the comment, in the session's one transaction."""
    source, verified, incoming = _checked_comment(session, settings, source_id)
    try:
        return accept_comment(session, source.id, verified.webhook_id, incoming), source
    except WebhookReplayed:
        raise _replayed(verified.webhook_id) from None


def _receive_on_postgresql(
    settings: Settings, source_id: str
) -> tuple[Accepted, IntakeSource, CommentView | None]:
    """Two round trips for a new comment: the source lookup, then one statement that stores
    the comment, its webhook id and its revision and commits (autocommit). A comment the source
    sent before (a duplicate or an edit) is stored in a transaction of its own."""
    with autocommit_connection(settings) as connection:
        source, verified, incoming = _checked_comment(connection, settings, source_id)
        try:
            created = accept_new_comment(connection, source.id, verified.webhook_id, incoming)
        except WebhookReplayed:
            raise _replayed(verified.webhook_id) from None
    if created is not None:
        return created, source, None
    with session_scope(settings) as session:
        try:
            stored = accept_comment(session, source.id, verified.webhook_id, incoming)
        except WebhookReplayed:
            raise _replayed(verified.webhook_id) from None
        duplicate = comment_view(stored.comment) if stored.comment is not None else None
    return stored, source, duplicate


@bp.post("/v1/sources/<source_id>/comments")
@documented(
    summary="Receive a comment from a CMS (Standard Webhooks signed)",
    tags=["intake"],
    request=IncomingComment,
    responses={202: AcceptedComment, 200: CommentView, **SIGNED_REFUSALS},
    security=["webhookSignature"],
    parameters=WEBHOOK_HEADERS,
)
@_measured
def post_comment(source_id: str) -> tuple[Response, str]:
    """Store a signed comment once, queue its scoring, and say where to read it."""
    settings = web.settings()
    with database_errors():
        if supports_autocommit(settings):
            stored, source, duplicate = _receive_on_postgresql(settings, source_id)
        else:
            # One transaction, on one pooled connection, from the source lookup to the commit.
            with session_scope(settings) as session:
                stored, source = _receive(session, settings, source_id)
                duplicate = comment_view(stored.comment) if stored.comment is not None else None
    log.info(
        "comment received",
        comment_id=stored.comment_id,
        source_id=source.id,
        receipt=stored.receipt.value,
        revision=stored.revision,
    )
    if stored.receipt is Receipt.DUPLICATE:
        assert duplicate is not None
        return jsonify(duplicate.model_dump(mode="json")), "duplicate"
    queue_task(current_app.extensions["publisher"], SCORE_COMMENT, stored.comment_id)
    outcome = "accepted" if stored.receipt is Receipt.CREATED else "edited"
    return _accepted(stored), outcome


def _bearer_token() -> str:
    scheme, _, token = (request.headers.get("Authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized(
            "send the source's API token as Authorization: Bearer <token>",
            headers={"WWW-Authenticate": 'Bearer realm="moderation"'},
        )
    return token.strip()


@bp.get("/v1/comments/<comment_id>")
@documented(
    summary="Read a comment's status, scores, decision and history (its source only)",
    tags=["intake"],
    responses={200: CommentView, 401: "problem", 404: "problem", 503: "problem"},
    security=["sourceToken"],
)
def get_comment(comment_id: str) -> Response:
    """A source reads back what became of its comment; other sources see a 404."""
    token = _bearer_token()
    with database_errors(), session_scope(web.settings()) as session:
        source = source_by_token(session, token)
        if source is None:
            raise Unauthorized(
                "unknown API token",
                headers={"WWW-Authenticate": 'Bearer realm="moderation", error="invalid_token"'},
            )
        comment = session.get(Comment, comment_id)
        if comment is None or comment.source_id != source.id:
            raise NotFound(f"no comment with id {comment_id!r}")
        view = comment_view(comment)
    return jsonify(view.model_dump(mode="json"))


@contextmanager
def _signed_request(
    source_id: str, model: type[Signed]
) -> Iterator[tuple[Any, IntakeSource, Signed]]:
    """A signed appeal or report in one transaction: the intake's checks, its body validated, its
    webhook-id kept (a replay is refused); core refusals inside leave as their problems."""
    settings = web.settings()
    with database_errors(), session_scope(settings) as session:
        source, verified, data = _signed_object(session, settings, source_id)
        incoming = _validated(model, data)
        try:
            remember_webhook(session, source.id, verified.webhook_id)
        except WebhookReplayed:
            raise _replayed(verified.webhook_id) from None
        with domain_refusals():
            yield session, source, incoming


def _accepted_json(body: BaseModel) -> Response:
    response = jsonify(body.model_dump(mode="json"))
    response.status_code = 202
    return response


@bp.post("/v1/sources/<source_id>/comments/<cms_id>/appeals")
@documented(
    summary="Receive an author's appeal of a rejection (signed like the intake)",
    tags=["intake"],
    request=IncomingAppeal,
    responses={202: AcceptedAppeal, 409: "problem", **SIGNED_REFUSALS},
    security=["webhookSignature"],
    parameters=WEBHOOK_HEADERS,
)
@_measured
def post_appeal(source_id: str, cms_id: str) -> tuple[Response, str]:
    """Store an appeal of the comment's standing rejection for a second moderator; one per
    rejection (409 for another), 404 for a comment this source never sent."""
    with _signed_request(source_id, IncomingAppeal) as (session, source, incoming):
        appeal = appeals.receive_appeal(
            session, source.id, cms_id, incoming.author.id, incoming.text
        )
        body = AcceptedAppeal(
            id=appeal.id, comment_id=appeal.comment_id, decision_id=appeal.decision_id, state="open"
        )
    return _accepted_json(body), "appeal"


@bp.post("/v1/sources/<source_id>/comments/<cms_id>/reports")
@documented(
    summary="Receive a reader's report of a comment (signed like the intake)",
    tags=["intake"],
    request=IncomingReport,
    responses={202: AcceptedReport, 409: "problem", **SIGNED_REFUSALS},
    security=["webhookSignature"],
    parameters=WEBHOOK_HEADERS,
)
@_measured
def post_report(source_id: str, cms_id: str) -> tuple[Response, str]:
    """Store a reader's report (one per reader and comment: 409 for another); enough weight on
    an approved comment reopens it for review and tells the CMS (comment.reported)."""
    with _signed_request(source_id, IncomingReport) as (session, source, incoming):
        received = reports.receive_report(
            session, source.id, cms_id, incoming.reporter.id, incoming.reason, incoming.text
        )
        body = AcceptedReport(
            id=received.report.id,
            comment_id=received.report.comment_id,
            weight=received.report.weight,
            reopened=received.event is not None,
        )
        event_ids = [received.event.id] if received.event is not None else []
    web.queue_deliveries(event_ids)
    return _accepted_json(body), "report"
