"""Moderator pages: the queue, the author view and the audit log.

Server-rendered and usable without JavaScript (every action is a CSRF-protected form);
static/review.js adds the keyboard, claims, bulk actions and undo on top, through /v1/review.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any, TypeVar

import structlog
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from core import appeals, authors, reports, review
from core.db import session_scope
from core.domain import Status
from core.explanations import card_labels
from core.reasons import describe_reasons
from core.tables import Comment, Source
from service.auth import current_moderator, login_required
from service.errors import ApiError
from service.layout import add_nav_link
from service.review import common, together
from service.web import queue_deliveries, safe_http_url, settings

log = structlog.stdlib.get_logger(__name__)

bp = Blueprint("pages", __name__)

Parsed = TypeVar("Parsed")


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
    filters = _from_args(common.queue_filters)
    if filters is None:
        return redirect(url_for("pages.queue"))
    together.mark_present(settings(), moderator)
    with session_scope(settings()) as session:
        try:
            page = review.list_queue(session, filters, moderator.id)
        except review.ReviewError as error:
            _flash_refusal(error)
            return redirect(url_for("pages.queue"))
        parents = review.parents_of(session, page.items)
        records = authors.author_records(session, page.items)
        notes = review.notes_for(session, [c.id for c in page.items])
        people = common.people_in_queue(session, moderator)
        items = [
            {
                "comment": c,
                "record": records[c.id],
                "parent": parents.get(c.id),
                "segments": review.highlight_segments(c.body, c.highlights),
                "reasons": describe_reasons(review.latest_reasons(c)),
                "why": card_labels(c.body, c.explanation, c.scores, review.latest_reasons(c)),
                "risk": review.risk_of(c),
                "thread_url": safe_http_url(c.thread_url),
                "suggested": review.suggested_reject_reason(c.scores),
                "notes": notes[c.id],
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
        people=[p for p in people if not p.you],
        last_action=together.last_action(settings(), moderator),
        statuses=[
            *(s.value for s in (Status.FLAGGED, Status.PENDING, Status.APPROVED, Status.REJECTED)),
            review.UNSCORED_TAB,
        ],
        args={k: v for k, v in request.args.items() if k not in ("status", "page") and v},
    )


def _decide_from_form(ids: Sequence[str], bulk: bool) -> None:
    moderator = current_moderator()
    status_value = request.form.get("status", "")
    if status_value not in (Status.APPROVED.value, Status.REJECTED.value):
        abort(400)
    status = Status(status_value)
    reason_code = request.form.get("reason_code") or None
    if status is Status.APPROVED and reason_code not in review.APPROVE_REASONS:
        reason_code = None
    note = (request.form.get("note") or "").strip() or None
    try:
        decision_ids, skipped = common.commit_decisions(
            moderator,
            lambda session: review.decide_comments(
                session, ids, moderator.id, review.Verdict(status, reason_code, note), bulk=bulk
            ),
            lambda outcome: ([d.id for d, _ in outcome.decided], outcome.skipped),
        )
    except review.ReviewError as error:
        _flash_refusal(error)
        return
    verb = "Approved" if status is Status.APPROVED else "Rejected"
    flash(f"{verb} {len(decision_ids)} comment{'s' if len(decision_ids) != 1 else ''}.", "info")
    if skipped:
        flash(f"Skipped {len(skipped)}: claimed by another moderator or gone.", "error")
    if decision_ids:
        flash(",".join(str(i) for i in decision_ids), "undo")


@bp.post("/moderate/comments/<comment_id>/decide")
@login_required
def decide(comment_id: str) -> Any:
    _decide_from_form([comment_id], bulk=False)
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
    _decide_from_form(ids[: review.MAX_BULK], bulk=True)
    return redirect(_return_to())


@bp.post("/moderate/undo")
@login_required
def undo() -> Any:
    moderator = current_moderator()
    raw = [part for part in (request.form.get("decision_ids") or "").split(",") if part.strip()]
    if not all(part.strip().isdigit() for part in raw):
        abort(400)
    wanted = [int(p) for p in raw] or common.last_action_ids(moderator)
    try:
        undone = common.commit_decisions(
            moderator,
            lambda session: review.undo(session, moderator.id, wanted),
            lambda outcome: len(outcome.decided),
            undo=True,
        )
    except review.ReviewError as error:
        _flash_refusal(error)
        return redirect(_return_to())
    flash(f"Undid {undone} decision{'s' if undone != 1 else ''}.", "info")
    return redirect(_return_to())


@bp.post("/moderate/comments/<comment_id>/notes")
@login_required
def add_note(comment_id: str) -> Any:
    moderator = current_moderator()
    with session_scope(settings()) as session:
        try:
            review.add_note(session, comment_id, moderator.id, request.form.get("body", ""))
        except review.ReviewError as error:
            _flash_refusal(error)
            return redirect(_return_to())
    flash("Note left for the next moderator.", "info")
    return redirect(_return_to())


@bp.get("/moderate/comments/<comment_id>/author")
@login_required
def author(comment_id: str) -> Any:
    with session_scope(settings()) as session:
        try:
            history = review.author_history(session, comment_id)
        except review.CommentNotFound:
            abort(404)
        rows = [
            {
                "comment": c,
                "reasons": describe_reasons(review.latest_reasons(c)),
                "risk": review.risk_of(c),
                "thread_url": safe_http_url(c.thread_url),
            }
            for c in history.comments
        ]
        key = authors.author_key(history.comment)
        source_id = history.comment.source_id
        active = authors.active_sanction(session, source_id, key)
        sanctions = authors.sanctions_of(session, source_id, key)
        source = session.get(Source, source_id)
        sanctioned_comments = source.sanctioned_comments if source is not None else "reject"
    return render_template(
        "author.html",
        comment=history.comment,
        rows=rows,
        outcomes=history.outcomes,
        active=active,
        sanctions=sanctions,
        sanctioned_comments=sanctioned_comments,
    )


def _change_author(comment_id: str, act: Any, done: str) -> Any:
    """A sanction change from the author page: committed, the CMS's event queued, flashed."""
    moderator = current_moderator()
    try:
        with session_scope(settings()) as session:
            comment: Comment = review.get_comment(session, comment_id)
            change: authors.SanctionChange = act(
                session, comment.source_id, authors.author_key(comment), moderator.email
            )
            event_id = change.event.id
    except review.CommentNotFound:
        abort(404)
    except authors.AuthorError as error:
        flash(str(error), "error")
        return redirect(url_for("pages.author", comment_id=comment_id))
    queue_deliveries([event_id])
    log.info("moderator changed an author's standing", comment_id=comment_id, event_id=event_id)
    flash(done, "info")
    return redirect(url_for("pages.author", comment_id=comment_id))


