"""Admin API under /v1/admin: sources, their thresholds and secrets, deliveries, the model
registry (admins only)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

import structlog
from flask import Blueprint, request
from sqlalchemy.orm import Session

from core import (
    author_data,
    deliveries,
    policies,
    registry,
    sources,
    suggest,
    thresholds,
    whatif,
)
from core.db import session_scope
from core.domain import LABELS, DeliveryState
from core.shadow import shadow_report
from core.thresholds import live_model_thresholds
from service import web
from service.admin.schemas import (
    PAGE_SIZE,
    AuthorErased,
    AuthorExport,
    DeliveryDetail,
    DeliveryList,
    GateView,
    ModelList,
    ModelView,
    PolicyHistory,
    PolicyVersionView,
    PromoteRequest,
    Promotion,
    RestoreRequest,
    RollbackRequest,
    RotatedSecret,
    RotateSecretRequest,
    ShadowReportView,
    SourceList,
    SourceUpdate,
    SourceView,
    SuggestionView,
    SuggestRequest,
    WhatIfView,
    delivery_detail,
)
from service.auth import admin_required, current_moderator
from service.errors import NotFound, ValidationFailed, answer_domain_errors
from service.openapi import operation

log = structlog.stdlib.get_logger(__name__)

bp = Blueprint("admin", __name__)
answer_domain_errors(bp)

F = TypeVar("F", bound=Callable[..., Any])

TAGS = ["admin"]
SECURITY = ["moderatorToken"]
ERRORS: dict[int, str] = {401: "problem", 403: "problem"}
# Writes may also meet a malformed body, or a missing CSRF token when a page session is used.
WRITE_ERRORS: dict[int, str] = {400: "problem", **ERRORS}


def _operation(rule: str, method: str, **doc: Any) -> Callable[[F], F]:
    """A route of this API: documented under its tag, for admins only."""
    return operation(
        bp, rule, method=method, guard=admin_required, tags=TAGS, security=SECURITY, **doc
    )


# Longest model version the registry stores.
MAX_VERSION_CHARS = 100
# Largest offset into the deliveries list (PostgreSQL's OFFSET is a bigint).
MAX_OFFSET = 2**62

DELIVERY_PARAMETERS: list[dict[str, Any]] = [
    {"name": "state", "in": "query", "schema": {"enum": [s.value for s in DeliveryState]}},
    {"name": "source", "in": "query", "schema": web.TEXT_QUERY_SCHEMA},
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500}},
    {
        "name": "offset",
        "in": "query",
        "schema": {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET},
    },
]


def _source_view(source: Any) -> SourceView:
    return SourceView.model_validate(
        sources.describe_source(source, live_model_thresholds(web.settings()))
    )


def _delivery_args() -> dict[str, Any]:
    args = request.args
    web.refuse_empty_args(args, DELIVERY_PARAMETERS)
    state = args.get("state") or None
    if state is not None and state not in {s.value for s in DeliveryState}:
        raise ValidationFailed(
            "state must be pending, delivered or dead",
            errors=[{"field": "state", "message": "must be pending, delivered or dead"}],
        )
    return {
        "state": state,
        "source_id": web.text_arg(args, "source"),
        "limit": web.int_arg(args, "limit", PAGE_SIZE, 1, 500),
        # Past PostgreSQL's bigint an offset is a 500: refused like any value out of range.
        "offset": web.int_arg(args, "offset", 0, 0, MAX_OFFSET),
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
        sanctioned_comments=body.sanctioned_comments,
        retention_days=body.retention_days,
        clear_retention="retention_days" in sent and body.retention_days is None,
        statement_templates=dict(body.statement_templates or {}) or None,
        appeal_url=str(body.appeal_url) if body.appeal_url is not None else None,
        clear_appeal_url="appeal_url" in sent and body.appeal_url is None,
        report_threshold=body.report_threshold,
        premoderate_below=body.premoderate_below,
        unscored_mode=body.unscored_mode,
        unscored_wait_seconds=body.unscored_wait_seconds,
    )


@_operation(
    "/v1/admin/sources",
    "GET",
    summary="Every source (CMS) with its policy",
    responses={200: SourceList, **ERRORS},
)
def list_sources() -> Any:
    with session_scope(web.settings()) as session:
        views = [_source_view(s) for s in sources.list_sources(session)]
    return web.json_response(SourceList(sources=views))


@_operation(
    "/v1/admin/sources/<source_id>",
    "GET",
    summary="One source with its policy and callback health",
    responses={200: SourceView, 404: "problem", **ERRORS},
)
def get_source(source_id: str) -> Any:
    source_id = web.known_id(source_id)
    with session_scope(web.settings()) as session:
        view = _source_view(sources.get_source(session, source_id))
    return web.json_response(view)


@_operation(
    "/v1/admin/sources/<source_id>",
    "PATCH",
    summary="Change a source's callback URL, thresholds, blocklist or limits",
    request=SourceUpdate,
    responses={200: SourceView, 404: "problem", 415: "problem", 422: "problem", **WRITE_ERRORS},
)
def update_source(source_id: str) -> Any:
    source_id = web.known_id(source_id)
    body = web.parse_body(SourceUpdate)
    with session_scope(web.settings()) as session:
        updated = sources.update_source(
            session,
            source_id,
            _changes(body),
            changed_by=current_moderator().email,
            reason=body.reason,
        )
        view = _source_view(updated)
    log.info("source updated", source_id=source_id, fields=sorted(body.model_fields_set))
    return web.json_response(view)


@_operation(
    "/v1/admin/sources/<source_id>/rotate-secret",
    "POST",
    summary="Give a source a new signing secret (shown once); the old one overlaps",
    request=RotateSecretRequest,
    responses={200: RotatedSecret, 404: "problem", 415: "problem", 422: "problem", **WRITE_ERRORS},
)
def rotate_secret(source_id: str) -> Any:
    source_id = web.known_id(source_id)
    # A JSON body, `{}` at least, as the schema says: no body is refused, not defaulted.
    body = web.parse_body(RotateSecretRequest)
    with session_scope(web.settings()) as session:
        rotation = sources.rotate_secret(
            session, source_id, timedelta(seconds=body.overlap_seconds)
        )
        result = RotatedSecret(
            id=source_id, secret=rotation.secret, previous_expires_at=rotation.previous_expires_at
        )
    log.info("source secret rotated", source_id=source_id, overlap_seconds=body.overlap_seconds)
    return web.json_response(result)


NUMBER_0_1: dict[str, Any] = {"type": "number", "minimum": 0, "maximum": 1}
WHAT_IF_PARAMETERS: list[dict[str, Any]] = [
    {
        "name": "days",
        "in": "query",
        "schema": {"type": "integer", "minimum": 1, "maximum": whatif.MAX_DAYS},
        "description": f"The period, in days back from now (default {whatif.DEFAULT_DAYS})",
    },
    *[
        {
            "name": f"{label}.{which}",
            "in": "query",
            "schema": (
                NUMBER_0_1 if which == "flag" else {"oneOf": [NUMBER_0_1, {"enum": ["none"]}]}
            ),
            "description": f"Proposed {which} threshold for {label}"
            + (" (none: never reject)" if which == "reject" else ""),
        }
        for label in LABELS
        for which in ("flag", "reject")
    ],
]


@_operation(
    "/v1/admin/sources/<source_id>/what-if",
    "GET",
    summary="What proposed thresholds would have done to the source's recent comments",
    responses={200: WhatIfView, 404: "problem", 422: "problem", **ERRORS},
    parameters=WHAT_IF_PARAMETERS,
)
def what_if(source_id: str) -> Any:
    source_id = web.known_id(source_id)
    args = request.args
    web.refuse_empty_args(args, WHAT_IF_PARAMETERS)
    days = web.int_arg(args, "days", whatif.DEFAULT_DAYS, 1, whatif.MAX_DAYS)
    model = live_model_thresholds(web.settings())
    with session_scope(web.settings()) as session:
        source = sources.get_source(session, source_id)
        current = thresholds.effective_thresholds(source.thresholds, model)
        try:
            changes = whatif.parse_threshold_query(args, current)
            policy = whatif.proposed_policy(source, model, changes)
        except sources.InvalidSourceChange as error:
            raise ValidationFailed(
                str(error), errors=[{"field": "query", "message": str(error)}]
            ) from error
        result = whatif.what_if(whatif.load_history(session, source_id, days), policy)
    return web.json_response(WhatIfView.model_validate(result.as_json()))


@_operation(
    "/v1/admin/sources/<source_id>/suggest",
    "POST",
    summary="Thresholds for a label from a review capacity or a rejection precision, with "
    "their what-if; save applies them",
    request=SuggestRequest,
    responses={
        200: SuggestionView,
        404: "problem",
        409: "problem",
        415: "problem",
        422: "problem",
        **WRITE_ERRORS,
    },
)
def suggest_thresholds(source_id: str) -> Any:
    source_id = web.known_id(source_id)
    body = web.parse_body(SuggestRequest)
    if (body.flag_capacity is None) == (body.reject_precision is None):
        message = "give exactly one of flag_capacity and reject_precision"
        raise ValidationFailed(message, errors=[{"field": "body", "message": message}])
    target, value = (
        ("flag_capacity", body.flag_capacity)
        if body.flag_capacity is not None
        else ("reject_precision", body.reject_precision)
    )
    assert value is not None
    model = live_model_thresholds(web.settings())
    saved = None
    with session_scope(web.settings()) as session:
        source = sources.get_source(session, source_id)
        history = whatif.load_history(session, source_id, body.days)
        found = suggest.suggest_target(
            history,
            whatif.proposed_policy(source, model),
            body.label,
            target,
            value,
            source_name=source.name,
        )
        if body.save:
            updated = sources.update_source(
                session,
                source_id,
                sources.SourceChanges(thresholds=found.thresholds),
                changed_by=current_moderator().email,
                reason=suggest.save_reason(body.label, target, value),
            )
            saved = updated.policy_version
    if saved is not None:
        log.info("policy suggestion saved", source_id=source_id, version=saved)
    view = SuggestionView.model_validate({**found.as_json(), "saved_version": saved})
    return web.json_response(view)


@_operation(
    "/v1/admin/sources/<source_id>/policies",
    "GET",
    summary="Every version of a source's policy: who changed it, when, why and what",
    responses={200: PolicyHistory, 404: "problem", **ERRORS},
)
def list_policies(source_id: str) -> Any:
    source_id = web.known_id(source_id)
    with session_scope(web.settings()) as session:
        history = policies.policy_history(session, sources.get_source(session, source_id))
        views = [PolicyVersionView.model_validate(v.as_json()) for v in history]
    return web.json_response(PolicyHistory(versions=views))


@_operation(
    "/v1/admin/sources/<source_id>/policies/<int:version>/restore",
    "POST",
    summary="Roll the policy back to an earlier version (a new version copying it)",
    request=RestoreRequest,
    responses={
        200: PolicyVersionView,
        404: "problem",
        409: "problem",
        415: "problem",
        422: "problem",
        **WRITE_ERRORS,
    },
)
def restore_policy(source_id: str, version: int) -> Any:
    source_id = web.known_id(source_id)
    body = web.parse_body(RestoreRequest)
    with session_scope(web.settings()) as session:
        sources.restore_policy(
            session, source_id, version, changed_by=current_moderator().email, reason=body.reason
        )
        source = sources.get_source(session, source_id)
        view = PolicyVersionView.model_validate(
            policies.policy_history(session, source)[-1].as_json()
        )
    log.info("policy restored", source_id=source_id, restored_from=version)
    return web.json_response(view)


@_operation(
    "/v1/admin/deliveries",
    "GET",
    summary="Callback deliveries, newest first (state=dead: the ones that gave up)",
    responses={200: DeliveryList, 422: "problem", **ERRORS},
    parameters=DELIVERY_PARAMETERS,
)
def list_deliveries() -> Any:
    filters = _delivery_args()
    with session_scope(web.settings()) as session:
        rows = deliveries.list_deliveries(session, **filters)
    return web.json_response(DeliveryList(deliveries=rows))


@_operation(
    "/v1/admin/deliveries/<event_id>",
    "GET",
    summary="One delivery with every attempt (status, latency, error)",
    responses={200: DeliveryDetail, 404: "problem", **ERRORS},
)
def get_delivery(event_id: str) -> Any:
    event_id = web.known_id(event_id)
    with session_scope(web.settings()) as session:
        detail = delivery_detail(session, event_id)
    return web.json_response(detail)


@_operation(
    "/v1/admin/deliveries/<event_id>/redeliver",
    "POST",
    summary="Send a dead (or delivered) event again, with a fresh retry schedule",
    responses={202: deliveries.DeliverySummary, 404: "problem", 409: "problem", **WRITE_ERRORS},
)
def redeliver(event_id: str) -> Any:
    event_id = web.known_id(event_id)
    with session_scope(web.settings()) as session:
        deliveries.redeliver(session, event_id)
        (row,) = deliveries.list_deliveries(session, limit=1, event_id=event_id)
    web.queue_deliveries([event_id])
    log.info("event redelivered by hand", event_id=event_id)
    return web.json_response(row, 202)


def model_list(session: Session) -> ModelList:
    """The registry (seeded on first use) and the shadow model's report, for API and page."""
    registry.ensure_seeded(session, web.settings())
    models = [ModelView.model_validate(registry.describe(m)) for m in registry.list_models(session)]
    shadow = registry.shadow_model(session)
    report = (
        ShadowReportView.model_validate(shadow_report(session, shadow).as_json())
        if shadow is not None
        else None
    )
    return ModelList(models=models, shadow=report)


