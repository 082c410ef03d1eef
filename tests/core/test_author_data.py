"""An author's data: the export lists everything, erasure leaves no personal value anywhere in
the database (a scan of every text column of every table), retention runs from the sweeper."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
from celery import Celery
from sqlalchemy import JSON, String, select, update
from sqlalchemy.orm import Session

from core import appeals, authors
from core.author_data import NothingStored, apply_retention, erase_author, export_author
from core.db import session_scope
from core.domain import Status
from core.reasons import BlocklistReason, ModeratorReason
from core.settings import Settings
from core.store import IncomingComment, accept_comment, create_source, record_decision
from core.tables import Base, Comment, Decision, DeliveryAttempt, Event, Revision
from tests.integration.workers import forget_queues
from worker.app import create_celery
from worker.sweeper import lease_key, sweep_once

pytestmark = pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)

AUTHOR_ID = "u-zq"
NAME = EMAIL = IP = AGENT = BODY = EDITED = ""
PERSONAL: tuple[str, ...] = ()


@pytest.fixture(autouse=True)
def new_person() -> None:
    """The author's values, new for each test: PostgreSQL's database is shared by the tests of
    a run, and each test scans all of it for its own author's values."""
    global NAME, EMAIL, IP, AGENT, BODY, EDITED, PERSONAL
    tag = uuid.uuid4().hex[:8]
    NAME = f"Zebulon Quixote {tag}"
    EMAIL = f"zebulon.quixote.{tag}@private.example"
    IP = f"10.{int(tag[:2], 16)}.{int(tag[2:4], 16)}.{int(tag[4:6], 16)}"
    AGENT = f"ZQBrowser/9.1 ({tag})"
    BODY = f"My neighbour's xylophone recital kept the whole street awake ({tag})"
    EDITED = f"Edited: the xylophone recital was in fact rather lovely ({tag})"
    PERSONAL = (NAME, EMAIL, IP, AGENT, BODY, EDITED)


def comment_by(external_id: str, body: str, **fields: Any) -> IncomingComment:
    return IncomingComment(
        external_id=external_id,
        thread_id="article-7",
        author_name=fields.pop("author_name", NAME),
        author_email=fields.pop("author_email", EMAIL),
        author_id=fields.pop("author_id", AUTHOR_ID),
        body=body,
        ip=fields.pop("ip", IP),
        user_agent=fields.pop("user_agent", AGENT),
        **fields,
    )


def store(session: Session, source_id: str, incoming: IncomingComment) -> Comment:
    # A fresh webhook id each time: id() of a collected object comes back, a replay to the intake.
    accepted = accept_comment(session, source_id, f"msg_{uuid.uuid4().hex}", incoming)
    return session.get_one(Comment, accepted.comment_id)


def rich_history(settings: Settings) -> tuple[str, str]:
    """An author with everything a person can leave behind: two comments (one edited), a model
    and a moderator decision with a note naming them, callbacks with a delivery error quoting
    them, a sanction whose reason names them; and another author at the same source."""
    with session_scope(settings) as session:
        source_id = create_source(
            session, "Gazette", callback_url="https://cms.example/hook"
        ).source.id
        first = store(session, source_id, comment_by("cms-1", BODY))
        store(session, source_id, comment_by("cms-1", EDITED))  # an edit: revision 2
        second = store(session, source_id, comment_by("cms-2", BODY + " again"))
        _, event = record_decision(
            session,
            first,
            Status.FLAGGED,
            actor="model",
            reasons=[BlocklistReason(term="xylophone", matched=BODY[-24:], outcome="flagged")],
        )
        record_decision(
            session,
            first,
            Status.REJECTED,
            actor="moderator",
            reasons=[ModeratorReason(reason_code="other", outcome="rejected")],
            reason_code="other",
            note=f"{NAME} ({EMAIL}) again, from {IP}",
        )
        record_decision(session, second, Status.APPROVED, actor="model", reasons=[])
        session.add(
            DeliveryAttempt(
                event_id=event.id,
                number=1,
                url="https://cms.example/hook",
                status_code=500,
                error=f"500: could not save comment by {EMAIL}: {BODY[:30]}",
            )
        )
        authors.sanction_author(
            session,
            source_id,
            AUTHOR_ID,
            authors.SanctionKind.BAN,
            f"{NAME} keeps trolling",
            by="m",
        )
        appeals.receive_appeal(session, source_id, "cms-1", AUTHOR_ID, f"I am {NAME}: {BODY}")
        other = store(
            session,
            source_id,
            comment_by(
                "cms-9", "Someone else's words", author_name="Other Reader",
                author_email="other@example.org", author_id="u-other",
                ip="192.0.2.1", user_agent="Other/1",
            ),
        )  # fmt: skip
        return source_id, other.id


