"""Storage of the intake: webhook ids seen, comments as the CMS sent them, and their revisions."""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Executable, Table, bindparam, delete, exists, insert, select
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from core.db import execute_retrying_stale
from core.domain import Status
from core.store.ids import new_id, sha256_hex
from core.tables import Comment, Revision, SeenWebhook, Source, utcnow


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
    session: Session | Connection, source_id: str, webhook_id: str | None
) -> tuple[IntakeSource | None, bool]:
    """The source and whether it has sent ``webhook_id`` before, in one round trip.

    On a bare connection (core.db.autocommit_connection) a stale one is tried once more.
    """
    parameters = {"source_id": source_id, "webhook_id": webhook_id or ""}
    if isinstance(session, Session):
        result = session.connection().execute(_INTAKE_SOURCE, parameters)
    else:
        result = execute_retrying_stale(session, _INTAKE_SOURCE, parameters)
    row = result.one_or_none()
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


def remember_webhook(session: Session, source_id: str, webhook_id: str) -> None:
    """Store a webhook id once; WebhookReplayed when it was stored already (a replay)."""
    seen = {"source_id": source_id, "webhook_id": webhook_id, "received_at": utcnow()}
    if not _insert_new(session, _SEEN_WEBHOOKS, seen, ("source_id", "webhook_id")):
        raise WebhookReplayed(webhook_id)


# PostgreSQL's hot path: the comment, its webhook id and its first revision in one statement
# (data-modifying CTEs). The webhook id and the revision are written only when the comment is new;
# a webhook id stored before fails the whole statement (its primary key), comment included.
_NEW_COMMENT_COLUMNS = (
    "id", "source_id", "external_id", "thread_id", "thread_url", "thread_title", "author_name",
    "author_email", "author_id", "parent_external_id", "body", "body_sha256", "revision",
    "language", "ip", "user_agent", "cms_created_at", "status", "event_seq", "received_at",
    "updated_at",
)  # fmt: skip


def _typed(table: Table, column: str, name: str | None = None) -> Any:
    return bindparam(name or column, type_=table.c[column].type)


def _new_comment_statement() -> Executable:
    new_comment = (
        postgresql.insert(_COMMENTS)
        .values({name: _typed(_COMMENTS, name) for name in _NEW_COMMENT_COLUMNS})
        .on_conflict_do_nothing(index_elements=["source_id", "external_id"])
        .returning(_COMMENTS.c.id)
        .cte("new_comment")
    )
    new_webhook = insert(_SEEN_WEBHOOKS).from_select(
        ["source_id", "webhook_id", "received_at"],
        select(
            _typed(_SEEN_WEBHOOKS, "source_id"),
            _typed(_SEEN_WEBHOOKS, "webhook_id"),
            _typed(_SEEN_WEBHOOKS, "received_at"),
        ).select_from(new_comment),
    )
    first_revision = insert(_REVISIONS).from_select(
        ["comment_id", "number", "body", "body_sha256", "received_at"],
        select(
            new_comment.c.id,
            _typed(_REVISIONS, "number", "revision"),
            _typed(_REVISIONS, "body"),
            _typed(_REVISIONS, "body_sha256"),
            _typed(_REVISIONS, "received_at"),
        ),
    )
    return (
        select(new_comment.c.id)
        .add_cte(new_webhook.cte("new_webhook"))
        .add_cte(first_revision.cte("first_revision"))
    )


_NEW_COMMENT = _new_comment_statement()
# PostgreSQL's SQLSTATE for a unique violation (here: the webhook id's primary key).
_UNIQUE_VIOLATION = "23505"


def accept_new_comment(
    connection: Connection, source_id: str, webhook_id: str, incoming: IncomingComment
) -> Accepted | None:
    """Store a comment the source never sent before, with its webhook id and first revision,
    in one statement on an autocommit PostgreSQL connection: committed when this returns.

    None when the source sent this comment before (nothing was written: the caller stores it
    with accept_comment, which handles duplicates and edits). Raises WebhookReplayed when the
    webhook id was already stored (nothing was written either).
    """
    body_hash = sha256_hex(incoming.body)
    comment_id = new_id("cmt")[:36]
    now = utcnow()
    row = {
        **_comment_row(comment_id, source_id, incoming, body_hash, now),
        "webhook_id": webhook_id,
    }
    try:
        created = connection.execute(_NEW_COMMENT, row).first()
    except sa_exc.IntegrityError as exc:
        if getattr(exc.orig, "sqlstate", None) == _UNIQUE_VIOLATION:
            raise WebhookReplayed(webhook_id) from None
        raise
    if created is None:
        return None
    return Accepted(comment_id, Receipt.CREATED, 1, Status.PENDING.value)


def _comment_row(
    comment_id: str, source_id: str, incoming: IncomingComment, body_hash: str, now: datetime
) -> dict[str, Any]:
    return {
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


def accept_comment(
    session: Session, source_id: str, webhook_id: str, incoming: IncomingComment
) -> Accepted:
    """Remember the webhook id and store the comment in the caller's transaction.

    The intake's hot path: a new comment is three INSERTs with no ORM unit of work. A comment
    the source sent before (a duplicate or an edit) is locked and updated through the ORM; the
    caller commits, then queues scoring for a new or edited one. This is the one way to store a
    comment. Raises WebhookReplayed when the webhook id was already stored.
    """
    remember_webhook(session, source_id, webhook_id)
    body_hash = sha256_hex(incoming.body)
    comment_id = new_id("cmt")[:36]
    now = utcnow()
    row = _comment_row(comment_id, source_id, incoming, body_hash, now)
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
    comment, receipt = _receive_again(session, source_id, incoming)
    return Accepted(comment.id, receipt, comment.revision, comment.status, comment)


def _receive_again(
    session: Session, source_id: str, incoming: IncomingComment
) -> tuple[Comment, Receipt]:
    """A comment the source sent before: a duplicate, or an edit (a new revision, pending again).

    The caller commits, then queues scoring for an edit (outbox: stored before queued).
    """
    body_hash = sha256_hex(incoming.body)
    comment = session.scalars(
        select(Comment)
        .where(Comment.source_id == source_id, Comment.external_id == incoming.external_id)
        .with_for_update()
    ).one()
    if comment.body_sha256 == body_hash:
        return comment, Receipt.DUPLICATE
    comment.revision += 1
    comment.body = incoming.body
    comment.body_sha256 = body_hash
    comment.status = Status.PENDING.value
    comment.scores = None
    comment.highlights = None
    comment.explanation = None
    comment.decided_at = None
    # The new revision waits for the scorer afresh (core.unscored).
    comment.unscored = None
    session.add(
        Revision(
            comment=comment, number=comment.revision, body=incoming.body, body_sha256=body_hash
        )
    )
    session.flush()
    return comment, Receipt.EDITED
