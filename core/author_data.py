"""Everything stored about one author at one source: export it, erase it, and let it age out.

Erasure keeps the audit trail (comments, decisions and events stay, so the counts and the
history still add up) but without what identifies or quotes the person: bodies, names, e-mail
addresses, IP addresses and user agents are removed from comments and revisions, and every
other text stored about those comments (decision notes and reasons, event payloads, delivery
errors, sanctions, and any table that refers to a comment) loses each of those values wherever
it occurs. The author's id at the CMS is kept: it is the CMS's pseudonym, needed to keep a ban
in force and to tell the CMS whom the erasure was about.

Retention (a source's `retention_days`) is the same erasure, aged: the sweeper removes IP
addresses and user agents of comments received before it, and the bodies of comments decided
before it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

import structlog
from sqlalchemy import JSON, RowMapping, String, Table, Text, select, update
from sqlalchemy.orm import Session

from core.authors import AuthorError, by_author, check_author_id, iso
from core.domain import EventType, Status
from core.sources import get_source
from core.store import record_author_event, sha256_hex
from core.tables import (
    Appeal,
    AuthorSanction,
    Base,
    Comment,
    Decision,
    Event,
    Revision,
    Source,
)

log = structlog.stdlib.get_logger(__name__)

ERASED = "[erased]"
# Shorter values are not searched for in other text (a two-letter name would garble it); the
# columns that hold them outright are cleared whatever their length.
MIN_SCRUBBED_CHARS = 3
EMPTY_SHA256 = sha256_hex("")
# Tables handled one by one below; any other table with a comment_id is scrubbed generically.
_KNOWN = frozenset({"comments", "revisions", "decisions", "events", "delivery_attempts", "appeals"})


class NothingStored(AuthorError, LookupError):
    """No comment of this author at this source."""


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _row(table: Table, row: RowMapping) -> dict[str, Any]:
    return {column.name: _jsonable(row[column.name]) for column in table.columns}


def _table(name: str) -> Table:
    return Base.metadata.tables[name]


def _linked_tables() -> list[Table]:
    """Tables besides ours that refer to a comment (moderator notes, shadow scores...)."""
    return [
        table
        for table in Base.metadata.sorted_tables
        if "comment_id" in table.c and table.name not in _KNOWN
    ]


def _rows(session: Session, table: Table, column: str, ids: Sequence[Any]) -> list[dict[str, Any]]:
    if not ids:
        return []
    key = list(table.primary_key.columns)
    query = select(table).where(table.c[column].in_(list(ids))).order_by(*key)
    return [_row(table, row) for row in session.execute(query).mappings()]


def _author_comment_ids(session: Session, source_id: str, author_id: str) -> list[str]:
    return list(
        session.scalars(
            select(Comment.id)
            .where(by_author(source_id, author_id))
            .order_by(Comment.received_at, Comment.id)
        )
    )


def _author_events(session: Session, source_id: str, author_id: str) -> list[Event]:
    """Events about the author rather than one comment (author.*)."""
    events = session.scalars(
        select(Event)
        .where(Event.source_id == source_id, Event.comment_id.is_(None))
        .order_by(Event.created_at, Event.id)
    )
    return [e for e in events if (e.payload.get("data") or {}).get("author_id") == author_id]


def export_author(
    session: Session, source_id: str, author_id: str, now: datetime | None = None
) -> dict[str, Any]:
    """Every row stored about the author, by table (JSON-ready); NothingStored when none."""
    author_id = check_author_id(author_id)
    get_source(session, source_id)
    comment_ids = _author_comment_ids(session, source_id, author_id)
    sanctions = list(
        session.scalars(
            select(AuthorSanction.id).where(
                AuthorSanction.source_id == source_id, AuthorSanction.author_id == author_id
            )
        )
    )
    if not comment_ids and not sanctions:
        raise NothingStored(f"nothing is stored about author {author_id!r} at this source")
    events = _rows(session, _table("events"), "comment_id", comment_ids)
    author_events = [e.id for e in _author_events(session, source_id, author_id)]
    events += _rows(session, _table("events"), "id", author_events)
    tables: dict[str, list[dict[str, Any]]] = {
        "comments": _rows(session, _table("comments"), "id", comment_ids),
        "revisions": _rows(session, _table("revisions"), "comment_id", comment_ids),
        "decisions": _rows(session, _table("decisions"), "comment_id", comment_ids),
        "events": events,
        "delivery_attempts": _rows(
            session, _table("delivery_attempts"), "event_id", [e["id"] for e in events]
        ),
        "author_sanctions": _rows(session, _table("author_sanctions"), "id", sanctions),
        "appeals": _rows(session, _table("appeals"), "comment_id", comment_ids),
    }
    for table in _linked_tables():
        tables[table.name] = _rows(session, table, "comment_id", comment_ids)
    # Who reported the author is not the author's to know.
    for report in tables.get("reports", []):
        report.pop("reporter_id", None)
    return {
        "source_id": source_id,
        "author_id": author_id,
        "exported_at": iso(now or datetime.now(UTC)),
        "tables": tables,
    }


class _Scrubber:
    """Replaces each of the author's values, wherever it occurs in text, case-insensitively."""

    def __init__(self, values: Iterable[str | None]) -> None:
        wanted = sorted(
            {v.strip() for v in values if v and len(v.strip()) >= MIN_SCRUBBED_CHARS},
            key=len,
            reverse=True,
        )
        self.pattern = (
            re.compile("|".join(re.escape(v) for v in wanted), re.IGNORECASE) if wanted else None
        )

    def text(self, value: str | None) -> str | None:
        if value is None or self.pattern is None:
            return value
        return self.pattern.sub(ERASED, value)

    def json(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.json(v) for v in value]
        if isinstance(value, dict):
            return {k: self.json(v) for k, v in value.items()}
        return value


