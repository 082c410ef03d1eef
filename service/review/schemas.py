"""Shapes of the review API's requests and answers (validated in, documented in /openapi.json)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.authors import MAX_REASON_CHARS as MAX_SANCTION_REASON_CHARS
from core.review import (
    APPROVE_REASONS,
    MAX_BULK,
    MAX_NOTE_CHARS,
    REJECT_REASONS,
    AuditComment,
    Note,
)
from service.schemas import Integral

Verdict = Literal["approved", "rejected"]
# PostgreSQL text cannot hold NUL; ids are short ASCII.
NO_NUL = r"^[^\x00]*$"
CommentId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]
DecisionId = Annotated[int, Field(strict=True, ge=1, le=2**31 - 1), Integral]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# The schema says what the use case checks: a rejection needs one of the reject reasons, an
# approval may carry one of the approve reasons.
_REASON_RULE: dict[str, Any] = {
    "if": {"properties": {"status": {"const": "rejected"}}, "required": ["status"]},
    "then": {
        "required": ["reason_code"],
        "properties": {"reason_code": {"enum": sorted(REJECT_REASONS)}},
    },
    "else": {
        "properties": {
            "reason_code": {"anyOf": [{"enum": sorted(APPROVE_REASONS)}, {"type": "null"}]}
        }
    },
}


class DecideRequest(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra=_REASON_RULE)

    status: Verdict
    reason_code: str | None = Field(default=None, max_length=50, pattern=r"^[a-z_]+$")
    note: str | None = Field(default=None, max_length=MAX_NOTE_CHARS, pattern=NO_NUL)

    @model_validator(mode="after")
    def _reason_fits_the_verdict(self) -> DecideRequest:
        allowed = REJECT_REASONS if self.status == "rejected" else APPROVE_REASONS
        if self.status == "rejected" and not self.reason_code:
            raise ValueError("a rejection needs a reason code")
        if self.reason_code is not None and self.reason_code not in allowed:
            raise ValueError(f"reason code must be one of {', '.join(allowed)} for {self.status}")
        return self


class BulkDecideRequest(DecideRequest):
    ids: list[CommentId] = Field(min_length=1, max_length=MAX_BULK)


class UndoRequest(Strict):
    """Without decision_ids, the caller's last decision is undone."""

    decision_ids: list[DecisionId] | None = Field(default=None, max_length=MAX_BULK)


class Author(BaseModel):
    name: str
    id: str | None


class Thread(BaseModel):
    id: str
    title: str | None
    url: str | None = Field(description="Only http(s) URLs; anything else is null")


class Parent(BaseModel):
    id: str
    author_name: str
    body: str
    status: str


class NoteRequest(Strict):
    # Trimmed before it is stored: only whitespace is refused (core.review.add_note).
    body: str = Field(
        min_length=1,
        max_length=MAX_NOTE_CHARS,
        pattern=NO_NUL,
        json_schema_extra={"allOf": [{"pattern": "\\S"}], "description": "Not only whitespace"},
    )


class NoteOut(BaseModel):
    id: int
    author: str = Field(description="The e-mail of the moderator who left it")
    body: str
    created_at: datetime

    @classmethod
    def from_note(cls, note: Note) -> NoteOut:
        return cls(id=note.id, author=note.author, body=note.body, created_at=note.created_at)


class ExplainedWord(BaseModel):
    text: str = Field(description="The word as it stands in the body")
    weight: float = Field(description="Its share of the label's margin (log-odds), above 0")
    start: int
    end: int


class LabelExplanation(BaseModel):
    label: str
    words: list[ExplainedWord] = Field(description="Heaviest first, at most 8")


class ReviewItem(BaseModel):
    id: str
    source_id: str
    external_id: str
    status: str
    revision: int
    body: str
    author: Author
    thread: Thread
    parent: Parent | None
    scores: dict[str, float] | None
    risk: float | None
    highlights: list[list[int]]
    explanation: list[LabelExplanation] = Field(
        default_factory=list,
        description=(
            "Per label (highest score first), the words that pushed its score up, as the model "
            "saw them when it flagged or rejected the comment; empty when it approved"
        ),
    )
    reasons: list[dict[str, Any]]
    suggested_reject_reason: str
    received_at: datetime
    decided_at: datetime | None
    claimed_by_me: bool
    author_record: dict[str, int] | None = Field(
        default=None,
        description="The author's record at the source: approved, rejected, reported, upheld "
        "(in the queue listing)",
    )
    notes: list[NoteOut] = Field(
        default_factory=list, description="Moderators' notes for each other, oldest first"
    )


class QueueResponse(BaseModel):
    items: list[ReviewItem]
    counts: dict[str, int]
    held: dict[str, int] = Field(
        default_factory=dict,
        description="Per status, comments other moderators hold a claim on (not in counts)",
    )
    total: int
    page: int
    per_page: int
    pages: int


