"""Storage use cases: the queries the web process, the worker and the CLI share."""

from __future__ import annotations

import enum
import functools
import hashlib
import secrets
import uuid
from base64 import b64encode
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Executable, Table, bindparam, delete, exists, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from core.domain import EventType, Status
from core.policy import Policy
from core.reasons import Reason
from core.tables import Comment, Decision, Event, Revision, SeenWebhook, Source, utcnow


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def new_webhook_secret() -> str:
    """A Standard Webhooks secret: "whsec_" and 32 random bytes in base64."""
    return "whsec_" + b64encode(secrets.token_bytes(32)).decode("ascii")


@dataclass(frozen=True)
class NewSource:
    """A freshly created source with the two credentials shown to its owner only once."""

    source: Source
    secret: str
    token: str


def create_source(
    session: Session, name: str, callback_url: str | None = None, **fields: Any
) -> NewSource:
    secret = new_webhook_secret()
    token = "mod_" + secrets.token_urlsafe(32)
    source = Source(
        id=new_id("src")[:20],
        name=name,
        secret=secret,
        token_sha256=sha256_hex(token),
        callback_url=callback_url,
        **fields,
    )
    session.add(source)
    session.flush()
    return NewSource(source=source, secret=secret, token=token)


def source_by_token(session: Session, token: str) -> Source | None:
    return session.scalar(select(Source).where(Source.token_sha256 == sha256_hex(token)))


def source_policy(source: Source) -> Policy:
    return Policy.from_source_fields(source.thresholds, source.blocklist, source.max_links)


def forget_webhooks_before(session: Session, before: datetime) -> int:
    result = session.execute(delete(SeenWebhook).where(SeenWebhook.received_at < before))
    return int(getattr(result, "rowcount", 0) or 0)


@dataclass(frozen=True)
class IncomingComment:
    """A validated comment as the CMS sent it."""

    external_id: str
    thread_id: str
    author_name: str
    author_email: str
    body: str
    thread_url: str | None = None
    thread_title: str | None = None
    author_id: str | None = None
    parent_external_id: str | None = None
    cms_created_at: datetime | None = None
    ip: str | None = None
    user_agent: str | None = None
    language: str | None = None


class Receipt(enum.StrEnum):
    CREATED = "created"
    DUPLICATE = "duplicate"
    EDITED = "edited"


@dataclass(frozen=True)
class IntakeSource:
    """What the intake needs of a source: its verifying secrets and its body limit."""

    id: str
    secret: str
    previous_secret: str | None
    previous_secret_expires_at: datetime | None
    max_body_chars: int

    def verification_secrets(self, now: datetime) -> list[str]:
        """The current secret, and during a rotation the previous one until it expires."""
        secrets = [self.secret]
        expires = self.previous_secret_expires_at
        if self.previous_secret and expires is not None and expires > now:
            secrets.append(self.previous_secret)
        return secrets


# The intake's hot path runs prebuilt Core statements, not ORM units of work (measured: the ORM
# and statement building were over half its CPU).
_INTAKE_SOURCE = select(
    Source.secret,
    Source.previous_secret,
    Source.previous_secret_expires_at,
    Source.max_body_chars,
    exists().where(
        SeenWebhook.source_id == Source.id, SeenWebhook.webhook_id == bindparam("webhook_id")
    ),
).where(Source.id == bindparam("source_id"))


def intake_source(
    session: Session, source_id: str, webhook_id: str | None
) -> tuple[IntakeSource | None, bool]:
    """The source and whether it has sent ``webhook_id`` before, in one round trip."""
    row = (
        session.connection()
        .execute(_INTAKE_SOURCE, {"source_id": source_id, "webhook_id": webhook_id or ""})
        .one_or_none()
    )
    if row is None:
        return None, False
    secret, previous, expires, max_body_chars, replayed = row
    return IntakeSource(source_id, secret, previous, expires, max_body_chars), bool(replayed)


_SEEN_WEBHOOKS = cast(Table, SeenWebhook.__table__)
_COMMENTS = cast(Table, Comment.__table__)
_REVISIONS = cast(Table, Revision.__table__)
_INSERT_REVISION = insert(_REVISIONS)