# Short strings are codes (statuses, kinds, ids), never free text that could quote someone.
FREE_TEXT_MIN_LENGTH = 200


def _free_text(column_type: Any) -> bool:
    if isinstance(column_type, Text | JSON):
        return True
    return isinstance(column_type, String) and (column_type.length or 0) >= FREE_TEXT_MIN_LENGTH


def _scrub_table(
    session: Session, table: Table, column: str, ids: Sequence[Any], scrubber: _Scrubber
) -> int:
    """Scrub every text and JSON column of the rows whose `column` is in ids; rows changed."""
    if not ids:
        return 0
    texts = [c for c in table.columns if _free_text(c.type) and not c.primary_key]
    key = list(table.primary_key.columns)
    changed = 0
    rows = session.execute(select(*key, *texts).where(table.c[column].in_(list(ids)))).mappings()
    for row in list(rows):
        values: dict[str, Any] = {}
        for c in texts:
            value = row[c.name]
            scrubbed = scrubber.json(value) if isinstance(c.type, JSON) else scrubber.text(value)
            if scrubbed != value:
                values[c.name] = scrubbed
        if values:
            session.execute(update(table).where(*(k == row[k.name] for k in key)).values(**values))
            changed += 1
    return changed


def _without_quotes(reasons: Any) -> Any:
    """Reasons without the words they quote from the body (a blocklist match as written)."""
    if not isinstance(reasons, list):
        return reasons
    return [
        {**r, "matched": ERASED} if isinstance(r, dict) and r.get("matched") else r for r in reasons
    ]


@dataclass(frozen=True)
class Erasure:
    """What erasing an author changed, per table, and the event telling the CMS."""

    counts: dict[str, int]
    event: Event
    comment_ids: list[str] = field(default_factory=list)


