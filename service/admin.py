"""Admin API (/v1/admin) and pages (/admin): sources, their thresholds and secrets, deliveries.

Admins tune a CMS's policy, rotate its secret and resend dead callbacks without a shell. Every
route is admin-only (service.auth.admin_required); pages post CSRF-protected forms.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

import structlog
from flask import Blueprint, Response, current_app, flash, redirect, render_template, request
from flask import url_for as flask_url_for
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from core import deliveries, sources
from core.db import session_scope
from core.domain import LABELS, DeliveryState
from core.settings import Settings
from core.thresholds import live_model_thresholds
from service.auth import admin_required
from service.errors import Conflict, NotFound, ValidationFailed
from service.openapi import documented
from service.pages import add_nav_link
from service.review import (
    TEXT_QUERY_SCHEMA,
    bounded_int_arg,
    parse_body,
    queue_deliveries,
    refuse_empty_args,
    text_arg,
)
from service.schemas import NO_NUL, HttpUrlText, Integral, PlainText

log = structlog.stdlib.get_logger(__name__)

bp = Blueprint("admin", __name__)

TAGS = ["admin"]
SECURITY = ["moderatorToken"]
ERRORS: dict[int, str] = {401: "problem", 403: "problem"}
# Writes may also meet a malformed body, or a missing CSRF token when a page session is used.
WRITE_ERRORS: dict[int, str] = {400: "problem", **ERRORS}
PAGE_SIZE = 100
# Largest offset into the deliveries list (PostgreSQL's OFFSET is a bigint).
MAX_OFFSET = 2**62


# --- schemas -----------------------------------------------------------------------------


class ThresholdView(BaseModel):
    # strict: JSON true/false is not a number (lax pydantic would read it as 1 or 0).
    flag: float = Field(ge=0, le=1, strict=True, description="Flag at or above this score")
    reject: float | None = Field(
        default=None,
        ge=0,
        le=1,
        strict=True,
        description="Reject at or above this score (null: never)",
    )


class EffectiveThreshold(ThresholdView):
    source: Literal["model", "custom"] = Field(
        description="model: the live model's tuned threshold, which follows the model when it "
        "changes; custom: set by a person, kept"
    )


# Strings stored as sent: bounded and free of what a database cannot hold (NUL...).
Term = Annotated[str, Field(min_length=1, max_length=200, json_schema_extra=NO_NUL), PlainText]


class BlocklistItem(BaseModel):
    term: Term
    action: Literal["flag", "reject"] = "flag"


class CallbackHealth(BaseModel):
    consecutive_failures: int
    circuit_open_until: datetime | None = Field(
        description="While set, this source's deliveries are parked (circuit breaker open)"
    )


class SourceView(BaseModel):
    id: str
    name: str
    callback_url: str | None
    thresholds: dict[str, EffectiveThreshold]
    thresholds_source: Literal["model", "custom", "mixed"] = Field(
        description="model: every label uses the live model's thresholds; custom: a person set "
        "every label; mixed: some of each"
    )
    blocklist: list[BlocklistItem]
    max_links: int
    max_body_chars: int
    previous_secret_expires_at: datetime | None = Field(
        description="During a rotation, until when the old secret still verifies"
    )
    callbacks: CallbackHealth
    created_at: datetime
    updated_at: datetime


class SourceList(BaseModel):
    sources: list[SourceView]


class SourceUpdate(BaseModel):
    """Only the fields sent change; callback_url null stops callbacks; thresholds null (or a
    label's null) goes back to the live model's thresholds."""

    name: Term | None = None
    callback_url: HttpUrlText | None = None
    # Keys named in the schema (propertyNames), so the document refuses what the code does.
    thresholds: (
        dict[Annotated[str, Field(json_schema_extra={"enum": list(LABELS)})], ThresholdView | None]
        | None
    ) = None
    blocklist_add: list[BlocklistItem] = Field(default_factory=list, max_length=1000)
    blocklist_remove: list[Term] = Field(default_factory=list, max_length=1000)
    # strict: `false` is not a number of links (lax pydantic would store 0).
    max_links: Annotated[int, Field(strict=True, ge=0, le=100_000), Integral] | None = None
    max_body_chars: Annotated[int, Field(strict=True, ge=1, le=100_000), Integral] | None = None


class RotateSecretRequest(BaseModel):
    overlap_seconds: Annotated[
        int,
        Field(strict=True, ge=0, le=30 * 86_400, description="How long the old secret verifies"),
        Integral,
    ] = 86_400


class RotatedSecret(BaseModel):
    id: str
    secret: str = Field(description="The new whsec_ secret, shown only in this response")
    previous_expires_at: datetime | None


class DeliveryView(BaseModel):
    id: str = Field(description="Event id, also the webhook-id header of every attempt")
    source_id: str
    comment_id: str
    type: str
    seq: int
    state: Literal["pending", "delivered", "dead"]
    attempts: int
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime
    last_status_code: int | None
    last_error: str | None


class DeliveryList(BaseModel):
    deliveries: list[DeliveryView]


class AttemptView(BaseModel):
    number: int
    url: str
    status_code: int | None
    latency_ms: float | None
    error: str | None
    started_at: datetime


class DeliveryDetail(BaseModel):
    delivery: DeliveryView
    attempts: list[AttemptView]


DELIVERY_PARAMETERS: list[dict[str, Any]] = [
    {"name": "state", "in": "query", "schema": {"enum": [s.value for s in DeliveryState]}},
    {"name": "source", "in": "query", "schema": TEXT_QUERY_SCHEMA},
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500}},
    {
        "name": "offset",
        "in": "query",
        "schema": {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET},
    },
]


# --- helpers -----------------------------------------------------------------------------


def _settings() -> Settings:
    settings: Settings = current_app.config["MODERATION_SETTINGS"]
    return settings


def _json(model: BaseModel, status: int = 200) -> Response:
    return current_app.response_class(
        model.model_dump_json(), status=status, mimetype="application/json"
    )


def _known_id(value: str) -> str:
    """A path id no row can have (NUL, lone surrogates) is simply not found."""
    if "\x00" in value or len(value) > 200:
        raise NotFound(f"no such id {value[:50]!r}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise NotFound("no such id") from None
    return value


@contextmanager
def _domain_errors() -> Iterator[Session]:
    """A committed session; domain refusals become problem+json."""
    try:
        with session_scope(_settings()) as session:
            yield session
    except sources.SourceNotFound as exc:
        raise NotFound(f"no source {exc.args[0]!r}") from exc
    except deliveries.EventNotFound as exc:
        raise NotFound(f"no event {exc.args[0]!r}") from exc
    except deliveries.RedeliveryRefused as exc:
        raise Conflict(str(exc)) from exc
    except sources.InvalidSourceChange as exc:
        raise ValidationFailed(str(exc), errors=[{"field": "body", "message": str(exc)}]) from exc


def _model_thresholds() -> dict[str, float]:
    return live_model_thresholds(_settings())


def _source_view(source: Any) -> SourceView:
    return SourceView.model_validate(sources.describe_source(source, _model_thresholds()))


def _delivery_args() -> dict[str, Any]:
    args = request.args
    refuse_empty_args(args, DELIVERY_PARAMETERS)
    state = args.get("state") or None
    if state is not None and state not in {s.value for s in DeliveryState}:
        raise ValidationFailed(
            "state must be pending, delivered or dead",
            errors=[{"field": "state", "message": "must be pending, delivered or dead"}],
        )
    return {
        "state": state,
        "source_id": text_arg(args, "source"),
        "limit": bounded_int_arg(args, "limit", PAGE_SIZE, 1, 500),
        # Past PostgreSQL's bigint an offset is a 500: refused like any value out of range.
        "offset": bounded_int_arg(args, "offset", 0, 0, MAX_OFFSET),
    }


def _changes(body: SourceUpdate) -> sources.SourceChanges:
    sent = body.model_fields_set
    return sources.SourceChanges(
        name=body.name,
        callback_url=str(body.callback_url) if body.callback_url is not None else None,
        clear_callback_url="callback_url" in sent and body.callback_url is None,
        thresholds={
            label: t.model_dump() if t is not None else None
            for label, t in (body.thresholds or {}).items()
        }
        or None,
        thresholds_from_model="thresholds" in sent and body.thresholds is None,
        blocklist_add=[item.model_dump() for item in body.blocklist_add],
        blocklist_remove=body.blocklist_remove,
        max_links=body.max_links,
        max_body_chars=body.max_body_chars,
    )


# --- API ---------------------------------------------------------------------------------


@bp.get("/v1/admin/sources")
@documented(
    summary="Every source (CMS) with its policy",
    tags=TAGS,
    responses={200: SourceList, **ERRORS},
    security=SECURITY,
)
@admin_required
def list_sources() -> Any:
    with _domain_errors() as session:
        views = [_source_view(s) for s in sources.list_sources(session)]
    return _json(SourceList(sources=views))


@bp.get("/v1/admin/sources/<source_id>")
@documented(
    summary="One source with its policy and callback health",
    tags=TAGS,
    responses={200: SourceView, 404: "problem", **ERRORS},
    security=SECURITY,
)
@admin_required
def get_source(source_id: str) -> Any:
    source_id = _known_id(source_id)
    with _domain_errors() as session:
        view = _source_view(sources.get_source(session, source_id))
    return _json(view)


@bp.patch("/v1/admin/sources/<source_id>")
@documented(
    summary="Change a source's callback URL, thresholds, blocklist or limits",
    tags=TAGS,
    request=SourceUpdate,
    responses={200: SourceView, 404: "problem", 415: "problem", 422: "problem", **WRITE_ERRORS},
    security=SECURITY,
)
@admin_required
def update_source(source_id: str) -> Any:
    source_id = _known_id(source_id)
    body = parse_body(SourceUpdate)
    with _domain_errors() as session:
        view = _source_view(sources.update_source(session, source_id, _changes(body)))
    log.info("source updated", source_id=source_id, fields=sorted(body.model_fields_set))
    return _json(view)


@bp.post("/v1/admin/sources/<source_id>/rotate-secret")
@documented(
    summary="Give a source a new signing secret (shown once); the old one overlaps",
    tags=TAGS,
    request=RotateSecretRequest,
    responses={200: RotatedSecret, 404: "problem", 415: "problem", 422: "problem", **WRITE_ERRORS},
    security=SECURITY,
)
@admin_required
def rotate_secret(source_id: str) -> Any:
    source_id = _known_id(source_id)
    # A JSON body, `{}` at least, as the schema says: no body is refused, not defaulted.
    body = parse_body(RotateSecretRequest)
    with _domain_errors() as session:
        rotation = sources.rotate_secret(
            session, source_id, timedelta(seconds=body.overlap_seconds)
        )
        result = RotatedSecret(
            id=source_id, secret=rotation.secret, previous_expires_at=rotation.previous_expires_at
        )
    log.info("source secret rotated", source_id=source_id, overlap_seconds=body.overlap_seconds)
    return _json(result)


@bp.get("/v1/admin/deliveries")
@documented(
    summary="Callback deliveries, newest first (state=dead: the ones that gave up)",
    tags=TAGS,
    responses={200: DeliveryList, 422: "problem", **ERRORS},
    security=SECURITY,
    parameters=DELIVERY_PARAMETERS,
)
@admin_required
def list_deliveries() -> Any:
    filters = _delivery_args()
    with _domain_errors() as session:
        rows = deliveries.list_deliveries(session, **filters)
    return _json(DeliveryList(deliveries=[DeliveryView.model_validate(r.as_json()) for r in rows]))


def _detail(session: Session, event_id: str) -> DeliveryDetail:
    attempts = deliveries.attempts_of(session, event_id)
    (row,) = [r for r in deliveries.list_deliveries(session, limit=1, event_id=event_id)]
    return DeliveryDetail(
        delivery=DeliveryView.model_validate(row.as_json()),
        attempts=[
            AttemptView(
                number=a.number,
                url=a.url,
                status_code=a.status_code,
                latency_ms=a.latency_ms,
                error=a.error,
                started_at=a.started_at,
            )
            for a in attempts
        ],
    )


@bp.get("/v1/admin/deliveries/<event_id>")
@documented(
    summary="One delivery with every attempt (status, latency, error)",
    tags=TAGS,
    responses={200: DeliveryDetail, 404: "problem", **ERRORS},
    security=SECURITY,
)
@admin_required
def get_delivery(event_id: str) -> Any:
    event_id = _known_id(event_id)
    with _domain_errors() as session:
        detail = _detail(session, event_id)
    return _json(detail)


@bp.post("/v1/admin/deliveries/<event_id>/redeliver")
@documented(
    summary="Send a dead (or delivered) event again, with a fresh retry schedule",
    tags=TAGS,
    responses={202: DeliveryView, 404: "problem", 409: "problem", **WRITE_ERRORS},
    security=SECURITY,
)
@admin_required
def redeliver(event_id: str) -> Any:
    event_id = _known_id(event_id)
    with _domain_errors() as session:
        deliveries.redeliver(session, event_id)
        (row,) = deliveries.list_deliveries(session, limit=1, event_id=event_id)
        view = DeliveryView.model_validate(row.as_json())
    queue_deliveries([event_id])
    log.info("event redelivered by hand", event_id=event_id)
    return _json(view, 202)


# --- pages -------------------------------------------------------------------------------


def _float_field(name: str) -> float | None:
    raw = (request.form.get(name) or "").strip()
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError as exc:
        raise sources.InvalidSourceChange(f"{name.replace('_', ' ')}: not a number") from exc


def _int_field(name: str) -> int | None:
    raw = (request.form.get(name) or "").strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError as exc:
        raise sources.InvalidSourceChange(f"{name.replace('_', ' ')}: not a whole number") from exc


def _form_changes() -> sources.SourceChanges:
    thresholds: dict[str, dict[str, float | None] | None] = {}
    for label in LABELS:
        flag = _float_field(f"{label}_flag")
        reject = _float_field(f"{label}_reject")
        shown = (_float_field(f"{label}_shown_flag"), _float_field(f"{label}_shown_reject"))
        # A ticked "model" box puts the label on the model's threshold unless its numbers were
        # changed on the page: what a person typed is theirs.
        if request.form.get(f"{label}_model") and (flag is None or (flag, reject) == shown):
            thresholds[label] = None
        elif flag is not None:
            thresholds[label] = {"flag": flag, "reject": reject}
    callback_url = (request.form.get("callback_url") or "").strip()
    added = (request.form.get("blocklist_add") or "").strip()
    return sources.SourceChanges(
        callback_url=callback_url or None,
        clear_callback_url=not callback_url,
        thresholds=thresholds or None,
        blocklist_add=[sources.parse_blocklist_term(added)] if added else [],
        blocklist_remove=request.form.getlist("blocklist_remove"),
        max_links=_int_field("max_links"),
        max_body_chars=_int_field("max_body_chars"),
    )


@bp.get("/admin/sources")
@admin_required
def sources_page() -> Any:
    model = _model_thresholds()
    with session_scope(_settings()) as session:
        described = [sources.describe_source(s, model) for s in sources.list_sources(session)]
    return render_template("admin/sources.html", sources=described, labels=LABELS, rotated=None)


@bp.post("/admin/sources/<source_id>")
@admin_required
def update_source_form(source_id: str) -> Any:
    source_id = _known_id(source_id)
    try:
        with session_scope(_settings()) as session:
            sources.update_source(session, source_id, _form_changes())
    except sources.SourceNotFound:
        flash("That source no longer exists.", "error")
    except sources.InvalidSourceChange as error:
        flash(f"Not saved: {error}", "error")
    else:
        log.info("source updated", source_id=source_id)
        flash("Source saved.", "info")
    return redirect(flask_url_for("admin.sources_page") + f"#source-{source_id}")


@bp.post("/admin/sources/<source_id>/rotate-secret")
@admin_required
def rotate_secret_form(source_id: str) -> Any:
    source_id = _known_id(source_id)
    hours = _float_field("overlap_hours")
    overlap = timedelta(hours=hours if hours is not None else 24)
    model = _model_thresholds()
    try:
        with session_scope(_settings()) as session:
            rotation = sources.rotate_secret(session, source_id, overlap)
            rotated = {
                "id": source_id,
                "secret": rotation.secret,
                "previous_expires_at": rotation.previous_expires_at,
            }
            described = [sources.describe_source(s, model) for s in sources.list_sources(session)]
    except sources.SourceNotFound:
        flash("That source no longer exists.", "error")
        return redirect(flask_url_for("admin.sources_page"))
    except sources.InvalidSourceChange as error:
        flash(f"Not rotated: {error}", "error")
        return redirect(flask_url_for("admin.sources_page"))
    log.info("source secret rotated", source_id=source_id)
    # The new secret is in this response only: never flashed, stored in the session or logged.
    return render_template("admin/sources.html", sources=described, labels=LABELS, rotated=rotated)


@bp.get("/admin/deliveries")
@admin_required
def deliveries_page() -> Any:
    state = request.args.get("state", DeliveryState.DEAD.value)
    if state not in {s.value for s in DeliveryState} | {"all"}:
        state = DeliveryState.DEAD.value
    with session_scope(_settings()) as session:
        rows = deliveries.list_deliveries(
            session, state=None if state == "all" else state, limit=PAGE_SIZE
        )
    return render_template("admin/deliveries.html", deliveries=rows, state=state)


@bp.get("/admin/deliveries/<event_id>")
@admin_required
def delivery_page(event_id: str) -> Any:
    event_id = _known_id(event_id)
    try:
        with session_scope(_settings()) as session:
            detail = _detail(session, event_id)
    except deliveries.EventNotFound:
        return render_template("error.html", message="No such delivery."), 404
    return render_template("admin/delivery.html", detail=detail)


@bp.post("/admin/deliveries/<event_id>/redeliver")
@admin_required
def redeliver_form(event_id: str) -> Any:
    event_id = _known_id(event_id)
    try:
        with session_scope(_settings()) as session:
            deliveries.redeliver(session, event_id)
    except deliveries.EventNotFound:
        flash("No such delivery.", "error")
    except deliveries.RedeliveryRefused:
        flash("That delivery is already pending.", "info")
    else:
        queue_deliveries([event_id])
        log.info("event redelivered by hand", event_id=event_id)
        flash(f"Delivery {event_id} queued again.", "info")
    return redirect(flask_url_for("admin.deliveries_page", state=request.args.get("state", "dead")))


@bp.record_once
def _add_nav_links(state: Any) -> None:
    add_nav_link(state.app, "admin.sources_page", "Sources", admin_only=True)
    add_nav_link(state.app, "admin.deliveries_page", "Deliveries", admin_only=True)
