"""Suspensions and bans: what they do to an author's comments, their events, their expiry."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from core import authors, reports
from core.authors import SanctionKind
from core.db import session_scope
from core.domain import Status
from core.moderation import moderate_comment
from core.settings import Settings
from core.store import create_source
from core.sweep import collect_stale_work
from core.tables import AuthorSanction, Comment, Decision, Event
from tests.comments import incoming, receive
from tests.wordlist_scorer import WordListScorer

pytestmark = pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)

BENIGN = "Thanks for the clear reporting on the council budget."
AUTHOR = "u-42"


def new_source(settings: Settings, **fields: object) -> str:
    with session_scope(settings) as session:
        return create_source(session, "Daily Planet", **fields).source.id


def decided(settings: Settings, source_id: str, external_id: str, author: str = AUTHOR) -> Decision:
    """A benign comment by `author`, scored by the model; its decision."""
    with session_scope(settings) as session:
        comment = receive(
            session, source_id, replace(incoming(BENIGN, external_id), author_id=author)
        )
        comment_id = comment.id
    with session_scope(settings) as session:
        result = moderate_comment(session, comment_id, WordListScorer())
        assert result is not None
        session.expunge(result[0])
        return result[0]


def suspend(settings: Settings, source_id: str, days: float = 7, **kw: object) -> int:
    with session_scope(settings) as session:
        change = authors.sanction_author(
            session,
            source_id,
            AUTHOR,
            SanctionKind.SUSPENSION,
            "insults other readers",
            by="mod@example.org",
            duration=timedelta(days=days),
            **kw,  # type: ignore[arg-type]
        )
        return change.sanction.id


def events_of_type(settings: Settings, kind: str, source_id: str) -> list[Event]:
    with session_scope(settings) as session:
        rows = list(
            session.scalars(
                select(Event)
                .where(Event.type == kind, Event.source_id == source_id)
                .order_by(Event.id)
            )
        )
        session.expunge_all()
        return rows


class TestSanctionedComments:
    def test_suspension_rejects_new_comments_with_a_reason(self, settings: Settings) -> None:
        source_id = new_source(settings)
        sanction_id = suspend(settings, source_id)
        decision = decided(settings, source_id, "cms-1")
        assert decision.status == Status.REJECTED.value
        assert decision.reasons[-1]["kind"] == "sanction"
        assert decision.reasons[-1]["sanction"] == "suspension"
        assert decision.reasons[-1]["sanction_id"] == sanction_id
        assert all(r["kind"] != "below_thresholds" for r in decision.reasons)

    def test_suspension_holds_comments_where_the_source_says_hold(self, settings: Settings) -> None:
        source_id = new_source(settings, sanctioned_comments="hold")
        suspend(settings, source_id)
        decision = decided(settings, source_id, "cms-1")
        assert decision.status == Status.FLAGGED.value
        assert decision.reasons[-1]["outcome"] == "flagged"

    def test_other_authors_are_not_touched(self, settings: Settings) -> None:
        source_id = new_source(settings)
        suspend(settings, source_id)
        assert decided(settings, source_id, "cms-1", author="u-other").status == "approved"

    def test_another_source_is_not_touched(self, settings: Settings) -> None:
        suspend(settings, new_source(settings))
        assert decided(settings, new_source(settings), "cms-1").status == "approved"

    def test_ban_rejects_until_reinstated(self, settings: Settings) -> None:
        source_id = new_source(settings)
        with session_scope(settings) as session:
            authors.sanction_author(
                session, source_id, AUTHOR, SanctionKind.BAN, "spam bot", by="mod@example.org"
            )
        assert decided(settings, source_id, "cms-1").status == "rejected"
        with session_scope(settings) as session:
            authors.reinstate_author(
                session, source_id, AUTHOR, by="lead@example.org", reason="appeal upheld"
            )
        assert decided(settings, source_id, "cms-2").status == "approved"
        with session_scope(settings) as session:
            (ban,) = session.scalars(
                select(AuthorSanction).where(AuthorSanction.source_id == source_id)
            ).all()
            assert (ban.lifted_by, ban.lift_reason) == ("lead@example.org", "appeal upheld")

    def test_comments_by_email_when_the_cms_sends_no_author_id(self, settings: Settings) -> None:
        source_id = new_source(settings)
        with session_scope(settings) as session:
            authors.sanction_author(
                session, source_id, "reader@example.org", SanctionKind.BAN, "spam", by="m"
            )
            comment = receive(session, source_id, incoming(BENIGN, "cms-1"))
            comment_id = comment.id
        with session_scope(settings) as session:
            moderate_comment(session, comment_id, WordListScorer())
            assert session.get_one(Comment, comment_id).status == "rejected"


class TestSanctionEvents:
    def test_suspension_tells_the_cms(self, settings: Settings) -> None:
        source_id = new_source(settings)
        sanction_id = suspend(settings, source_id)
        (event,) = events_of_type(settings, "author.suspended", source_id)
        assert event.comment_id is None and event.source_id == source_id
        data = event.payload["data"]
        assert data["author_id"] == AUTHOR
        assert data["sanction"]["id"] == sanction_id
        assert data["sanction"]["reason"] == "insults other readers"
        assert data["sanction"]["ends_at"] is not None

    def test_ban_replaces_a_suspension(self, settings: Settings) -> None:
        source_id = new_source(settings)
        first = suspend(settings, source_id)
        with session_scope(settings) as session:
            change = authors.sanction_author(
                session, source_id, AUTHOR, SanctionKind.BAN, "again", by="m"
            )
            assert authors.active_sanction(session, source_id, AUTHOR) is change.sanction
            old = session.get_one(AuthorSanction, first)
            assert (
                old.lifted_at is not None
                and old.lift_reason == f"replaced by ban {change.sanction.id}"
            )
        (banned,) = events_of_type(settings, "author.banned", source_id)
        assert banned.payload["data"]["sanction"]["ends_at"] is None

    def test_reinstating_an_author_in_good_standing_is_refused(self, settings: Settings) -> None:
        source_id = new_source(settings)
        with session_scope(settings) as session, pytest.raises(authors.NotSanctioned):
            authors.reinstate_author(session, source_id, AUTHOR, by="m", reason="why not")

    @pytest.mark.parametrize(
        ("kind", "duration", "reason"),
        [
            (SanctionKind.SUSPENSION, None, "x"),
            (SanctionKind.SUSPENSION, timedelta(days=4000), "x"),
            (SanctionKind.BAN, timedelta(days=1), "x"),
            (SanctionKind.BAN, None, "   "),
        ],
    )
    def test_sanction_refuses_what_makes_no_sense(
        self,
        settings: Settings,
        kind: SanctionKind,
        duration: timedelta | None,
        reason: str,
    ) -> None:
        source_id = new_source(settings)
        with session_scope(settings) as session, pytest.raises(authors.InvalidSanction):
            authors.sanction_author(
                session, source_id, AUTHOR, kind, reason, by="m", duration=duration
            )


class TestExpiry:
    def test_suspension_expires_by_itself_from_the_sweeper(self, settings: Settings) -> None:
        source_id = new_source(settings)
        started = datetime.now(UTC) - timedelta(days=8)
        sanction_id = suspend(settings, source_id, days=7, now=started)
        with session_scope(settings) as session:
            work = collect_stale_work(
                session,
                stale_after=timedelta(minutes=5),
                event_grace=timedelta(seconds=5),
                webhook_memory=timedelta(minutes=10),
                limit=100,
            )
        (reinstated,) = events_of_type(settings, "author.reinstated", source_id)
        assert work.sanctions_expired == 1 and reinstated.id in work.event_ids
        assert reinstated.payload["data"]["sanction"]["lifted"] == "expiry"
        with session_scope(settings) as session:
            sanction = session.get_one(AuthorSanction, sanction_id)
            assert sanction.lifted_by == authors.EXPIRY
        assert decided(settings, source_id, "cms-1").status == "approved"

    def test_a_running_suspension_is_left_alone(self, settings: Settings) -> None:
        source_id = new_source(settings)
        suspend(settings, source_id, days=7)
        with session_scope(settings) as session:
            assert authors.expire_sanctions(session) == []
        assert events_of_type(settings, "author.reinstated", source_id) == []


class TestTrust:
    def test_a_newcomer_is_pre_moderated_until_trusted(self, settings: Settings) -> None:
        source_id = new_source(settings, premoderate_below=2)
        first = decided(settings, source_id, "cms-1")
        assert first.status == Status.FLAGGED.value
        assert first.reasons == [
            {"kind": "trust", "approved": 0, "required": 2, "outcome": "flagged"}
        ]
        with session_scope(settings) as session:
            for comment in session.scalars(select(Comment).where(Comment.source_id == source_id)):
                comment.status = Status.APPROVED.value  # a person approved it
        assert decided(settings, source_id, "cms-2").status == Status.FLAGGED.value
        with session_scope(settings) as session:
            session.scalars(
                select(Comment).where(
                    Comment.source_id == source_id, Comment.external_id == "cms-2"
                )
            ).one().status = Status.APPROVED.value
        # Two approved comments: trusted, the model's approval stands.
        assert decided(settings, source_id, "cms-3").status == Status.APPROVED.value

    def test_no_pre_moderation_by_default(self, settings: Settings) -> None:
        assert decided(settings, new_source(settings), "cms-1").status == "approved"

    def test_trust_never_softens_a_flag_or_a_rejection(self, settings: Settings) -> None:
        source_id = new_source(settings, premoderate_below=5)
        suspend(settings, source_id)
        decision = decided(settings, source_id, "cms-1")
        assert decision.status == "rejected"
        assert [r["kind"] for r in decision.reasons] == ["sanction"]

    def test_author_record_counts_outcomes_and_reports(self, settings: Settings) -> None:
        source_id = new_source(settings)
        ok = decided(settings, source_id, "cms-1")
        decided(settings, source_id, "cms-2")
        with session_scope(settings) as session:
            reports.receive_report(session, source_id, "cms-1", "r-1", "spam", None)
            reports.receive_report(session, source_id, "cms-2", "r-1", "spam", None)
            comment = session.get_one(Comment, ok.comment_id)
            record = authors.author_records(session, [comment])[comment.id]
        assert record.as_json() == {"approved": 2, "rejected": 0, "reported": 2, "upheld": 0}
