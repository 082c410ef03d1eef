"""Admin pages under /admin: sources and their policy, deliveries, the accounts, the models.

Admins tune a CMS's policy, rotate its secret, resend dead callbacks and manage moderator
accounts without a shell. Every page is admin-only and posts CSRF-protected forms.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any, TypeVar

import structlog
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import EmailField, SelectChoice, SelectField
from wtforms.validators import DataRequired, Length

from core import deliveries, drift, policies, registry, sources, suggest, whatif
from core.accounts import AccountError, create_user, generate_password, set_active
from core.db import session_scope
from core.domain import LABELS, DeliveryState, Role
from core.tables import User
from core.thresholds import live_model_thresholds
from service.admin.api import model_list, model_version
from service.admin.charts import drift_chart
from service.admin.schemas import PAGE_SIZE, delivery_detail
from service.auth import admin_required, current_moderator
from service.layout import add_nav_link
from service.web import known_id, queue_deliveries, settings

log = structlog.stdlib.get_logger(__name__)

bp = Blueprint("admin_pages", __name__)

N = TypeVar("N", int, float)


class NewUserForm(FlaskForm):  # type: ignore[misc]
    email = EmailField("E-mail", validators=[DataRequired(), Length(max=320)])
    role = SelectField("Role", choices=[SelectChoice(r.value, r.value) for r in Role])


def _number_field(
    name: str, kind: Callable[[str], N], what: str, values: Mapping[str, str] | None = None
) -> N | None:
    """A number from the form (or `values`: the query string); blank is None."""
    raw = ((request.form if values is None else values).get(name) or "").strip()
    if not raw:
        return None
    try:
        return kind(raw)
    except ValueError as exc:
        raise sources.InvalidSourceChange(f"{name.replace('_', ' ')}: {what}") from exc


def _float_field(name: str) -> float | None:
    return _number_field(name, float, "not a number")


def _int_field(name: str) -> int | None:
    return _number_field(name, int, "not a whole number")


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
        unscored_mode=request.form.get("unscored_mode") or None,
        unscored_wait_seconds=_int_field("unscored_wait_seconds"),
    )


@bp.get("/admin/sources")
@admin_required
def sources_page() -> Any:
    model = live_model_thresholds(settings())
    with session_scope(settings()) as session:
        described = [sources.describe_source(s, model) for s in sources.list_sources(session)]
    return render_template("admin/sources.html", sources=described, labels=LABELS, rotated=None)


@bp.post("/admin/sources/<source_id>")
@admin_required
def update_source_form(source_id: str) -> Any:
    source_id = known_id(source_id)
    try:
        with session_scope(settings()) as session:
            sources.update_source(
                session,
                source_id,
                _form_changes(),
                changed_by=current_moderator().email,
                reason=(request.form.get("reason") or "").strip()[:1000] or None,
            )
    except sources.SourceNotFound:
        flash("That source no longer exists.", "error")
    except sources.InvalidSourceChange as error:
        flash(f"Not saved: {error}", "error")
    else:
        log.info("source updated", source_id=source_id)
        flash("Source saved.", "info")
    return redirect(url_for("admin_pages.sources_page") + f"#source-{source_id}")


@bp.post("/admin/sources/<source_id>/rotate-secret")
@admin_required
def rotate_secret_form(source_id: str) -> Any:
    source_id = known_id(source_id)
    hours = _float_field("overlap_hours")
    overlap = timedelta(hours=hours if hours is not None else 24)
    model = live_model_thresholds(settings())
    try:
        with session_scope(settings()) as session:
            rotation = sources.rotate_secret(session, source_id, overlap)
            rotated = {
                "id": source_id,
                "secret": rotation.secret,
                "previous_expires_at": rotation.previous_expires_at,
            }
            described = [sources.describe_source(s, model) for s in sources.list_sources(session)]
    except sources.SourceNotFound:
        flash("That source no longer exists.", "error")
        return redirect(url_for("admin_pages.sources_page"))
    except sources.InvalidSourceChange as error:
        flash(f"Not rotated: {error}", "error")
        return redirect(url_for("admin_pages.sources_page"))
    log.info("source secret rotated", source_id=source_id)
    # The new secret is in this response only: never flashed, stored in the session or logged.
    return render_template("admin/sources.html", sources=described, labels=LABELS, rotated=rotated)


@bp.get("/admin/deliveries")
@admin_required
def deliveries_page() -> Any:
    state = request.args.get("state", DeliveryState.DEAD.value)
    if state not in {s.value for s in DeliveryState} | {"all"}:
        state = DeliveryState.DEAD.value
    with session_scope(settings()) as session:
        rows = deliveries.list_deliveries(
            session, state=None if state == "all" else state, limit=PAGE_SIZE
        )
    return render_template("admin/deliveries.html", deliveries=rows, state=state)


@bp.get("/admin/deliveries/<event_id>")
@admin_required
def delivery_page(event_id: str) -> Any:
    event_id = known_id(event_id)
    try:
        with session_scope(settings()) as session:
            detail = delivery_detail(session, event_id)
    except deliveries.EventNotFound:
        return render_template("error.html", message="No such delivery."), 404
    return render_template("admin/delivery.html", detail=detail)


@bp.post("/admin/deliveries/<event_id>/redeliver")
@admin_required
def redeliver_form(event_id: str) -> Any:
    event_id = known_id(event_id)
    try:
        with session_scope(settings()) as session:
            deliveries.redeliver(session, event_id)
    except deliveries.EventNotFound:
        flash("No such delivery.", "error")
    except deliveries.RedeliveryRefused:
        flash("That delivery is already pending.", "info")
    else:
        queue_deliveries([event_id])
        log.info("event redelivered by hand", event_id=event_id)
        flash(f"Delivery {event_id} queued again.", "info")
    return redirect(url_for("admin_pages.deliveries_page", state=request.args.get("state", "dead")))


@bp.route("/admin/users", methods=["GET", "POST"])
@admin_required
def users() -> Any:
    form = NewUserForm()
    created: dict[str, str] | None = None
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            password = generate_password()
            try:
                with session_scope(settings()) as session:
                    user = create_user(session, form.email.data or "", form.role.data, password)
                    created = {"email": user.email, "role": user.role, "password": password}
                log.info("account created", user_id=user.id, role=user.role)
            except AccountError as error:
                flash(str(error), "error")
                status = 422
        else:
            status = 422
    with session_scope(settings()) as session:
        accounts = list(session.scalars(select(User).order_by(User.email)))
    # The new password is shown in this response only, never stored in the session or a log.
    return render_template("users.html", form=form, accounts=accounts, created=created), status


@bp.post("/admin/users/<int:user_id>/active")
@admin_required
def set_user_active(user_id: int) -> Any:
    """Disable (or enable again) an account; disabling signs it out everywhere at once."""
    active = request.form.get("active") == "1"
    if user_id == current_moderator().id and not active:
        flash("You cannot disable your own account.", "error")
        return redirect(url_for("admin_pages.users")), 303
    with session_scope(settings()) as session:
        user = session.get(User, user_id)
        if user is None:
            return render_template("error.html", message="No such account."), 404
        set_active(session, user, active)
        email = user.email
    log.info("account enabled" if active else "account disabled", user_id=user_id)
    flash(f"{email} {'enabled' if active else 'disabled and signed out'}.", "info")
    return redirect(url_for("admin_pages.users")), 303


@bp.get("/admin/models")
@admin_required
def models_page() -> Any:
    model = live_model_thresholds(settings())
    with session_scope(settings()) as session:
        listed = model_list(session)
        changes = [
            {**registry.describe_change(c), "changed_at": c.changed_at}
            for c in registry.history(session)[-20:]
        ]
        followers = [
            sources.describe_source(source, model) for source in sources.list_sources(session)
        ]
    return render_template(
        "admin/models.html",
        models=listed.models,
        shadow=listed.shadow,
        changes=list(reversed(changes)),
        sources=followers,
        labels=LABELS,
    )


def _model_form(change: str, version: str | None = None) -> Any:
    """Run one registry change from the models page; a refusal is flashed, in words."""
    by = current_moderator().email
    reason = (request.form.get("reason") or "").strip() or None
    try:
        with session_scope(settings()) as session:
            registry.ensure_seeded(session, settings())
            if change == "shadow" and version is not None:
                registry.shadow(session, version, by)
                message = f"{version} runs in shadow."
            elif change == "promote" and version is not None:
                force = request.form.get("force") == "on"
                registry.promote(session, version, by, force=force, reason=reason)
                message = f"{version} is live; workers switch to it within seconds."
            else:
                message = f"Rolled back: {registry.rollback(session, by, reason).version} is live."
    except registry.RegistryError as error:
        flash(f"Not changed: {error}", "error")
    else:
        flash(message, "info")
    return redirect(url_for("admin_pages.models_page"))


@bp.post("/admin/models/<version>/shadow")
@admin_required
def shadow_model_form(version: str) -> Any:
    return _model_form("shadow", model_version(version))


@bp.post("/admin/models/<version>/promote")
@admin_required
def promote_model_form(version: str) -> Any:
    return _model_form("promote", model_version(version))


@bp.post("/admin/models/rollback")
@admin_required
def rollback_model_form() -> Any:
    return _model_form("rollback")


@bp.record_once
def _add_nav_links(state: Any) -> None:
    add_nav_link(state.app, "admin_pages.users", "Accounts", admin_only=True)
    add_nav_link(state.app, "admin_pages.sources_page", "Sources", admin_only=True)
    add_nav_link(state.app, "admin_pages.deliveries_page", "Deliveries", admin_only=True)
    add_nav_link(state.app, "admin_pages.models_page", "Models", admin_only=True)


@bp.get("/admin/sources/<source_id>/policy")
@admin_required
def policy_page(source_id: str) -> Any:
    """A source's policy history with restore buttons, its drift, and a what-if form."""
    source_id = known_id(source_id)
    model = live_model_thresholds(settings())
    proposal: dict[str, dict[str, float | None]] = {}
    result = None
    error = None
    suggested = None
    suggest_error = None
    with session_scope(settings()) as session:
        try:
            source = sources.get_source(session, source_id)
        except sources.SourceNotFound:
            flash("That source no longer exists.", "error")
            return redirect(url_for("admin_pages.sources_page"))
        described = sources.describe_source(source, model)
        history = list(reversed(policies.policy_history(session, source)))
        found = drift.check_drift(session, source).as_json()
        chart = drift_chart(
            drift.psi_days(session, source_id),
            found["override"]["days"],
            found["override"]["mean_30_days"],
        )
        if request.args.get("suggest"):
            try:
                suggested = _suggestion(session, source, model)
            except (ValueError, sources.InvalidSourceChange) as exc:
                # TargetRefused (too few labels, a target out of reach) is a ValueError too.
                suggest_error = str(exc)
        if request.args.get("what_if"):
            try:
                for label in LABELS:
                    flag = _number_arg(f"{label}_flag")
                    reject = _number_arg(f"{label}_reject")
                    if flag is not None or reject is not None:
                        current = described["thresholds"][label]
                        proposal[label] = {
                            "flag": flag if flag is not None else current["flag"],
                            "reject": reject if reject is not None else current["reject"],
                        }
                days = int(request.args.get("days") or whatif.DEFAULT_DAYS)
                policy = whatif.proposed_policy(source, model, proposal)
                result = whatif.what_if(whatif.load_history(session, source_id, days), policy)
            except (ValueError, sources.InvalidSourceChange) as exc:
                error = str(exc)
    return render_template(
        "admin/policy.html",
        source=described,
        history=history,
        drift=found,
        labels=LABELS,
        what_if=result.as_json() if result is not None else None,
        error=error,
        chart=chart,
        suggested=suggested,
        suggest_error=suggest_error,
        suggest_args=_suggest_args(),
        targets=suggest.TARGETS,
    )