class WebhookReplayed(Exception):
    """The webhook id was already received from this source (maybe by a concurrent request)."""


@dataclass(frozen=True)
class Accepted:
    """What accept_comment stored; ``comment`` is loaded only for a comment seen before."""

    comment_id: str
    receipt: Receipt
    revision: int
    status: str
    comment: Comment | None = None


@functools.cache
def _insert_new_statement(dialect: str, table: Table, key: tuple[str, ...]) -> Executable:
    dialect_insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (
        dialect_insert(table).on_conflict_do_nothing(index_elements=key).returning(table.c[key[0]])
    )


def _insert_new(
    session: Session, table: Table, values: dict[str, Any], key: tuple[str, ...]
) -> bool:
    """INSERT ... ON CONFLICT (key) DO NOTHING; False when the key existed.

    A concurrent insert of the same key waits for the other transaction instead of failing,
    so a race between two deliveries needs no retry.
    """
    connection = session.connection()
    statement = _insert_new_statement(connection.dialect.name, table, key)
    return connection.execute(statement, values).first() is not None


def accept_comment(
    session: Session, source_id: str, webhook_id: str, incoming: IncomingComment
) -> Accepted:
    """Remember the webhook id and store the comment in the caller's transaction.

    The intake's hot path: a new comment is three INSERTs with no ORM unit of work. A comment
    the source sent before (a duplicate or an edit) goes through receive_comment. Raises
    WebhookReplayed when the webhook id was already stored.
    """
    seen = {"source_id": source_id, "webhook_id": webhook_id, "received_at": utcnow()}
    if not _insert_new(session, _SEEN_WEBHOOKS, seen, ("source_id", "webhook_id")):
        raise WebhookReplayed(webhook_id)
    body_hash = sha256_hex(incoming.body)
    comment_id = new_id("cmt")[:36]
    now = utcnow()
    row = {
        "id": comment_id,
        "source_id": source_id,
        "external_id": incoming.external_id,
        "thread_id": incoming.thread_id,
        "thread_url": incoming.thread_url,
        "thread_title": incoming.thread_title,
        "author_name": incoming.author_name,
        "author_email": incoming.author_email,
        "author_id": incoming.author_id,
        "parent_external_id": incoming.parent_external_id,
        "body": incoming.body,
        "body_sha256": body_hash,
        "revision": 1,
        "language": incoming.language,
        "ip": incoming.ip,
        "user_agent": incoming.user_agent,
        "cms_created_at": incoming.cms_created_at,
        "status": Status.PENDING.value,
        "event_seq": 0,
        "received_at": now,
        "updated_at": now,
    }
    if _insert_new(session, _COMMENTS, row, ("source_id", "external_id")):
        session.connection().execute(
            _INSERT_REVISION,
            {
                "comment_id": comment_id,
                "number": 1,
                "body": incoming.body,
                "body_sha256": body_hash,
                "received_at": now,
            },
        )
        return Accepted(comment_id, Receipt.CREATED, 1, Status.PENDING.value)
    comment, receipt = receive_comment(session, session.get_one(Source, source_id), incoming)
    return Accepted(comment.id, receipt, comment.revision, comment.status, comment)


