"""The review API under /v1/review: the moderator page's data and actions, for scripts too."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any, TypeVar

import structlog
from flask import Blueprint, request
from sqlalchemy.orm import Session

from core import appeals, authors, reports, review, sources
from core.db import session_scope
from core.domain import LABELS, Actor, Status
from core.explanations import why
from core.review import Sort
from core.tables import AuthorSanction, Comment, Decision, Event
from service.auth import current_moderator, moderator_token_or_session_required
from service.errors import NotFound, answer_domain_errors
from service.openapi import operation
from service.review import common, together
from service.review.schemas import (
    AppealDecision,
    AppealItem,
    AppealList,
    AppealOut,
    AuditResponse,
    Author,
    AuthorResponse,
    BulkDecideRequest,
    ClaimResponse,
    CommentDetail,
    DecideRequest,
    DecideResponse,
    DecisionOut,
    ExplainedWord,
    LabelExplanation,
    LastActionOut,
    NoteOut,
    NoteRequest,
    Parent,
    PresenceResponse,
    QueueResponse,
    ReinstateRequest,
    ReportedItem,
    ReportedList,
    ReportOut,
    ReportsDecision,
    ReportsSettled,
    ReviewItem,
    SanctionList,
    SanctionOut,
    SanctionRequest,
    Thread,
    UndoRequest,
)
from service.schemas import from_row
from service.web import (
    TEXT_QUERY_SCHEMA,
    json_response,
    known_id,
    parse_body,
    queue_deliveries,
    refuse_empty_args,
    safe_http_url,
    settings,
    text_arg,
)

log = structlog.stdlib.get_logger(__name__)

bp = Blueprint("review", __name__, url_prefix="/v1/review")
answer_domain_errors(bp)

F = TypeVar("F", bound=Callable[..., Any])

SECURITY = ["moderatorToken"]
TAGS = ["review"]
ERRORS: dict[int, str] = {401: "problem", 422: "problem"}


def _operation(rule: str, method: str, **doc: Any) -> Callable[[F], F]:
    """A route of this API: documented under its tag, for moderators only."""
    return operation(
        bp,
        rule,
        method=method,
        guard=moderator_token_or_session_required,
        tags=TAGS,
        security=SECURITY,
        **doc,
    )


PAGING_PARAMETERS: list[dict[str, Any]] = [
    {"name": name, "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100_000}}
    for name in ("page", "per_page")
]
QUEUE_PARAMETERS: list[dict[str, Any]] = [
    # A status, or "unscored": what the scorer has not decided within the source's wait.
    {"name": "status", "in": "query", "schema": {"enum": common.QUEUE_TABS}},
    {"name": "sort", "in": "query", "schema": {"enum": [s.value for s in Sort]}},
    {"name": "source", "in": "query", "schema": TEXT_QUERY_SCHEMA},
    {"name": "thread", "in": "query", "schema": TEXT_QUERY_SCHEMA},
    {"name": "label", "in": "query", "schema": {"enum": list(LABELS)}},
    {"name": "author", "in": "query", "schema": TEXT_QUERY_SCHEMA},
    *PAGING_PARAMETERS,
]
AUDIT_PARAMETERS: list[dict[str, Any]] = [
    {"name": "actor", "in": "query", "schema": {"enum": [a.value for a in Actor]}},
    {"name": "status", "in": "query", "schema": {"enum": [s.value for s in Status]}},
    {"name": "moderator", "in": "query", "schema": TEXT_QUERY_SCHEMA},
    {"name": "source", "in": "query", "schema": TEXT_QUERY_SCHEMA},
    {"name": "comment", "in": "query", "schema": TEXT_QUERY_SCHEMA},
    {"name": "since", "in": "query", "schema": {"type": "string", "format": "date-time"}},
    {"name": "until", "in": "query", "schema": {"type": "string", "format": "date-time"}},
    *PAGING_PARAMETERS,
]


def item_out(
    comment: Comment,
    parent: Comment | None,
    viewer_id: int,
    notes: Sequence[review.Note] = (),
) -> ReviewItem:
    return from_row(
        ReviewItem,
        comment,
        author=Author(name=comment.author_name, id=comment.author_id),
        thread=Thread(
            id=comment.thread_id,
            title=comment.thread_title,
            url=safe_http_url(comment.thread_url),
        ),
        parent=from_row(Parent, parent) if parent is not None else None,
        risk=review.risk_of(comment),
        highlights=[[int(s), int(e)] for s, e, *_ in comment.highlights or []],
        explanation=[
            LabelExplanation(
                label=item.label,
                words=[ExplainedWord(**vars(word)) for word in item.words],
            )
            for item in why(comment.body, comment.explanation, comment.scores)
        ],
        reasons=review.latest_reasons(comment),
        suggested_reject_reason=review.suggested_reject_reason(comment.scores),
        claimed_by_me=comment.claimed_by == viewer_id,
        notes=[NoteOut.from_note(note) for note in notes],
    )


def decision_out(
    decision: Decision, moderator: str | None, event: Event | None = None
) -> DecisionOut:
    return from_row(
        DecisionOut,
        decision,
        moderator=moderator,
        reasons=list(decision.reasons),
        event_id=event.id if event is not None else None,
    )


def _paging(page: review.QueuePage | review.AuditPage) -> dict[str, int]:
    return {"total": page.total, "page": page.page, "per_page": page.per_page, "pages": page.pages}


def decide_response(outcome: review.BulkOutcome, emails: Mapping[int, str]) -> DecideResponse:
    decisions = [decision_out(d, emails.get(d.moderator_id or 0), e) for d, e in outcome.decided]
    undo_until = (
        max(d.created_at for d, _ in outcome.decided) + review.UNDO_WINDOW
        if outcome.decided
        else None
    )
    return DecideResponse(decisions=decisions, skipped=outcome.skipped, undo_until=undo_until)


@_operation(
    "/queue",
    "GET",
    summary="List comments awaiting review (flagged by default), sorted and filtered",
    responses={200: QueueResponse, **ERRORS},
    parameters=QUEUE_PARAMETERS,
)
def list_queue() -> Any:
    moderator = current_moderator()
    refuse_empty_args(request.args, QUEUE_PARAMETERS)
    filters = common.queue_filters(request.args)
    together.mark_present(settings(), moderator)
    with session_scope(settings()) as session:
        page = review.list_queue(session, filters, moderator.id)
        parents = review.parents_of(session, page.items)
        records = authors.author_records(session, page.items)
        notes = review.notes_for(session, [c.id for c in page.items])
        body = QueueResponse(
            items=[
                item_out(c, parents.get(c.id), moderator.id, notes[c.id]).model_copy(
                    update={"author_record": records[c.id].as_json()}
                )
                for c in page.items
            ],
            counts=page.counts,
            held=page.held,
            **_paging(page),
        )
    return json_response(body)


@_operation(
    "/comments/<comment_id>",
    "GET",
    summary="One comment with its context, scores, highlights and decision history",
    responses={200: CommentDetail, 401: "problem", 404: "problem"},
)
def get_comment(comment_id: str) -> Any:
    moderator = current_moderator()
    with session_scope(settings()) as session:
        comment = review.get_comment(session, comment_id)
        emails = review.moderator_emails(
            session, [d.moderator_id for d in comment.decisions if d.moderator_id]
        )
        notes = review.notes_for(session, [comment.id])[comment.id]
        item = item_out(comment, review.parent_of(session, comment), moderator.id, notes)
        body = CommentDetail(
            **item.model_dump(),
            decisions=[decision_out(d, emails.get(d.moderator_id or 0)) for d in comment.decisions],
        )
    return json_response(body)


@_operation(
    "/comments/<comment_id>/claim",
    "POST",
    summary="Claim a comment so no other moderator reviews it (expires after 5 minutes)",
    responses={200: ClaimResponse, 401: "problem", 404: "problem", 409: "problem"},
)
def claim(comment_id: str) -> Any:
    return _change_claim(review.claim, comment_id)


@_operation(
    "/comments/<comment_id>/claim",
    "DELETE",
    summary="Release your claim on a comment",
    responses={200: ClaimResponse, 401: "problem", 404: "problem"},
)
def release(comment_id: str) -> Any:
    return _change_claim(review.release, comment_id)


def _change_claim(change: Callable[[Session, str, int], Comment], comment_id: str) -> Any:
    """Claim or release a comment for the signed-in moderator; the claim as it stands after."""
    moderator = current_moderator()
    with session_scope(settings()) as session:
        comment = change(session, comment_id, moderator.id)
        body = ClaimResponse(id=comment.id, claimed_until=comment.claimed_until)
    return json_response(body)


def _decide(ids: Sequence[str], request_body: DecideRequest, bulk: bool) -> Any:
    moderator = current_moderator()
    verdict = review.Verdict(
        Status(request_body.status), request_body.reason_code, request_body.note
    )
    body = common.commit_decisions(
        moderator,
        lambda session: review.decide_comments(session, ids, moderator.id, verdict, bulk=bulk),
        lambda outcome: decide_response(outcome, {moderator.id: moderator.email}),
    )
    return json_response(body, 201 if body.decisions else 200)


@_operation(
    "/comments/<comment_id>/decision",
    "POST",
    summary="Approve or reject one comment (a rejection needs a reason code)",
    request=DecideRequest,
    responses={
        201: DecideResponse,
        400: "problem",
        404: "problem",
        409: "problem",
        415: "problem",
        **ERRORS,
    },
)
def decide(comment_id: str) -> Any:
    return _decide([comment_id], parse_body(DecideRequest), bulk=False)


@_operation(
    "/decisions",
    "POST",
    summary="Approve or reject many comments at once; comments claimed by others are skipped",
    request=BulkDecideRequest,
    responses={201: DecideResponse, 200: DecideResponse, 400: "problem", 415: "problem", **ERRORS},
)
def bulk_decide() -> Any:
    body = parse_body(BulkDecideRequest)
    return _decide(body.ids, body, bulk=True)


@_operation(
    "/undo",
    "POST",
    summary="Undo your last decision (or the given ones) within 10 seconds",
    request=UndoRequest,
    request_required=False,
    responses={201: DecideResponse, 400: "problem", 409: "problem", 415: "problem", **ERRORS},
)
def undo() -> Any:
    moderator = current_moderator()
    request_body = parse_body(UndoRequest) if request.content_length else UndoRequest()
    wanted = request_body.decision_ids or common.last_action_ids(moderator)
    body = common.commit_decisions(
        moderator,
        lambda session: review.undo(session, moderator.id, wanted),
        lambda outcome: decide_response(outcome, {moderator.id: moderator.email}),
        undo=True,
    )
    body.undo_until = None
    return json_response(body, 201)


@_operation(
    "/undo",
    "GET",
    summary="Your last action while it can still be undone (its decisions and until when)",
    responses={200: LastActionOut, 401: "problem", 404: "problem"},
)
def last_action() -> Any:
    action = together.last_action(settings(), current_moderator())
    if action is None:
        raise NotFound("nothing to undo")
    return json_response(LastActionOut(decision_ids=action.decision_ids, undo_until=action.until))


@_operation(
    "/presence",
    "GET",
    summary="Who is in the queue now and which comments each of them holds",
    responses={200: PresenceResponse, 401: "problem"},
)
def presence() -> Any:
    moderator = current_moderator()
    with session_scope(settings()) as session:
        people = common.people_in_queue(session, moderator)
    return json_response(PresenceResponse(moderators=people))


@_operation(
    "/comments/<comment_id>/notes",
    "POST",
    summary="Leave a note on a comment for the next moderator (never sent to the CMS)",
    request=NoteRequest,
    responses={201: NoteOut, 400: "problem", 404: "problem", 415: "problem", **ERRORS},
)
def add_note(comment_id: str) -> Any:
    moderator = current_moderator()
    request_body = parse_body(NoteRequest)
    with session_scope(settings()) as session:
        note = review.add_note(session, comment_id, moderator.id, request_body.body)
        body = NoteOut.from_note(note)
    log.info("moderator left a note", comment_id=note.comment_id, moderator_id=moderator.id)
    return json_response(body, 201)


@_operation(
    "/comments/<comment_id>/author",
    "GET",
    summary="The author's comments at the same source and their outcomes",
    responses={200: AuthorResponse, 401: "problem", 404: "problem"},
)
def author(comment_id: str) -> Any:
    moderator = current_moderator()
    with session_scope(settings()) as session:
        history = review.author_history(session, comment_id)
        parents = review.parents_of(session, history.comments)
        active = authors.active_sanction(
            session, history.comment.source_id, authors.author_key(history.comment)
        )
        body = AuthorResponse(
            author=Author(name=history.comment.author_name, id=history.comment.author_id),
            comments=[item_out(c, parents.get(c.id), moderator.id) for c in history.comments],
            outcomes=history.outcomes,
            sanction=sanction_out(active) if active is not None else None,
        )
    return json_response(body)


def sanction_out(sanction: AuthorSanction, event_id: str | None = None) -> SanctionOut:
    return SanctionOut.model_validate({**authors.sanction_json(sanction), "event_id": event_id})


AUTHOR_PATH = "/sources/<source_id>/authors/<author_id>"


@_operation(
    f"{AUTHOR_PATH}/sanctions",
    "GET",
    summary="An author's suspensions and bans at a source, newest first, and the one in force",
    responses={200: SanctionList, 401: "problem", 404: "problem"},
)
def list_sanctions(source_id: str, author_id: str) -> Any:
    source_id, author_id = known_id(source_id), known_id(author_id)
    with session_scope(settings()) as session:
        sources.get_source(session, source_id)
        history = authors.sanctions_of(session, source_id, author_id)
        active = authors.active_sanction(session, source_id, author_id)
        body = SanctionList(
            active=sanction_out(active) if active is not None else None,
            sanctions=[sanction_out(s) for s in history],
        )
    return json_response(body)


def _change_sanction(act: Callable[[Session], authors.SanctionChange]) -> SanctionOut:
    """Run a sanction change in one committed session, then queue the event for the CMS."""
    with session_scope(settings()) as session:
        change = act(session)
        body = sanction_out(change.sanction, change.event.id)
    queue_deliveries([change.event.id])
    return body


@_operation(
    f"{AUTHOR_PATH}/sanctions",
    "POST",
    summary="Suspend an author for some days, or ban them; the CMS is told (author.*)",
    request=SanctionRequest,
    responses={201: SanctionOut, 400: "problem", 404: "problem", 415: "problem", **ERRORS},
)
def add_sanction(source_id: str, author_id: str) -> Any:
    source_id, author_id = known_id(source_id), known_id(author_id)
    request_body = parse_body(SanctionRequest)
    moderator = current_moderator()
    days = request_body.days
    body = _change_sanction(
        lambda session: authors.sanction_author(
            session,
            source_id,
            author_id,
            authors.SanctionKind(request_body.kind),
            request_body.reason,
            by=moderator.email,
            duration=timedelta(days=days) if days is not None else None,
        )
    )
    return json_response(body, 201)


@_operation(
    f"{AUTHOR_PATH}/reinstate",
    "POST",
    summary="Lift an author's suspension or ban by hand; the CMS is told (author.reinstated)",
    request=ReinstateRequest,
    responses={
        200: SanctionOut,
        400: "problem",
        404: "problem",
        409: "problem",
        415: "problem",
        **ERRORS,
    },
)
def reinstate(source_id: str, author_id: str) -> Any:
    source_id, author_id = known_id(source_id), known_id(author_id)
    request_body = parse_body(ReinstateRequest)
    moderator = current_moderator()
    body = _change_sanction(
        lambda session: authors.reinstate_author(
            session, source_id, author_id, by=moderator.email, reason=request_body.reason
        )
    )
    return json_response(body)


@_operation(
    "/audit",
    "GET",
    summary="Every decision, by the model or a moderator: who, when, why (newest first)",
    responses={200: AuditResponse, **ERRORS},
    parameters=AUDIT_PARAMETERS,
)
def audit() -> Any:
    refuse_empty_args(request.args, AUDIT_PARAMETERS)
    filters = common.audit_filters(request.args)
    with session_scope(settings()) as session:
        page = review.audit(session, filters)
        body = AuditResponse(
            decisions=[
                decision_out(r.decision, r.moderator_email).with_comment(r.comment)
                for r in page.rows
            ],
            **_paging(page),
        )
    return json_response(body)


@_operation(
    "/audit.csv",
    "GET",
    summary="The audit log as CSV (same filters as /audit, oldest first, all pages)",
    responses={200: "text/csv", **ERRORS},
    parameters=AUDIT_PARAMETERS,
)
def audit_csv() -> Any:
    refuse_empty_args(request.args, AUDIT_PARAMETERS)
    return common.audit_csv_response(common.audit_filters(request.args))


SOURCE_PARAMETER: dict[str, Any] = {"name": "source", "in": "query", "schema": TEXT_QUERY_SCHEMA}
APPEAL_PARAMETERS: list[dict[str, Any]] = [
    {"name": "state", "in": "query", "schema": {"enum": [s.value for s in appeals.AppealState]}},
    SOURCE_PARAMETER,
]
REPORTED_PARAMETERS: list[dict[str, Any]] = [SOURCE_PARAMETER]


@_operation(
    "/appeals",
    "GET",
    summary="Authors' appeals of rejections (open by default), oldest first",
    responses={200: AppealList, **ERRORS},
    parameters=APPEAL_PARAMETERS,
)
def list_appeals() -> Any:
    moderator = current_moderator()
    refuse_empty_args(request.args, APPEAL_PARAMETERS)
    state = common.appeal_state(request.args)
    source_id = text_arg(request.args, "source")
    with session_scope(settings()) as session:
        rows = appeals.list_appeals(session, state, source_id=source_id)
        emails = review.moderator_emails(
            session, [d.moderator_id for a in rows for d in a.comment.decisions if d.moderator_id]
        )
        body = AppealList(
            appeals=[
                AppealItem(
                    **appeals.appeal_json(a),
                    comment=item_out(a.comment, None, moderator.id),
                    rejection=decision_out(
                        rejection := next(d for d in a.comment.decisions if d.id == a.decision_id),
                        emails.get(rejection.moderator_id or 0),
                    ),
                )
                for a in rows
            ]
        )
    return json_response(body)


@_operation(
    "/appeals/<appeal_id>/decision",
    "POST",
    summary="Grant (approve the comment) or deny an appeal; not by the moderator who rejected",
    request=AppealDecision,
    responses={
        200: AppealOut,
        400: "problem",
        403: "problem",
        404: "problem",
        409: "problem",
        415: "problem",
        **ERRORS,
    },
)
def decide_appeal(appeal_id: str) -> Any:
    number = common.appeal_number(appeal_id)
    request_body = parse_body(AppealDecision)
    moderator = current_moderator()
    with session_scope(settings()) as session:
        resolution = appeals.resolve_appeal(
            session,
            number,
            moderator.id,
            appeals.AppealState(request_body.outcome),
            request_body.note,
        )
        body = AppealOut.model_validate(appeals.appeal_json(resolution.appeal))
        event_ids = [e.id for e in resolution.events]
    queue_deliveries(event_ids)
    return json_response(body)


@_operation(
    "/reported",
    "GET",
    summary="Approved comments whose readers' reports reach the source's threshold",
    responses={200: ReportedList, **ERRORS},
    parameters=REPORTED_PARAMETERS,
)
def list_reported() -> Any:
    moderator = current_moderator()
    refuse_empty_args(request.args, REPORTED_PARAMETERS)
    source_id = text_arg(request.args, "source")
    with session_scope(settings()) as session:
        body = ReportedList(
            items=[
                ReportedItem(
                    comment=item_out(r.comment, None, moderator.id),
                    reports=[ReportOut.model_validate(reports.report_json(x)) for x in r.reports],
                    weight=r.weight,
                    threshold=r.threshold,
                )
                for r in reports.list_reported(session, source_id=source_id)
            ]
        )
    return json_response(body)


@_operation(
    "/comments/<comment_id>/reports/decision",
    "POST",
    summary="Uphold a comment's open reports (it is rejected) or dismiss them",
    request=ReportsDecision,
    responses={
        200: ReportsSettled,
        400: "problem",
        404: "problem",
        409: "problem",
        415: "problem",
        **ERRORS,
    },
)
def settle_reports(comment_id: str) -> Any:
    comment_id = known_id(comment_id)
    request_body = parse_body(ReportsDecision)
    moderator = current_moderator()
    with session_scope(settings()) as session:
        settled = reports.resolve_reports(
            session, comment_id, moderator.id, reports.ReportState(request_body.outcome)
        )
        body = ReportsSettled(
            reports=[ReportOut.model_validate(reports.report_json(r)) for r in settled.reports],
            event_ids=[e.id for e in settled.events],
        )
    queue_deliveries(body.event_ids)
    return json_response(body)