@bp.post("/moderate/comments/<comment_id>/author/sanction")
@login_required
def sanction(comment_id: str) -> Any:
    kind_value = request.form.get("kind", "")
    if kind_value not in {k.value for k in authors.SanctionKind}:
        abort(400)
    kind = authors.SanctionKind(kind_value)
    reason = request.form.get("reason", "")
    duration: timedelta | None = None
    if kind is authors.SanctionKind.SUSPENSION:
        days = (request.form.get("days") or "").strip()
        if not days.isdigit() or not 1 <= int(days) <= 3650:
            flash("A suspension lasts 1 to 3650 days.", "error")
            return redirect(url_for("pages.author", comment_id=comment_id))
        duration = timedelta(days=int(days))
    return _change_author(
        comment_id,
        lambda session, source_id, key, by: authors.sanction_author(
            session, source_id, key, kind, reason, by=by, duration=duration
        ),
        "Author banned." if kind is authors.SanctionKind.BAN else "Author suspended.",
    )


@bp.post("/moderate/comments/<comment_id>/author/reinstate")
@login_required
def reinstate(comment_id: str) -> Any:
    reason = request.form.get("reason", "")
    return _change_author(
        comment_id,
        lambda session, source_id, key, by: authors.reinstate_author(
            session, source_id, key, by=by, reason=reason
        ),
        "Author reinstated.",
    )