def text_columns() -> list[tuple[str, str]]:
    """(table, column) of every text or JSON column the database has."""
    return [
        (table.name, column.name)
        for table in Base.metadata.sorted_tables
        for column in table.columns
        if isinstance(column.type, String | JSON)
    ]


def personal_values_found(session: Session) -> list[tuple[str, str, str]]:
    """(table, column, value) wherever one of PERSONAL still occurs, case-insensitively."""
    found = []
    for table_name, column_name in text_columns():
        table = Base.metadata.tables[table_name]
        for value in session.scalars(select(table.c[column_name])):
            text = value if isinstance(value, str) else json.dumps(value)
            found += [(table_name, column_name, p) for p in PERSONAL if p.lower() in text.lower()]
    return found


class TestExport:
    def test_export_lists_every_row_about_the_author(self, settings: Settings) -> None:
        source_id, other_id = rich_history(settings)
        with session_scope(settings) as session:
            exported = export_author(session, source_id, AUTHOR_ID)
            ids = set(
                session.scalars(
                    select(Comment.id).where(
                        Comment.source_id == source_id, Comment.author_id == AUTHOR_ID
                    )
                )
            )
            revisions = session.scalars(select(Revision).where(Revision.comment_id.in_(ids))).all()
            events = session.scalars(select(Event.id).where(Event.comment_id.in_(ids))).all()
        tables = exported["tables"]
        assert {c["id"] for c in tables["comments"]} == ids and other_id not in ids
        assert tables["comments"][0]["author_email"] == EMAIL
        assert tables["comments"][0]["ip"] == IP
        assert {r["body"] for r in tables["revisions"]} == {r.body for r in revisions}
        assert len(tables["decisions"]) == 3
        assert any(d["note"] and NAME in d["note"] for d in tables["decisions"])
        # The comments' events and the author's own (author.banned).
        assert set(events) < {e["id"] for e in tables["events"]}
        assert "author.banned" in {e["type"] for e in tables["events"]}
        assert [a["status_code"] for a in tables["delivery_attempts"]] == [500]
        assert [s["kind"] for s in tables["author_sanctions"]] == ["ban"]
        assert [a["text"] for a in tables["appeals"]] == [f"I am {NAME}: {BODY}"]
        json.dumps(exported)  # JSON as it is

    def test_export_of_a_stranger_is_refused(self, settings: Settings) -> None:
        source_id, _ = rich_history(settings)
        with session_scope(settings) as session, pytest.raises(NothingStored):
            export_author(session, source_id, "u-nobody")