def model_version(value: str) -> str:
    """A path version no row can have is simply not found."""
    value = web.known_id(value)
    if len(value) > MAX_VERSION_CHARS:
        raise NotFound(f"no registered model {value[:50]!r}")
    return value


@_operation(
    "/v1/admin/models",
    "GET",
    summary="Every registered model with its state, and the shadow model's figures",
    responses={200: ModelList, **ERRORS},
)
def list_models() -> Any:
    with session_scope(web.settings()) as session:
        result = model_list(session)
    return web.json_response(result)


@_operation(
    "/v1/admin/models/<version>/shadow",
    "POST",
    summary="Score every comment with this model too, beside the live one (decides nothing)",
    responses={200: ModelView, 404: "problem", 409: "problem", **WRITE_ERRORS},
)
def shadow_model(version: str) -> Any:
    version = model_version(version)
    with session_scope(web.settings()) as session:
        registry.ensure_seeded(session, web.settings())
        model = registry.shadow(session, version, current_moderator().email)
        view = ModelView.model_validate(registry.describe(model))
    return web.json_response(view)


@_operation(
    "/v1/admin/models/<version>/promote",
    "POST",
    summary="Make this model live if the promotion gates pass (409 with what they found if "
    "not); force with a reason overrides them",
    request=PromoteRequest,
    request_required=False,
    responses={
        200: Promotion,
        404: "problem",
        409: "problem",
        415: "problem",
        422: "problem",
        **WRITE_ERRORS,
    },
)
def promote_model(version: str) -> Any:
    version = model_version(version)
    body = web.parse_body(PromoteRequest) if request.content_length else PromoteRequest()
    with session_scope(web.settings()) as session:
        registry.ensure_seeded(session, web.settings())
        model, results = registry.promote(
            session, version, current_moderator().email, force=body.force, reason=body.reason
        )
        result = Promotion(
            model=ModelView.model_validate(registry.describe(model)),
            gates=[GateView.model_validate(r.as_json()) for r in results],
        )
    return web.json_response(result)