def receive_comment(
    session: Session, source: Source, incoming: IncomingComment
) -> tuple[Comment, Receipt]:
    """Store a comment once per (source, CMS id); a changed body is a new revision, pending again.

    The caller commits, then queues scoring for CREATED and EDITED (outbox: stored before queued).
    """
    body_hash = sha256_hex(incoming.body)
    comment = session.scalar(
        select(Comment)
        .where(Comment.source_id == source.id, Comment.external_id == incoming.external_id)
        .with_for_update()
    )
    if comment is not None:
        if comment.body_sha256 == body_hash:
            return comment, Receipt.DUPLICATE
        comment.revision += 1
        comment.body = incoming.body
        comment.body_sha256 = body_hash
        comment.status = Status.PENDING.value
        comment.scores = None
        comment.highlights = None
        comment.decided_at = None
        session.add(
            Revision(
                comment=comment, number=comment.revision, body=incoming.body, body_sha256=body_hash
            )
        )
        session.flush()
        return comment, Receipt.EDITED

    comment = Comment(
        id=new_id("cmt")[:36],
        source_id=source.id,
        external_id=incoming.external_id,
        thread_id=incoming.thread_id,
        thread_url=incoming.thread_url,
        thread_title=incoming.thread_title,
        author_name=incoming.author_name,
        author_email=incoming.author_email,
        author_id=incoming.author_id,
        parent_external_id=incoming.parent_external_id,
        body=incoming.body,
        body_sha256=body_hash,
        revision=1,
        language=incoming.language,
        ip=incoming.ip,
        user_agent=incoming.user_agent,
        cms_created_at=incoming.cms_created_at,
        status=Status.PENDING.value,
    )
    comment.revisions.append(Revision(number=1, body=incoming.body, body_sha256=body_hash))
    session.add(comment)
    session.flush()
    return comment, Receipt.CREATED


def record_decision(
    session: Session,
    comment: Comment,
    status: Status,
    *,
    actor: str,
    reasons: Sequence[Reason],
    scores: Mapping[str, float] | None = None,
    model_version: str | None = None,
    policy: Mapping[str, Any] | None = None,
    moderator_id: int | None = None,
    reason_code: str | None = None,
    note: str | None = None,
) -> tuple[Decision, Event]:
    """Change a comment's status and write the decision and its CMS event in the same transaction.

    The event row is the outbox: the caller commits, then queues its delivery; the sweeper
    queues any event left pending, so a crash between commit and queueing loses nothing.
    """
    now = datetime.now(UTC)
    decision = Decision(
        comment=comment,
        revision=comment.revision,
        previous_status=comment.status,
        status=status.value,
        actor=actor,
        model_version=model_version,
        moderator_id=moderator_id,
        scores=dict(scores) if scores is not None else None,
        policy=dict(policy) if policy is not None else None,
        reasons=[r.to_json() for r in reasons],
        reason_code=reason_code,
        note=note,
        created_at=now,
    )
    comment.status = status.value
    comment.decided_at = now
    comment.event_seq += 1
    if scores is not None:
        comment.scores = dict(scores)
    session.add(decision)
    session.flush()
    event = Event(
        id=new_id("msg")[:36],
        source_id=comment.source_id,
        comment_id=comment.id,
        decision_id=decision.id,
        type=EventType.for_status(status).value,
        seq=comment.event_seq,
        payload=event_payload(comment, decision),
        created_at=now,
        next_attempt_at=now,
    )
    session.add(event)
    session.flush()
    return decision, event


def event_payload(comment: Comment, decision: Decision) -> dict[str, Any]:
    """The body POSTed to the CMS (documented in docs/cms-integration.md)."""
    return {
        "type": EventType.for_status(Status(decision.status)).value,
        "timestamp": decision.created_at.isoformat().replace("+00:00", "Z"),
        "data": {
            "id": comment.id,
            "external_id": comment.external_id,
            "source_id": comment.source_id,
            "seq": comment.event_seq,
            "revision": decision.revision,
            "status": decision.status,
            "previous_status": decision.previous_status,
            "scores": decision.scores or comment.scores,
            "reasons": decision.reasons,
            "decided_by": {
                "kind": decision.actor,
                "model_version": decision.model_version,
                "moderator_id": decision.moderator_id,
            },
            "decided_at": decision.created_at.isoformat().replace("+00:00", "Z"),
            "reason_code": decision.reason_code,
            "note": decision.note,
        },
    }


def stale_pending_ids(session: Session, older_than: timedelta, limit: int = 1000) -> list[str]:
    """Comments still pending after `older_than`: their scoring task was lost or delayed."""
    cutoff = datetime.now(UTC) - older_than
    rows = session.scalars(
        select(Comment.id)
        .where(Comment.status == Status.PENDING.value, Comment.updated_at < cutoff)
        .order_by(Comment.received_at)
        .limit(limit)
    )
    return list(rows)
