"""Shapes of the admin API's requests and answers (validated in, documented in /openapi.json)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from core import deliveries
from core.domain import LABELS
from core.statements import GROUNDS, MAX_TEMPLATE_CHARS
from service.schemas import NO_NUL, HttpUrlText, Integral, PlainText, from_row

# Deliveries listed at once when the caller does not say.
PAGE_SIZE = 100


class ThresholdView(BaseModel):
    # strict: JSON true/false is not a number (lax pydantic would read it as 1 or 0).
    flag: float = Field(ge=0, le=1, strict=True, description="Flag at or above this score")
    reject: float | None = Field(
        default=None,
        ge=0,
        le=1,
        strict=True,
        description="Reject at or above this score (null: never); never below flag",
    )


class EffectiveThreshold(ThresholdView):
    source: Literal["model", "custom"] = Field(
        description="model: the live model's tuned threshold, which follows the model when it "
        "changes; custom: set by a person, kept"
    )


# Strings stored as sent: bounded and free of what a database cannot hold (NUL...).
Term = Annotated[str, Field(min_length=1, max_length=200, json_schema_extra=NO_NUL), PlainText]


# Text that says something: no NUL, and at least one character that is not a space.
REASON_PATTERN = r"^[^\x00]*[^\s\x00][^\x00]*$"
Reason = Annotated[
    str,
    Field(min_length=1, max_length=1000, pattern=REASON_PATTERN),
    PlainText,
]
# Words for authors (statement-of-reasons templates).
StatementText = Annotated[
    str,
    Field(min_length=1, max_length=MAX_TEMPLATE_CHARS, pattern=REASON_PATTERN),
]


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
    sanctioned_comments: Literal["reject", "hold"] = Field(
        description="What becomes of comments by a suspended or banned author: rejected, or "
        "held (flagged) for a person"
    )
    retention_days: int | None = Field(
        description="Days after which the sweeper erases IP addresses, user agents and the "
        "bodies of decided comments (null: kept)"
    )
    statement_templates: dict[str, str] = Field(
        description="The source's own words for a rejection's statement of reasons, by ground "
        "(grounds not listed use the defaults)"
    )
    appeal_url: str | None = Field(
        description="Where authors appeal a rejection; $external_id and $comment_id are filled in"
    )
    report_threshold: float = Field(
        description="Readers' reports weighing this much reopen an approved comment"
    )
    premoderate_below: int = Field(
        description="Authors with fewer approved comments are pre-moderated (0: nobody)"
    )
    unscored_mode: Literal["fail-closed", "fail-open"] = Field(
        description="When the scorer has not decided a comment within unscored_wait_seconds: "
        "kept pending (fail-closed) or approved provisionally and decided again once scored "
        "(fail-open)"
    )
    unscored_wait_seconds: int = Field(description="How long a comment waits for the scorer")
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
    sanctioned_comments: Literal["reject", "hold"] | None = None
    # A ground's text, or null to go back to the default text.
    statement_templates: (
        dict[
            Annotated[str, Field(json_schema_extra={"enum": list(GROUNDS)})],
            StatementText | None,
        ]
        | None
    ) = None
    report_threshold: float | None = Field(default=None, ge=0.1, le=1000, strict=True)
    premoderate_below: Annotated[int, Field(strict=True, ge=0, le=1000), Integral] | None = None
    # null: no appeal address in statements.
    appeal_url: HttpUrlText | None = None
    # null: keep personal data for good.
    retention_days: Annotated[int, Field(strict=True, ge=1, le=36_500), Integral] | None = None
    reason: Reason | None = Field(
        default=None, description="Why the policy changes (kept in the policy history)"
    )
    unscored_mode: Literal["fail-closed", "fail-open"] | None = None
    unscored_wait_seconds: (
        Annotated[int, Field(strict=True, ge=1, le=7 * 86_400), Integral] | None
    ) = None


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


class AuthorExport(BaseModel):
    """Every row stored about one author at one source, by table."""

    source_id: str
    author_id: str
    exported_at: datetime
    tables: dict[str, list[dict[str, Any]]] = Field(
        description="comments, revisions, decisions, events, delivery_attempts, "
        "author_sanctions, and any other table that refers to the author's comments"
    )


class AuthorErased(BaseModel):
    source_id: str
    author_id: str
    counts: dict[str, int] = Field(description="Rows changed, per table")
    event_id: str = Field(description="The author.erased event telling the CMS")


class BandCounts(BaseModel):
    approved: int
    flagged: int
    rejected: int


class BandChangeView(BaseModel):
    id: str = Field(description="The comment's id")
    current: Literal["approved", "flagged", "rejected"] = Field(
        description="What the model's recorded decision did"
    )
    proposed: Literal["approved", "flagged", "rejected"]
    moderator: Literal["approved", "flagged", "rejected"] = Field(
        description="The moderator's standing decision on the comment"
    )


class WhatIfView(BaseModel):
    days: int
    comments: int = Field(description="Comments of the period the model decided")
    current: BandCounts = Field(description="What the model's recorded decisions did")
    proposed: BandCounts = Field(description="What the proposed policy would have done")
    changed: list[str] = Field(description="Moderator-labelled comments that change band")
    changes: list[BandChangeView]


class SuggestRequest(BaseModel):
    """A target for one label: exactly one of flag_capacity and reject_precision."""

    label: Literal["toxic", "identity_hate", "threat", "spam"]
    flag_capacity: float | None = Field(
        default=None, gt=0, strict=True, description="Flagged comments a day moderators review"
    )
    reject_precision: float | None = Field(
        default=None,
        gt=0,
        le=1,
        strict=True,
        description="Share of automatic rejections that must be right, in (0, 1]",
    )
    days: Annotated[int, Field(strict=True, ge=1, le=366), Integral] = 30
    save: bool = Field(
        default=False, strict=True, description="Apply the thresholds: a new policy version"
    )


class SuggestionView(BaseModel):
    thresholds: dict[str, ThresholdView] = Field(description="The thresholds it would set")
    target: dict[str, float | int] = Field(
        description="The target asked for and what the thresholds reach on the period"
    )
    what_if: WhatIfView
    saved_version: int | None = Field(description="The policy version saved; null: not saved")


class PolicyDocument(BaseModel):
    thresholds: dict[str, ThresholdView] = Field(
        description="The labels a person set; the others follow the live model"
    )
    blocklist: list[BlocklistItem]
    max_links: int


class PolicyVersionView(BaseModel):
    version: int
    policy: PolicyDocument
    changed_by: str | None
    reason: str | None
    restored_from: int | None = Field(description="The version this one copies, for a restore")
    created_at: datetime
    changes: list[str] = Field(description="What changed from the version before, in words")
    current: bool = Field(description="The version in force")


class PolicyHistory(BaseModel):
    versions: list[PolicyVersionView]


class RestoreRequest(BaseModel):
    reason: Reason


class DeliveryList(BaseModel):
    deliveries: list[deliveries.DeliverySummary]


class AttemptView(BaseModel):
    number: int
    url: str
    status_code: int | None
    latency_ms: float | None
    error: str | None
    started_at: datetime


class DeliveryDetail(BaseModel):
    delivery: deliveries.DeliverySummary
    attempts: list[AttemptView]


def delivery_detail(session: Session, event_id: str) -> DeliveryDetail:
    """One delivery with every attempt, for the API and its page alike."""
    attempts = deliveries.attempts_of(session, event_id)
    (row,) = [r for r in deliveries.list_deliveries(session, limit=1, event_id=event_id)]
    return DeliveryDetail(
        delivery=row,
        attempts=[from_row(AttemptView, a) for a in attempts],
    )


class GateView(BaseModel):
    gate: Literal["site_heldout", "public_heldout", "identity_audit"]
    passed: bool
    detail: str


class ModelView(BaseModel):
    version: str
    state: Literal["candidate", "shadow", "live", "retired"]
    sha256: str = Field(description="sha256 of the model file, taken when it was registered")
    created_at: datetime
    metrics: dict[str, Any] = Field(description="Held-out figures from its manifest")
    directory: str
    trained_on: dict[str, Any]
    thresholds: dict[str, float] = Field(description="The flag thresholds it was tuned to")
    changed_by: str
    changed_at: datetime


class ModeratorLabelsView(BaseModel):
    labels: int
    positives: int
    shadow_roc_auc: float | None
    live_roc_auc: float | None


class ShadowReportView(BaseModel):
    version: str
    since: datetime = Field(description="When it went into shadow")
    scored: int
    agreement: float | None = Field(description="Share of would-be decisions equal to the live")
    would_flag: dict[str, int]
    would_reject: dict[str, int]
    moderator_labels: dict[str, ModeratorLabelsView]


class ModelList(BaseModel):
    models: list[ModelView]
    shadow: ShadowReportView | None = Field(description="The model in shadow, since it began")


class PromoteRequest(BaseModel):
    """Empty to promote through the gates; force with a reason overrides them (audit log);
    force without a reason is refused with 409, like a gate."""

    force: bool = Field(default=False, strict=True)
    reason: Reason | None = None


class RollbackRequest(BaseModel):
    reason: Reason | None = None


class Promotion(BaseModel):
    model: ModelView
    gates: list[GateView]