class TestErase:
    def test_erase_leaves_no_personal_field_anywhere(self, settings: Settings) -> None:
        source_id, other_id = rich_history(settings)
        with session_scope(settings) as session:
            assert personal_values_found(session), "the scan must see the data before erasure"
            erasure = erase_author(session, source_id, AUTHOR_ID, by="dpo@example.org")
            assert erasure.counts["comments"] == 2 and erasure.counts["revisions"] == 3
        with session_scope(settings) as session:
            assert personal_values_found(session) == []
            # Nor a fragment a reason quoted from the body (a blocklist match as written).
            quoted = BODY[-24:].lower()
            assert all(
                quoted not in json.dumps(d.reasons).lower()
                for d in session.scalars(select(Decision))
            )
            assert all(
                quoted not in json.dumps(e.payload).lower() for e in session.scalars(select(Event))
            )
            # The audit trail stays: every decision, without the note.
            comment = session.scalars(
                select(Comment).where(
                    Comment.source_id == source_id, Comment.external_id == "cms-1"
                )
            ).one()
            assert [d.status for d in comment.decisions] == ["flagged", "rejected"]
            assert comment.decisions[1].note is None and comment.erased_at is not None
            # The CMS is told, by author id and its comment ids.
            told = session.get_one(Event, erasure.event.id)
            assert told.type == "author.erased"
            assert told.payload["data"]["author_id"] == AUTHOR_ID
            assert sorted(told.payload["data"]["comments"]) == ["cms-1", "cms-2"]
            # The ban stays in force, and another author keeps their words.
            assert authors.active_sanction(session, source_id, AUTHOR_ID) is not None
            assert session.get_one(Comment, other_id).body == "Someone else's words"

    def test_erase_by_email_where_the_cms_sends_no_author_id(self, settings: Settings) -> None:
        with session_scope(settings) as session:
            source_id = create_source(session, "Gazette").source.id
            store(session, source_id, comment_by("cms-1", BODY, author_id=None))
        with session_scope(settings) as session:
            erasure = erase_author(session, source_id, EMAIL, by="dpo")
            assert erasure.event.payload["data"]["author_id"] is None
        with session_scope(settings) as session:
            assert personal_values_found(session) == []


class TestRetention:
    def test_retention_erases_traces_and_decided_bodies_only_when_old(
        self, settings: Settings
    ) -> None:
        long_ago = datetime.now(UTC) - timedelta(days=40)
        with session_scope(settings) as session:
            source_id = create_source(session, "Gazette", retention_days=30).source.id
            old = store(session, source_id, comment_by("cms-1", BODY))
            record_decision(session, old, Status.APPROVED, actor="model", reasons=[])
            pending_old = store(session, source_id, comment_by("cms-2", EDITED))
            fresh = store(session, source_id, comment_by("cms-3", "A fresh comment"))
            record_decision(session, fresh, Status.APPROVED, actor="model", reasons=[])
            session.flush()
            session.execute(
                update(Comment)
                .where(Comment.id.in_([old.id, pending_old.id]))
                .values(received_at=long_ago, decided_at=long_ago)
            )
            ids = old.id, pending_old.id, fresh.id
        with session_scope(settings) as session:
            assert apply_retention(session) == 2
        with session_scope(settings) as session:
            old_c, pending_c, fresh_c = (session.get_one(Comment, i) for i in ids)
            assert (old_c.ip, old_c.user_agent, old_c.body) == (None, None, "")
            assert [r.body for r in old_c.revisions] == [""]
            assert (pending_c.ip, pending_c.body) == (None, EDITED)  # not decided: kept
            assert (fresh_c.ip, fresh_c.body) == (IP, "A fresh comment")
            assert apply_retention(session) == 0

    def test_retention_runs_from_the_sweeper(self, settings: Settings) -> None:
        long_ago = datetime.now(UTC) - timedelta(days=3)
        with session_scope(settings) as session:
            source_id = create_source(session, "Gazette", retention_days=1).source.id
            old = store(session, source_id, comment_by("cms-1", BODY))
            record_decision(session, old, Status.REJECTED, actor="model", reasons=[])
            session.flush()
            session.execute(
                update(Comment)
                .where(Comment.id == old.id)
                .values(received_at=long_ago, decided_at=long_ago)
            )
            old_id = old.id
        client = redis.Redis.from_url(settings.redis_client_url)
        sender: Celery = create_celery(settings)
        try:
            work = sweep_once(settings, sender, client)
        finally:
            forget_queues(client, settings)
            client.delete(lease_key(settings))
            client.close()
        assert work is not None and work.retention_erased >= 1
        with session_scope(settings) as session:
            assert session.get_one(Comment, old_id).body == ""