def _from_args(parse: Callable[[MultiDict[str, str]], Parsed]) -> Parsed | None:
    """What parse reads from the query, or None (the refusal flashed) when a value is unusable."""
    try:
        return parse(request.args)
    except ApiError as error:
        _flash_refusal(error)
        return None


@bp.get("/moderate/audit")
@login_required
def audit() -> Any:
    filters = _from_args(common.audit_filters)
    if filters is None:
        return redirect(url_for("pages.audit"))
    with session_scope(settings()) as session:
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
    filters = _from_args(common.audit_filters)
    if filters is None:
        return redirect(url_for("pages.audit"))
    return common.audit_csv_response(filters)


@bp.get("/moderate/appeals")
@login_required
def appeals_page() -> Any:
    moderator = current_moderator()
    state = _from_args(common.appeal_state)
    if state is None:
        return redirect(url_for("pages.appeals_page"))
    with session_scope(settings()) as session:
        found = appeals.list_appeals(session, state)
        rejections = {
            a.id: next(d for d in a.comment.decisions if d.id == a.decision_id) for a in found
        }
        emails = review.moderator_emails(
            session, [d.moderator_id for d in rejections.values() if d.moderator_id]
        )
        rows = [
            {
                "appeal": a,
                "reasons": describe_reasons(rejections[a.id].reasons),
                "rejected_by": emails.get(rejections[a.id].moderator_id or 0)
                or f"the model ({rejections[a.id].model_version})",
                "own": rejections[a.id].moderator_id == moderator.id,
            }
            for a in found
        ]
    return render_template(
        "appeals.html", rows=rows, state=state.value, states=[s.value for s in appeals.AppealState]
    )


@bp.post("/moderate/appeals/<appeal_id>/decision")
@login_required
def decide_appeal(appeal_id: str) -> Any:
    moderator = current_moderator()
    outcome = request.form.get("outcome", "")
    if outcome not in (appeals.AppealState.GRANTED.value, appeals.AppealState.DENIED.value):
        abort(400)
    note = (request.form.get("note") or "").strip() or None
    try:
        number = common.appeal_number(appeal_id)
        with session_scope(settings()) as session:
            resolution = appeals.resolve_appeal(
                session, number, moderator.id, appeals.AppealState(outcome), note
            )
            event_ids = [e.id for e in resolution.events]
    except appeals.AppealError as error:
        flash(str(error), "error")
        return redirect(url_for("pages.appeals_page"))
    queue_deliveries(event_ids)
    flash(f"Appeal {outcome}.", "info")
    return redirect(url_for("pages.appeals_page"))


@bp.get("/moderate/reported")
@login_required
def reported() -> Any:
    with session_scope(settings()) as session:
        rows = reports.list_reported(session)
        for row in rows:
            session.expunge(row.comment)
            for report in row.reports:
                session.expunge(report)
    return render_template("reported.html", rows=rows)


@bp.post("/moderate/comments/<comment_id>/reports/decision")
@login_required
def settle_reports(comment_id: str) -> Any:
    moderator = current_moderator()
    outcome = request.form.get("outcome", "")
    if outcome not in (reports.ReportState.UPHELD.value, reports.ReportState.DISMISSED.value):
        abort(400)
    try:
        with session_scope(settings()) as session:
            settled = reports.resolve_reports(
                session, comment_id, moderator.id, reports.ReportState(outcome)
            )
            event_ids = [e.id for e in settled.events]
    except reports.ReportError as error:
        flash(str(error), "error")
        return redirect(url_for("pages.reported"))
    queue_deliveries(event_ids)
    flash(f"Reports {outcome}.", "info")
    return redirect(url_for("pages.reported"))


@bp.record_once
def _add_nav_links(state: Any) -> None:
    add_nav_link(state.app, "pages.queue", "Queue")
    add_nav_link(state.app, "pages.reported", "Reported")
    add_nav_link(state.app, "pages.appeals_page", "Appeals")
    add_nav_link(state.app, "pages.audit", "Audit log")