def _suggest_args() -> dict[str, str]:
    """The suggest form's fields as sent (shown again in the form)."""
    return {
        "label": request.args.get("label") or LABELS[0],
        "target": request.args.get("target") or suggest.TARGETS[0],
        "value": (request.args.get("value") or "").strip(),
        "days": (request.args.get("days") or str(whatif.DEFAULT_DAYS)).strip(),
    }


def _target(values: Mapping[str, str]) -> tuple[str, str, float, int]:
    """(label, target, value, days) from a suggest form, refused with a readable message."""
    label = values.get("label") or ""
    if label not in LABELS:
        raise sources.InvalidSourceChange(f"unknown label {label!r}")
    target = values.get("target") or ""
    if target not in suggest.TARGETS:
        raise sources.InvalidSourceChange(f"unknown target {target!r}")
    value = _number_field("value", float, "not a number", values)
    if value is None:
        raise sources.InvalidSourceChange("give the target's value")
    days = _number_field("days", int, "not a whole number", values) or whatif.DEFAULT_DAYS
    return label, target, value, days


def _suggestion(session: Any, source: Any, model: Mapping[str, float]) -> dict[str, Any]:
    label, target, value, days = _target(request.args)
    history = whatif.load_history(session, source.id, days)
    current = whatif.proposed_policy(source, model)
    found = suggest.suggest_target(history, current, label, target, value, source_name=source.name)
    before = current.for_label(label)
    return {
        **found.as_json(),
        "label": label,
        "kind": target,
        "value": value,
        "days": days,
        "now": {"flag": before.flag, "reject": before.reject},
        "after": found.thresholds[label],
    }