class DecisionOut(BaseModel):
    id: int
    comment_id: str
    status: str
    previous_status: str
    actor: str
    model_version: str | None
    moderator: str | None
    reason_code: str | None
    note: str | None
    reasons: list[dict[str, Any]]
    created_at: datetime
    event_id: str | None = None
    comment: AuditComment | None = Field(
        default=None,
        description="In the audit log: which comment the decision was about (its text "
        "shortened to 200 characters, author, source and thread)",
    )

    def with_comment(self, comment: AuditComment) -> DecisionOut:
        return self.model_copy(update={"comment": comment})


class CommentDetail(ReviewItem):
    decisions: list[DecisionOut]


class ClaimResponse(BaseModel):
    id: str
    claimed_until: datetime | None


class DecideResponse(BaseModel):
    decisions: list[DecisionOut]
    skipped: dict[str, str] = Field(default_factory=dict, description="comment id -> why")
    undo_until: datetime | None = None


class SanctionOut(BaseModel):
    id: int
    source_id: str
    author_id: str
    kind: Literal["suspension", "ban"]
    reason: str
    created_by: str
    created_at: datetime
    ends_at: datetime | None = Field(description="null for a ban")
    active: bool
    lifted_at: datetime | None
    lifted_by: str | None = Field(description='Who lifted it, or "expiry"')
    lift_reason: str | None
    event_id: str | None = Field(default=None, description="The event telling the CMS")


class SanctionList(BaseModel):
    active: SanctionOut | None
    sanctions: list[SanctionOut] = Field(description="Newest first")


# Some words, not only blanks; no NUL.
Reason = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_SANCTION_REASON_CHARS,
        pattern=r"^[^\x00]*[^\s\x00][^\x00]*$",
    ),
]
# The schema says what the model checks: a suspension needs days, a ban has none.
_DAYS_RULE: dict[str, Any] = {
    "if": {"properties": {"kind": {"const": "suspension"}}, "required": ["kind"]},
    "then": {"required": ["days"], "properties": {"days": {"type": "integer"}}},
    "else": {"properties": {"days": {"type": "null"}}},
}


class SanctionRequest(Strict):
    """A suspension needs days; a ban has none."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_DAYS_RULE)

    kind: Literal["suspension", "ban"]
    reason: Reason
    days: Annotated[int, Field(strict=True, ge=1, le=3650), Integral] | None = None

    @model_validator(mode="after")
    def _days_fit_the_kind(self) -> SanctionRequest:
        if self.kind == "suspension" and self.days is None:
            raise ValueError("a suspension needs days")
        if self.kind == "ban" and self.days is not None:
            raise ValueError("a ban has no end; suspend for some days instead")
        return self


class ReinstateRequest(Strict):
    reason: Reason


class AuthorResponse(BaseModel):
    author: Author
    comments: list[ReviewItem]
    outcomes: dict[str, int]
    sanction: SanctionOut | None = Field(description="The suspension or ban in force, if any")


class AuditResponse(BaseModel):
    decisions: list[DecisionOut]
    total: int
    page: int
    per_page: int
    pages: int


class AppealOut(BaseModel):
    id: int
    comment_id: str
    decision_id: int = Field(description="The rejection appealed")
    author_id: str
    text: str
    state: Literal["open", "granted", "denied"]
    received_at: datetime
    resolved_at: datetime | None
    resolved_by: int | None
    resolution_note: str | None


class AppealItem(AppealOut):
    comment: ReviewItem
    rejection: DecisionOut


class AppealList(BaseModel):
    appeals: list[AppealItem] = Field(description="Oldest first")


class AppealDecision(Strict):
    """granted: the comment is approved after all; denied: the rejection stands."""

    outcome: Literal["granted", "denied"]
    note: str | None = Field(default=None, max_length=MAX_NOTE_CHARS, pattern=NO_NUL)


class ReportOut(BaseModel):
    id: int
    comment_id: str
    reporter_id: str
    reason: str
    text: str | None
    weight: float
    state: Literal["open", "upheld", "dismissed"]
    received_at: datetime
    resolved_at: datetime | None
    resolved_by: int | None


class ReportedItem(BaseModel):
    comment: ReviewItem
    reports: list[ReportOut]
    weight: float = Field(description="The open reports' weights added up")
    threshold: float = Field(description="The source's report threshold")


class ReportedList(BaseModel):
    items: list[ReportedItem] = Field(description="Heaviest first")


class ReportsDecision(Strict):
    """upheld: the comment is rejected; dismissed: it stays approved."""

    outcome: Literal["upheld", "dismissed"]


class ReportsSettled(BaseModel):
    reports: list[ReportOut]
    event_ids: list[str]


class LastActionOut(BaseModel):
    decision_ids: list[int]
    undo_until: datetime


class PersonInQueue(BaseModel):
    email: str
    seen_at: datetime | None = Field(description="Last seen in the queue; null: only holds")
    holding: list[str] = Field(description="Ids of the comments this moderator has claimed")
    you: bool


class PresenceResponse(BaseModel):
    moderators: list[PersonInQueue]