def erase_author(
    session: Session, source_id: str, author_id: str, by: str, now: datetime | None = None
) -> Erasure:
    """Erase the author's personal data at this source (see the module's docstring); the caller
    commits, then queues the author.erased event. NothingStored when nothing is."""
    now = now or datetime.now(UTC)
    author_id = check_author_id(author_id)
    get_source(session, source_id)
    comments = list(
        session.scalars(select(Comment).where(by_author(source_id, author_id)).with_for_update())
    )
    sanctions = list(
        session.scalars(
            select(AuthorSanction).where(
                AuthorSanction.source_id == source_id, AuthorSanction.author_id == author_id
            )
        )
    )
    if not comments and not sanctions:
        raise NothingStored(f"nothing is stored about author {author_id!r} at this source")
    ids = [c.id for c in comments]
    revisions = list(session.scalars(select(Revision).where(Revision.comment_id.in_(ids))))
    appeals = list(session.scalars(select(Appeal).where(Appeal.comment_id.in_(ids))))
    # A CMS without author ids names the author by e-mail: that name goes too.
    named_by_email = any(c.author_id is None for c in comments)
    scrubber = _Scrubber(
        [
            *(v for c in comments for v in (c.author_name, c.author_email, c.ip, c.user_agent)),
            *(c.body for c in comments),
            *(r.body for r in revisions),
            *(a.text for a in appeals),
            author_id if named_by_email else None,
        ]
    )
    external_ids = [c.external_id for c in comments]
    for comment in comments:
        comment.author_name = ERASED
        comment.author_email = ""
        comment.ip = None
        comment.user_agent = None
        comment.body = ""
        comment.body_sha256 = EMPTY_SHA256
        comment.highlights = None
        comment.erased_at = now
    for revision in revisions:
        revision.body = ""
        revision.body_sha256 = EMPTY_SHA256
    for appeal in appeals:
        appeal.text = ""
    session.flush()

    counts = {"comments": len(comments), "revisions": len(revisions), "appeals": len(appeals)}
    # Decisions stay for the audit trail; a moderator's note may quote or name the author.
    decisions = list(session.scalars(select(Decision).where(Decision.comment_id.in_(ids))))
    for decision in decisions:
        decision.note = None
        decision.reasons = _without_quotes(decision.reasons)
    session.flush()
    counts["decisions"] = len(decisions)
    author_events = [e.id for e in _author_events(session, source_id, author_id)]
    event_ids = [
        *session.scalars(select(Event.id).where(Event.comment_id.in_(ids))),
        *author_events,
    ]
    for event in session.scalars(select(Event).where(Event.id.in_(event_ids))):
        payload = cast(dict[str, Any], scrubber.json(event.payload))
        data = payload.get("data")
        if isinstance(data, dict):
            if "note" in data:
                data["note"] = None
            if isinstance(data.get("reasons"), list):
                data["reasons"] = _without_quotes(data["reasons"])
        event.payload = payload
    session.flush()
    counts["events"] = len(event_ids)
    _scrub_table(session, _table("decisions"), "comment_id", ids, scrubber)
    counts["delivery_attempts"] = _scrub_table(
        session, _table("delivery_attempts"), "event_id", event_ids, scrubber
    )
    _scrub_table(session, _table("appeals"), "comment_id", ids, scrubber)
    counts["author_sanctions"] = _scrub_table(
        session, _table("author_sanctions"), "id", [s.id for s in sanctions], scrubber
    )
    for table in _linked_tables():
        counts[table.name] = _scrub_table(session, table, "comment_id", ids, scrubber)
    session.expire_all()

    told = None if named_by_email else author_id
    event = record_author_event(
        session,
        source_id,
        EventType.AUTHOR_ERASED,
        {
            "source_id": source_id,
            "author_id": told,
            "comments": external_ids,
            "erased_at": iso(now),
        },
        now,
    )
    log.info("author erased", source_id=source_id, by=by, event_id=event.id, **counts)
    return Erasure(counts=counts, event=event, comment_ids=ids)


def apply_retention(session: Session, now: datetime | None = None, limit: int = 500) -> int:
    """Erase IP addresses and user agents, and decided bodies, past each source's retention;
    how many comments changed (at most `limit` of each kind per call; the next sweep goes on)."""
    now = now or datetime.now(UTC)
    changed = 0
    for source_id, days in session.execute(
        select(Source.id, Source.retention_days).where(Source.retention_days.is_not(None))
    ):
        cutoff = now - timedelta(days=days or 0)
        traced = list(
            session.scalars(
                select(Comment.id)
                .where(
                    Comment.source_id == source_id,
                    Comment.received_at < cutoff,
                    (Comment.ip.is_not(None)) | (Comment.user_agent.is_not(None)),
                )
                .limit(limit)
            )
        )
        if traced:
            session.execute(
                update(Comment)
                .where(Comment.id.in_(traced))
                .values(ip=None, user_agent=None)
                .execution_options(synchronize_session=False)
            )
        decided = list(
            session.scalars(
                select(Comment.id)
                .where(
                    Comment.source_id == source_id,
                    Comment.status.in_([Status.APPROVED.value, Status.REJECTED.value]),
                    Comment.decided_at < cutoff,
                    Comment.erased_at.is_(None),
                )
                .limit(limit)
            )
        )
        if decided:
            session.execute(
                update(Comment)
                .where(Comment.id.in_(decided))
                .values(body="", highlights=None, erased_at=now)
                .execution_options(synchronize_session=False)
            )
            session.execute(
                update(Revision)
                .where(Revision.comment_id.in_(decided))
                .values(body="")
                .execution_options(synchronize_session=False)
            )
        if traced or decided:
            log.info(
                "retention applied",
                source_id=source_id,
                traces_erased=len(traced),
                bodies_erased=len(decided),
            )
        changed += len(set(traced) | set(decided))
    return changed