@bp.post("/admin/sources/<source_id>/policy/suggest")
@admin_required
def save_suggestion_form(source_id: str) -> Any:
    """Save the thresholds a suggestion showed, through the versioned-policy path."""
    source_id = known_id(source_id)
    try:
        label, target, value, _ = _target(request.form)
        flag = _float_field("flag")
        if flag is None:
            raise sources.InvalidSourceChange("no flag threshold to save")
        reject = _float_field("reject")
        with session_scope(settings()) as session:
            updated = sources.update_source(
                session,
                source_id,
                sources.SourceChanges(thresholds={label: {"flag": flag, "reject": reject}}),
                changed_by=current_moderator().email,
                reason=suggest.save_reason(label, target, value),
            )
            flash(
                f"Saved the suggested {label} thresholds as version {updated.policy_version}.",
                "info",
            )
    except (sources.SourceNotFound, sources.InvalidSourceChange) as error:
        flash(f"Not saved: {error}", "error")
    return redirect(url_for("admin_pages.policy_page", source_id=source_id))


def _number_arg(name: str) -> float | None:
    return _number_field(name, float, "not a number", request.args)


@bp.post("/admin/sources/<source_id>/policy/<int:version>/restore")
@admin_required
def restore_policy_form(source_id: str, version: int) -> Any:
    source_id = known_id(source_id)
    reason = (request.form.get("reason") or "").strip()[:1000]
    try:
        with session_scope(settings()) as session:
            restored = sources.restore_policy(
                session, source_id, version, changed_by=current_moderator().email, reason=reason
            )
            flash(f"Restored version {version} as version {restored.version}.", "info")
    except (
        sources.SourceNotFound,
        sources.InvalidSourceChange,
        policies.PolicyVersionNotFound,
        policies.PolicyInForce,
    ) as error:
        flash(f"Not restored: {error}", "error")
    return redirect(url_for("admin_pages.policy_page", source_id=source_id))
