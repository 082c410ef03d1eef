"""Moderator pages: the queue, the author view, the audit log and (admins) the accounts page.

Server-rendered and usable without JavaScript (every action is a CSRF-protected form);
static/review.js adds the keyboard, claims, bulk actions and undo on top, through /v1/review.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import structlog
from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from werkzeug.datastructures import MultiDict
from wtforms import EmailField, SelectChoice, SelectField
from wtforms.validators import DataRequired, Length

from core import review
from core.accounts import AccountError, create_user, generate_password, set_active
from core.db import session_scope
from core.domain import LABELS, Role, Status
from core.reasons import describe_reason, describe_reasons
from core.settings import Settings
from core.tables import Source, User
from service.auth import admin_required, current_moderator, login_required
from service.errors import ApiError
from service.review import (
    audit_csv_response,
    audit_filters,
    latest_reasons,
    queue_deliveries,
    queue_filters,
    safe_http_url,
)

log = structlog.stdlib.get_logger(__name__)

bp = Blueprint("pages", __name__)

# Links in the page header: (endpoint, label, admin only). Other blueprints add theirs with
# add_nav_link(app, ...) so base.html stays the one layout.
NAV_EXTENSION = "moderation_nav"


def add_nav_link(app: Flask, endpoint: str, label: str, admin_only: bool = False) -> None:
    app.extensions.setdefault(NAV_EXTENSION, []).append((endpoint, label, admin_only))


class NewUserForm(FlaskForm):  # type: ignore[misc]
    email = EmailField("E-mail", validators=[DataRequired(), Length(max=320)])
    role = SelectField("Role", choices=[SelectChoice(r.value, r.value) for r in Role])


def _settings() -> Settings:
    settings: Settings = current_app.config["MODERATION_SETTINGS"]
    return settings


def _format_time(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else ""


def _return_to() -> str:
    """Back to the page the form was on (same-site paths only)."""
    target = request.form.get("return_to", "")
    if target.startswith("/moderate") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("pages.queue")


def _flash_refusal(error: review.ReviewError | ApiError) -> None:
    flash(str(error), "error")


def _source_names(session: Any) -> list[tuple[str, str]]:
    return [(s.id, s.name) for s in session.scalars(select(Source).order_by(Source.name))]


@bp.get("/moderate")
@login_required
def queue() -> Any:
    moderator = current_moderator()
    try:
        filters = queue_filters(request.args)
    except ApiError as error:
        _flash_refusal(error)
        return redirect(url_for("pages.queue"))
    with session_scope(_settings()) as session:
        try:
            page = review.list_queue(session, filters, moderator.id)
        except review.ReviewError as error:
            _flash_refusal(error)
            return redirect(url_for("pages.queue"))
        parents = review.parents_of(session, page.items)
        items = [
            {
                "comment": c,
                "parent": parents.get(c.id),
                "segments": review.highlight_segments(c.body, c.highlights),
                "reasons": describe_reasons(latest_reasons(c)),
                "risk": review.risk_of(c),
                "thread_url": safe_http_url(c.thread_url),
                "suggested": review.suggested_reject_reason(c.scores),
            }
            for c in page.items
        ]
        sources = _source_names(session)
    return render_template(
        "queue.html",
        page=page,
        items=items,
        filters=filters,
        sources=sources,
        statuses=[
            s.value for s in (Status.FLAGGED, Status.PENDING, Status.APPROVED, Status.REJECTED)
        ],
        args={k: v for k, v in request.args.items() if k not in ("status", "page") and v},
    )


def _decide_from_form(ids: Sequence[str], single: bool) -> None:
    moderator = current_moderator()
    status_value = request.form.get("status", "")
    if status_value not in (Status.APPROVED.value, Status.REJECTED.value):
        abort(400)
    status = Status(status_value)
    reason_code = request.form.get("reason_code") or None
    if status is Status.APPROVED and reason_code not in review.APPROVE_REASONS:
        reason_code = None
    note = (request.form.get("note") or "").strip() or None
    with session_scope(_settings()) as session:
        try:
            if single:
                decided = [review.decide(session, ids[0], moderator.id, status, reason_code, note)]
                skipped: dict[str, str] = {}
            else:
                outcome = review.bulk_decide(session, ids, moderator.id, status, reason_code, note)
                decided, skipped = outcome.decided, outcome.skipped
        except review.ReviewError as error:
            _flash_refusal(error)
            return
        decision_ids = [d.id for d, _ in decided]
        event_ids = [e.id for _, e in decided]
        decided_comments = [d.comment_id for d, _ in decided]
    queue_deliveries(event_ids)
    for comment_id in decided_comments:
        log.info("moderator decided", comment_id=comment_id, moderator_id=moderator.id)
    verb = "Approved" if status is Status.APPROVED else "Rejected"
    flash(f"{verb} {len(decision_ids)} comment{'s' if len(decision_ids) != 1 else ''}.", "info")
    if skipped:
        flash(f"Skipped {len(skipped)}: claimed by another moderator or gone.", "error")
    if decision_ids:
        flash(",".join(str(i) for i in decision_ids), "undo")


@bp.post("/moderate/comments/<comment_id>/decide")
@login_required
def decide(comment_id: str) -> Any:
    _decide_from_form([comment_id], single=True)
    return redirect(_return_to())


@bp.post("/moderate/bulk")
@login_required
def bulk_decide() -> Any:
    form: MultiDict[str, str] = request.form
    scope = request.args.get("scope") or form.get("scope")
    ids = form.getlist("page_ids") if scope == "page" else form.getlist("ids")
    if not ids:
        flash("Select at least one comment.", "error")
        return redirect(_return_to())
    _decide_from_form(ids[: review.MAX_BULK], single=False)
    return redirect(_return_to())


@bp.post("/moderate/undo")
@login_required
def undo() -> Any:
    moderator = current_moderator()
    raw = [part for part in (request.form.get("decision_ids") or "").split(",") if part.strip()]
    if not all(part.strip().isdigit() for part in raw):
        abort(400)
    with session_scope(_settings()) as session:
        try:
            outcome = review.undo(session, moderator.id, [int(p) for p in raw] or None)
        except review.ReviewError as error:
            _flash_refusal(error)
            return redirect(_return_to())
        event_ids = [e.id for _, e in outcome.decided]
    queue_deliveries(event_ids)
    flash(f"Undid {len(event_ids)} decision{'s' if len(event_ids) != 1 else ''}.", "info")
    return redirect(_return_to())


@bp.get("/moderate/comments/<comment_id>/author")
@login_required
def author(comment_id: str) -> Any:
    with session_scope(_settings()) as session:
        try:
            comment = review.get_comment(session, comment_id)
        except review.CommentNotFound:
            abort(404)
        comments = review.author_comments(session, comment)
        outcomes = {s.value: 0 for s in Status}
        for other in comments:
            outcomes[other.status] = outcomes.get(other.status, 0) + 1
        rows = [
            {
                "comment": c,
                "reasons": describe_reasons(latest_reasons(c)),
                "risk": review.risk_of(c),
                "thread_url": safe_http_url(c.thread_url),
            }
            for c in comments
        ]
    return render_template("author.html", comment=comment, rows=rows, outcomes=outcomes)


@bp.get("/moderate/audit")
@login_required
def audit() -> Any:
    try:
        filters = audit_filters(request.args)
    except ApiError as error:
        _flash_refusal(error)
        return redirect(url_for("pages.audit"))
    with session_scope(_settings()) as session:
        page = review.audit(session, filters)
        sources = _source_names(session)
    return render_template(
        "audit.html",
        page=page,
        filters=filters,
        sources=sources,
        args={k: v for k, v in request.args.items() if k != "page" and v},
    )


@bp.get("/moderate/audit.csv")
@login_required
def audit_csv() -> Any:
    try:
        filters = audit_filters(request.args)
    except ApiError as error:
        _flash_refusal(error)
        return redirect(url_for("pages.audit"))
    return audit_csv_response(filters)


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
                with session_scope(_settings()) as session:
                    user = create_user(session, form.email.data or "", form.role.data, password)
                    created = {"email": user.email, "role": user.role, "password": password}
                log.info("account created", user_id=user.id, role=user.role)
            except AccountError as error:
                flash(str(error), "error")
                status = 422
        else:
            status = 422
    with session_scope(_settings()) as session:
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
        return redirect(url_for("pages.users")), 303
    with session_scope(_settings()) as session:
        user = session.get(User, user_id)
        if user is None:
            return render_template("error.html", message="No such account."), 404
        set_active(session, user, active)
        email = user.email
    log.info("account enabled" if active else "account disabled", user_id=user_id)
    flash(f"{email} {'enabled' if active else 'disabled and signed out'}.", "info")
    return redirect(url_for("pages.users")), 303


def _nav_links() -> list[tuple[str, str]]:
    links = [("pages.queue", "Queue"), ("pages.audit", "Audit log")]
    is_admin = bool(current_user and current_user.is_authenticated and current_user.is_admin)
    if is_admin:
        links.append(("pages.users", "Accounts"))
    for endpoint, label, admin_only in current_app.extensions.get(NAV_EXTENSION, []):
        if is_admin or not admin_only:
            links.append((endpoint, label))
    return links


def init_pages(app: Flask) -> None:
    """Register the pages and the template helpers base.html relies on."""
    app.register_blueprint(bp)
    app.jinja_env.filters["when"] = _format_time
    app.jinja_env.filters["http_url"] = safe_http_url
    app.jinja_env.filters["describe_reason"] = describe_reason

    @app.context_processor
    def layout_helpers() -> dict[str, Any]:
        return {
            "nav_links": _nav_links,
            "labels": LABELS,
            "reject_reasons": review.REJECT_REASONS,
            "approve_reasons": review.APPROVE_REASONS,
        }