@_operation(
    "/v1/admin/models/rollback",
    "POST",
    summary="Retire the live model and make live again the one it replaced",
    request=RollbackRequest,
    request_required=False,
    responses={200: ModelView, 409: "problem", 415: "problem", 422: "problem", **WRITE_ERRORS},
)
def rollback_model() -> Any:
    body = web.parse_body(RollbackRequest) if request.content_length else RollbackRequest()
    with session_scope(web.settings()) as session:
        registry.ensure_seeded(session, web.settings())
        restored = registry.rollback(session, current_moderator().email, body.reason)
        view = ModelView.model_validate(registry.describe(restored))
    return web.json_response(view)


@_operation(
    "/v1/admin/sources/<source_id>/authors/<author_id>",
    "GET",
    summary="Export everything stored about one author at a source (their comments, revisions, "
    "decisions, events, sanctions)",
    responses={200: AuthorExport, 404: "problem", **ERRORS},
)
def export_author(source_id: str, author_id: str) -> Any:
    source_id, author_id = web.known_id(source_id), web.known_id(author_id)
    with session_scope(web.settings()) as session:
        exported = AuthorExport.model_validate(
            author_data.export_author(session, source_id, author_id)
        )
    log.info("author exported", source_id=source_id, moderator_id=current_moderator().id)
    return web.json_response(exported)


@_operation(
    "/v1/admin/sources/<source_id>/authors/<author_id>",
    "DELETE",
    summary="Erase an author's personal data at a source (decisions kept without it); the CMS "
    "is told (author.erased)",
    responses={200: AuthorErased, 404: "problem", **WRITE_ERRORS},
)
def erase_author(source_id: str, author_id: str) -> Any:
    source_id, author_id = web.known_id(source_id), web.known_id(author_id)
    by = current_moderator().email
    with session_scope(web.settings()) as session:
        erasure = author_data.erase_author(session, source_id, author_id, by=by)
        body = AuthorErased(
            source_id=source_id,
            author_id=author_id,
            counts=erasure.counts,
            event_id=erasure.event.id,
        )
    web.queue_deliveries([body.event_id])
    return web.json_response(body)
