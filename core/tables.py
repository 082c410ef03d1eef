"""Database tables (SQLAlchemy 2). The Alembic migrations in core/migrations mirror these."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from core.secrets import decrypt_secret, encrypt_secret


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime stored; use datetime.now(UTC)")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class EncryptedSecret(TypeDecorator[str]):
    """A signing secret, stored encrypted (core.secrets) and read back in clear."""

    impl = String(200)
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        return encrypt_secret(value) if value is not None else None

    def process_result_value(self, value: str | None, dialect: Any) -> str | None:
        return decrypt_secret(value) if value is not None else None


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON, datetime: UTCDateTime}


class Source(Base):
    """A CMS that posts comments and receives decisions."""

    __tablename__ = "sources"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # Standard Webhooks secret, "whsec_" + base64. HMAC needs it, so it is encrypted at rest
    # rather than hashed.
    secret: Mapped[str] = mapped_column(EncryptedSecret())
    # During a rotation the old secret still verifies until previous_secret_expires_at.
    previous_secret: Mapped[str | None] = mapped_column(EncryptedSecret(), default=None)
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(default=None)
    # sha256 hex of the source's API token; the token itself is shown once.
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    callback_url: Mapped[str | None] = mapped_column(String(2000), default=None)
    # {label: {"flag": float, "reject": float | None}}
    thresholds: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # [{"term": str, "action": "flag" | "reject"}]
    blocklist: Mapped[list[Any]] = mapped_column(default=list)
    max_links: Mapped[int] = mapped_column(Integer, default=2)
    max_body_chars: Mapped[int] = mapped_column(Integer, default=1500)
    # The number of the policy_versions row in force (thresholds, blocklist, max_links).
    policy_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # Circuit breaker for callbacks: retryable failures in a row, and until when this source's
    # pending events are parked instead of tried (so one dead endpoint cannot slow the others).
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    circuit_open_until: Mapped[datetime | None] = mapped_column(default=None)
    # What becomes of a comment by a suspended or banned author: "reject" or "hold" (flagged
    # for a person).
    sanctioned_comments: Mapped[str] = mapped_column(
        String(16), default="reject", server_default="reject"
    )
    # After this many days the sweeper erases IP addresses, user agents and decided bodies
    # (None: kept).
    retention_days: Mapped[int | None] = mapped_column(Integer, default=None)
    # The author's text of a rejection's statement of reasons, per ground, where this source
    # words it its own way (core.statements has the defaults): {ground: template}.
    statement_templates: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    # Authors with fewer approved comments than this are pre-moderated: the model's approval
    # becomes a flag for a person (0: nobody is).
    premoderate_below: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Reader reports whose weights add up to this reopen an approved comment for review.
    report_threshold: Mapped[float] = mapped_column(Float, default=3.0, server_default="3")
    # Where an author appeals a rejection; $external_id and $comment_id are filled in.
    appeal_url: Mapped[str | None] = mapped_column(String(2000), default=None)
    # When the scorer has not decided a comment within unscored_wait_seconds: "fail-closed"
    # (it stays pending) or "fail-open" (approved provisionally, decided again later).
    unscored_mode: Mapped[str] = mapped_column(
        String(16), default="fail-closed", server_default="fail-closed"
    )
    unscored_wait_seconds: Mapped[int] = mapped_column(Integer, default=300, server_default="300")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class PolicyVersion(Base):
    """One version of a source's policy, kept for ever: who changed it, why, and to what."""

    __tablename__ = "policy_versions"
    __table_args__ = (
        UniqueConstraint("source_id", "version", name="uq_policy_versions_source_version"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source_id: Mapped[str] = mapped_column(ForeignKey("sources.id"))
    version: Mapped[int] = mapped_column(Integer)
    # {"thresholds": {label: {"flag", "reject"}} (the labels a person set), "blocklist": [...],
    # "max_links": n}: the source's policy fields as they were stored.
    policy: Mapped[dict[str, Any]] = mapped_column()
    changed_by: Mapped[str | None] = mapped_column(String(320), default=None)
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    # The earlier version this one copies, when it was made by a restore.
    restored_from: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ScoreReference(Base):
    """A source's reference score distribution for one label (drift is measured against it)."""

    __tablename__ = "score_references"
    __table_args__ = (UniqueConstraint("source_id", "label", name="uq_score_references_label"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source_id: Mapped[str] = mapped_column(ForeignKey("sources.id"))
    label: Mapped[str] = mapped_column(String(40))
    # Bin edges (ascending, first 0.0, last 1.0) and the share of reference scores in each bin.
    edges: Mapped[list[Any]] = mapped_column()
    fractions: Mapped[list[Any]] = mapped_column()
    count: Mapped[int] = mapped_column(Integer)
    # Where the bins come from: the scores received in [period_start, period_end), or, with
    # model_version set, that model's held-out scores from training (copied when it went live).
    period_start: Mapped[datetime] = mapped_column()
    period_end: Mapped[datetime] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    model_version: Mapped[str | None] = mapped_column(String(100), default=None)


class SeenWebhook(Base):
    """Webhook ids already accepted, so a replay is refused (pruned after the tolerance window)."""

    __tablename__ = "seen_webhooks"

    source_id: Mapped[str] = mapped_column(ForeignKey("sources.id"), primary_key=True)
    webhook_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class Comment(Base):
    """A reader comment as the CMS sent it; body holds the latest revision."""

    __tablename__ = "comments"
    __table_args__ = (
        UniqueConstraint("source_id", "external_id", name="uq_comments_source_external"),
        Index("ix_comments_status_received", "status", "received_at"),
        Index("ix_comments_author", "source_id", "author_email"),
        Index("ix_comments_source_received", "source_id", "received_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    source_id: Mapped[str] = mapped_column(ForeignKey("sources.id"))
    external_id: Mapped[str] = mapped_column(String(200))
    thread_id: Mapped[str] = mapped_column(String(200), index=True)
    thread_url: Mapped[str | None] = mapped_column(String(2000), default=None)
    thread_title: Mapped[str | None] = mapped_column(String(500), default=None)
    author_name: Mapped[str] = mapped_column(String(200))
    author_email: Mapped[str] = mapped_column(String(320))
    author_id: Mapped[str | None] = mapped_column(String(200), default=None)
    parent_external_id: Mapped[str | None] = mapped_column(String(200), default=None)
    body: Mapped[str] = mapped_column(Text)
    body_sha256: Mapped[str] = mapped_column(String(64))
    revision: Mapped[int] = mapped_column(Integer, default=1)
    language: Mapped[str | None] = mapped_column(String(20), default=None)
    ip: Mapped[str | None] = mapped_column(String(64), default=None)
    user_agent: Mapped[str | None] = mapped_column(String(500), default=None)
    cms_created_at: Mapped[datetime | None] = mapped_column(default=None)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    # Latest scores {label: probability} and highlight spans [[start, end], ...] of the body.
    scores: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    highlights: Mapped[list[Any] | None] = mapped_column(JSON, default=None)
    # Why the model flagged or rejected it: {label: [[start, end, weight], ...]}, the words that
    # pushed each label up, heaviest first (core.explanations); None when it approved.
    explanation: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    # Last event sequence number given to this comment; events carry seq so a CMS can order them.
    event_seq: Mapped[int] = mapped_column(Integer, default=0)
    # Review claim: one moderator at a time, until claimed_until.
    claimed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    claimed_until: Mapped[datetime | None] = mapped_column(default=None)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(default=None)
    # When the author's data was erased (core.authors), on request or by retention.
    erased_at: Mapped[datetime | None] = mapped_column(default=None)
    # Past its source's wait without a model decision on this revision: "held" (still pending)
    # or "provisional" (approved provisionally); None once the model or a moderator decided.
    unscored: Mapped[str | None] = mapped_column(String(16), default=None)

    revisions: Mapped[list[Revision]] = relationship(
        back_populates="comment", order_by="Revision.number", cascade="all, delete-orphan"
    )
    decisions: Mapped[list[Decision]] = relationship(
        back_populates="comment", order_by="Decision.id", cascade="all, delete-orphan"
    )


class Revision(Base):
    """Every body a comment has had; an edit from the CMS adds one and is scored again."""

    __tablename__ = "revisions"
    __table_args__ = (UniqueConstraint("comment_id", "number", name="uq_revisions_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    comment_id: Mapped[str] = mapped_column(ForeignKey("comments.id"))
    number: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    body_sha256: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)

    comment: Mapped[Comment] = relationship(back_populates="revisions")


class Decision(Base):
    """One status change of a comment, with what made it and why. Never updated, only added."""

    __tablename__ = "decisions"
    __table_args__ = (
        Index("ix_decisions_created", "created_at"),
        # Whether a moderator decided a comment, from the index alone (core.whatif).
        Index("ix_decisions_comment_actor", "comment_id", "actor"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    comment_id: Mapped[str] = mapped_column(ForeignKey("comments.id"), index=True)
    revision: Mapped[int] = mapped_column(Integer)
    previous_status: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(16))  # "model" or "moderator"
    model_version: Mapped[str | None] = mapped_column(String(100), default=None)
    moderator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    scores: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    # The policy in force: {"version": n, "thresholds": {...}, "max_links": n,
    # "blocklist_terms": n} (version: the source's policy_versions row; None before 0009)
    policy: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    # [{"kind": "score", "label", "score", "threshold"}, {"kind": "blocklist", "term"}, ...]
    reasons: Mapped[list[Any]] = mapped_column(default=list)
    reason_code: Mapped[str | None] = mapped_column(String(50), default=None)
    note: Mapped[str | None] = mapped_column(Text, default=None)
    # A rejection's statement of reasons as the author was told it (core.statements):
    # {"automated", "ground", "text", "appeal_url"}; None for any other decision.
    statement: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    comment: Mapped[Comment] = relationship(back_populates="decisions")


class CommentNote(Base):
    """A moderator's note on a comment for the next moderator (never sent to the CMS)."""

    __tablename__ = "comment_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    comment_id: Mapped[str] = mapped_column(ForeignKey("comments.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class User(Base):
    """A moderator or admin account."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(default=True)
    # Part of every session's id: raising it (sign-out, new password, disabling) ends them all.
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiToken(Base):
    """A moderator's token for the review API; only its sha256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)


class Event(Base):
    """A decision event for the CMS (outbox row, written in the decision's transaction)."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_state_next", "state", "next_attempt_at"),)

    # Also the Standard Webhooks "webhook-id" of every delivery attempt: "msg_..."
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    source_id: Mapped[str] = mapped_column(ForeignKey("sources.id"), index=True)
    # Both None for an author event (author.suspended ...), which is about no one comment.
    comment_id: Mapped[str | None] = mapped_column(ForeignKey("comments.id"), index=True)
    decision_id: Mapped[int | None] = mapped_column(ForeignKey("decisions.id"))
    type: Mapped[str] = mapped_column(String(40))
    seq: Mapped[int] = mapped_column(Integer)
    payload: Mapped[dict[str, Any]] = mapped_column()
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Value of `attempts` when the event was last redelivered by hand: the retry budget restarts.
    attempts_before_redelivery: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DeliveryAttempt(Base):
    """One POST of an event to the callback URL, whatever came of it."""

    __tablename__ = "delivery_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    url: Mapped[str] = mapped_column(String(2000))
    status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    latency_ms: Mapped[float | None] = mapped_column(Float, default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)


class ModelVersion(Base):
    """An artifact the service knows (core.registry): where, its hash, its figures, its state."""

    __tablename__ = "model_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    version: Mapped[str] = mapped_column(String(100), unique=True)
    # The artifact folder; core.registry.SHIPPED_DIRECTORY for the one shipped in the package.
    directory: Mapped[str] = mapped_column(String(2000))
    # sha256 of the model file, taken when registered: the worker loads nothing else.
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    # What it learnt from: {"sets": [names], "site_labels": n | None, "command": str | None}
    trained_on: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Held-out figures from its manifest (core.registry.manifest_figures).
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # The flag thresholds it was tuned to, {label: float}.
    thresholds: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Its held-out scores as bins per label, {label: {"edges", "fractions", "count"}}, from its
    # manifest (`score_reference`); None for an artifact without one. Drift's reference.
    score_reference: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    state: Mapped[str] = mapped_column(String(16), index=True)
    changed_by: Mapped[str] = mapped_column(String(320))
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ModelChange(Base):
    """One state change of a registered model, with who made it and why. Only ever added."""

    __tablename__ = "model_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    version: Mapped[str] = mapped_column(ForeignKey("model_versions.version"), index=True)
    # None when it was registered.
    from_state: Mapped[str | None] = mapped_column(String(16), default=None)
    to_state: Mapped[str] = mapped_column(String(16))
    # What did it: register, shadow, promote or rollback (a promotion also retires the model
    # that was live, under the same action).
    action: Mapped[str] = mapped_column(String(16))
    changed_by: Mapped[str] = mapped_column(String(320))
    # Why, when someone said (required to override the promotion gates).
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    # The promotion gates were overridden with --force.
    forced: Mapped[bool] = mapped_column(default=False)
    # What the gates said on promotion: [{"gate", "passed", "detail"}].
    gates: Mapped[list[Any]] = mapped_column(default=list)
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)


class ShadowScore(Base):
    """A shadow model's scores and would-be decision for one decided revision (core.shadow).

    Stored apart from comments and decisions: nothing here reaches the CMS or the queue."""

    __tablename__ = "shadow_scores"
    __table_args__ = (
        UniqueConstraint("comment_id", "revision", "model_version", name="uq_shadow_scores_one"),
        Index("ix_shadow_scores_version_created", "model_version", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    comment_id: Mapped[str] = mapped_column(ForeignKey("comments.id"))
    revision: Mapped[int] = mapped_column(Integer)
    model_version: Mapped[str] = mapped_column(String(100))
    scores: Mapped[dict[str, Any]] = mapped_column()
    # What the shadow model would have decided, and why (the decision's reason shapes).
    status: Mapped[str] = mapped_column(String(16))
    reasons: Mapped[list[Any]] = mapped_column(default=list)
    # The live decision it is compared with.
    live_decision_id: Mapped[int] = mapped_column(ForeignKey("decisions.id"))
    live_status: Mapped[str] = mapped_column(String(16))
    live_model_version: Mapped[str | None] = mapped_column(String(100), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuthorSanction(Base):
    """A suspension (until ends_at) or a ban (ends_at None) of one author at one source.

    Only the lift fields are ever written after creation: the rows are the audit trail.
    """

    __tablename__ = "author_sanctions"
    __table_args__ = (Index("ix_author_sanctions_author", "source_id", "author_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source_id: Mapped[str] = mapped_column(ForeignKey("sources.id"))
    # The author's id at the CMS (or their e-mail address when the CMS sends no id).
    author_id: Mapped[str] = mapped_column(String(320))
    kind: Mapped[str] = mapped_column(String(16))  # "suspension" or "ban"
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    ends_at: Mapped[datetime | None] = mapped_column(default=None)
    # Lifted by a person (lifted_by their e-mail) or at expiry by the sweeper ("expiry").
    lifted_at: Mapped[datetime | None] = mapped_column(default=None)
    lifted_by: Mapped[str | None] = mapped_column(String(320), default=None)
    lift_reason: Mapped[str | None] = mapped_column(Text, default=None)


class Appeal(Base):
    """An author's appeal of one rejection, forwarded by the CMS; decided by a second person."""

    __tablename__ = "appeals"
    __table_args__ = (
        UniqueConstraint("decision_id", name="uq_appeals_decision"),
        Index("ix_appeals_state_received", "state", "received_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    comment_id: Mapped[str] = mapped_column(ForeignKey("comments.id"), index=True)
    # The rejection appealed: one appeal per decision.
    decision_id: Mapped[int] = mapped_column(ForeignKey("decisions.id"))
    author_id: Mapped[str] = mapped_column(String(320))
    text: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(
        String(16), default="open"
    )  # open, granted (approved after all), denied
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(default=None)
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    resolution_note: Mapped[str | None] = mapped_column(Text, default=None)

    comment: Mapped[Comment] = relationship()


class Report(Base):
    """A reader's report of a comment, forwarded by the CMS; one per reader and comment."""

    __tablename__ = "reports"
    __table_args__ = (
        UniqueConstraint("comment_id", "reporter_id", name="uq_reports_reader"),
        Index("ix_reports_reporter", "source_id", "reporter_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    comment_id: Mapped[str] = mapped_column(ForeignKey("comments.id"), index=True)
    source_id: Mapped[str] = mapped_column(ForeignKey("sources.id"))
    reporter_id: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(String(32))
    text: Mapped[str | None] = mapped_column(Text, default=None)
    # What this reader's report counted for when it came (core.reports.reporter_weight).
    weight: Mapped[float] = mapped_column(Float)
    state: Mapped[str] = mapped_column(String(16), default="open")  # open, upheld, dismissed
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(default=None)
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
