"""When the scorer is down: fail-open approves provisionally, fail-closed holds; the model then
decides each revision exactly once."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core import authors
from core.authors import SanctionKind
from core.db import session_scope
from core.domain import Status
from core.moderation import moderate_comment
from core.review import decide, undo
from core.settings import Settings
from core.sources import InvalidSourceChange, SourceChanges, update_source
from core.store import create_source, stale_pending_ids
from core.tables import Comment, Decision, Event, Revision, User
from core.unscored import settle_unscored
from tests.comments import incoming, receive
from tests.wordlist_scorer import WordListScorer

pytestmark = pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)

TOXIC = "You are a pathetic idiot, shut up and die"
WAIT = 60


def waiting_comment(
    settings: Settings, mode: str, waited: float = 2 * WAIT, external_id: str = "cms-1"
) -> tuple[str, str]:
    """A committed pending comment of a `mode` source whose revision arrived `waited` s ago."""
    with session_scope(settings) as session:
        source = create_source(
            session, "Daily Planet", unscored_mode=mode, unscored_wait_seconds=WAIT
        ).source
        comment = receive(session, source.id, incoming(TOXIC, external_id))
        session.flush()
        backdate(session, comment.id, waited)
        return source.id, comment.id


def backdate(session: Session, comment_id: str, waited: float) -> None:
    session.execute(
        update(Revision)
        .where(Revision.comment_id == comment_id)
        .values(received_at=datetime.now(UTC) - timedelta(seconds=waited))
    )


def settle(settings: Settings) -> list[str]:
    with session_scope(settings) as session:
        return settle_unscored(session, datetime.now(UTC), limit=10_000)[1]


def moderate(settings: Settings, comment_id: str) -> bool:
    with session_scope(settings) as session:
        return moderate_comment(session, comment_id, WordListScorer()) is not None


def history(settings: Settings, comment_id: str) -> list[tuple[str, str, str]]:
    """(actor, status, last reason's kind) of every decision, oldest first."""
    with session_scope(settings) as session:
        rows = session.scalars(
            select(Decision).where(Decision.comment_id == comment_id).order_by(Decision.id)
        )
        return [(d.actor, d.status, d.reasons[-1]["kind"]) for d in rows]


def callbacks(settings: Settings, comment_id: str) -> list[tuple[int, str, bool, str]]:
    """(seq, type, provisional, status) of every event, in seq order."""
    with session_scope(settings) as session:
        rows = session.scalars(
            select(Event).where(Event.comment_id == comment_id).order_by(Event.seq)
        )
        return [
            (e.seq, e.type, e.payload["data"]["provisional"], e.payload["data"]["status"])
            for e in rows
        ]


def comment_state(settings: Settings, comment_id: str) -> tuple[str, str | None]:
    with session_scope(settings) as session:
        comment = session.get_one(Comment, comment_id)
        return comment.status, comment.unscored


class TestFailOpen:
    def test_settle_unscored_approves_provisionally_then_model_replaces_it(
        self, settings: Settings
    ) -> None:
        _, comment_id = waiting_comment(settings, "fail-open")
        settle(settings)
        assert comment_state(settings, comment_id) == ("approved", "provisional")

        assert moderate(settings, comment_id)
        assert not moderate(settings, comment_id)
        settle(settings)

        status, unscored = comment_state(settings, comment_id)
        assert unscored is None and status in ("flagged", "rejected")
        assert history(settings, comment_id) == [
            ("system", "approved", "unscored"),
            ("model", status, "replaces_provisional"),
        ]
        assert callbacks(settings, comment_id) == [
            (1, "comment.approved", True, "approved"),
            (2, f"comment.{status}", False, status),
        ]

    def test_settle_unscored_reason_names_the_wait(self, settings: Settings) -> None:
        _, comment_id = waiting_comment(settings, "fail-open")
        settle(settings)
        with session_scope(settings) as session:
            (decision,) = session.scalars(select(Decision).where(Decision.comment_id == comment_id))
            assert decision.reasons == [
                {"kind": "unscored", "wait_seconds": WAIT, "outcome": "approved"}
            ]
            assert decision.previous_status == "pending"

    def test_settle_unscored_leaves_comment_within_its_wait(self, settings: Settings) -> None:
        _, comment_id = waiting_comment(settings, "fail-open", waited=WAIT / 2)
        settle(settings)
        assert comment_state(settings, comment_id) == ("pending", None)
        assert history(settings, comment_id) == []

    def test_moderator_decision_ends_the_provisional_state(self, settings: Settings) -> None:
        _, comment_id = waiting_comment(settings, "fail-open")
        settle(settings)
        with session_scope(settings) as session:
            email = f"mod-{uuid.uuid4().hex[:8]}@example.org"
            moderator = User(email=email, password_hash="x", role="moderator")
            session.add(moderator)
            session.flush()
            decide(session, comment_id, moderator.id, Status.REJECTED, reason_code="toxic")
        assert not moderate(settings, comment_id)
        assert comment_state(settings, comment_id) == ("rejected", None)
        assert [actor for actor, _, _ in history(settings, comment_id)] == ["system", "moderator"]

    def test_edit_after_provisional_approval_waits_again(self, settings: Settings) -> None:
        source_id, comment_id = waiting_comment(settings, "fail-open")
        settle(settings)
        with session_scope(settings) as session:
            receive(session, source_id, incoming("An edited, calmer comment.", "cms-1"))
        assert comment_state(settings, comment_id) == ("pending", None)
        settle(settings)
        assert comment_state(settings, comment_id) == ("pending", None)
        with session_scope(settings) as session:
            backdate(session, comment_id, 2 * WAIT)
        settle(settings)
        assert comment_state(settings, comment_id) == ("approved", "provisional")

    def test_banned_author_is_held_not_approved(self, settings: Settings) -> None:
        source_id, comment_id = waiting_comment(settings, "fail-open")
        with session_scope(settings) as session:
            authors.sanction_author(
                session, source_id, "reader@example.org", SanctionKind.BAN, "spam", by="m"
            )
        settle(settings)
        assert comment_state(settings, comment_id) == ("pending", "held")


class TestFailClosed:
    def test_settle_unscored_holds_and_tells_the_cms_once(self, settings: Settings) -> None:
        _, comment_id = waiting_comment(settings, "fail-closed")
        first = settle(settings)
        again = settle(settings)
        assert comment_state(settings, comment_id) == ("pending", "held")
        assert callbacks(settings, comment_id) == [(1, "comment.unscored", False, "pending")]
        (event_id,) = (e for e in first if e.startswith("msg"))
        assert event_id not in again
        with session_scope(settings) as session:
            assert session.get_one(Comment, comment_id).decided_at is None

    def test_model_decides_a_held_comment_once(self, settings: Settings) -> None:
        _, comment_id = waiting_comment(settings, "fail-closed")
        settle(settings)
        assert moderate(settings, comment_id)
        assert not moderate(settings, comment_id)
        status, unscored = comment_state(settings, comment_id)
        assert unscored is None
        assert history(settings, comment_id) == [
            ("system", "pending", "unscored"),
            ("model", status, "score"),
        ]
        assert [seq for seq, *_ in callbacks(settings, comment_id)] == [1, 2]


def moderator_id(settings: Settings) -> int:
    with session_scope(settings) as session:
        moderator = User(
            email=f"mod-{uuid.uuid4().hex[:8]}@example.org", password_hash="x", role="moderator"
        )
        session.add(moderator)
        session.flush()
        return moderator.id


def decide_then_undo(settings: Settings, comment_id: str, status: Status) -> list[str]:
    """A moderator decides the comment, then takes it back; the comments awaiting the model."""
    user_id = moderator_id(settings)
    with session_scope(settings) as session:
        decide(
            session,
            comment_id,
            user_id,
            status,
            reason_code="toxic" if status == "rejected" else None,
        )
    with session_scope(settings) as session:
        return undo(session, user_id).awaiting_model


class TestUndoBeforeTheModel:
    """Undoing a moderator's decision on a comment the model had not decided gives it back to
    the model: the worker (or the sweeper's re-queue) decides it, once."""

    def test_undo_on_a_provisional_approval_awaits_the_model_again(
        self, settings: Settings
    ) -> None:
        _, comment_id = waiting_comment(settings, "fail-open")
        settle(settings)
        assert decide_then_undo(settings, comment_id, Status.REJECTED) == [comment_id]
        assert comment_state(settings, comment_id) == ("approved", "provisional")
        with session_scope(settings) as session:
            assert comment_id in stale_pending_ids(session, timedelta(seconds=-1))
        assert moderate(settings, comment_id)
        assert not moderate(settings, comment_id)
        status, unscored = comment_state(settings, comment_id)
        assert unscored is None and status in ("flagged", "rejected")
        assert history(settings, comment_id) == [
            ("system", "approved", "unscored"),
            ("moderator", "rejected", "moderator"),
            ("moderator", "approved", "undo"),
            ("model", status, "replaces_provisional"),
        ]
        provisional = [p for _, _, p, _ in callbacks(settings, comment_id)]
        assert provisional == [True, False, True, False]

    def test_undo_on_a_held_comment_holds_it_for_the_model_again(self, settings: Settings) -> None:
        _, comment_id = waiting_comment(settings, "fail-closed")
        settle(settings)
        assert decide_then_undo(settings, comment_id, Status.APPROVED) == [comment_id]
        assert comment_state(settings, comment_id) == ("pending", "held")
        with session_scope(settings) as session:
            assert session.get_one(Comment, comment_id).decided_at is None
        assert moderate(settings, comment_id)
        status, unscored = comment_state(settings, comment_id)
        assert unscored is None and status in ("flagged", "rejected")
        assert [actor for actor, _, _ in history(settings, comment_id)] == [
            "system", "moderator", "moderator", "model"
        ]  # fmt: skip
        types = [t for _, t, _, _ in callbacks(settings, comment_id)]
        assert types == [
            "comment.unscored",
            "comment.approved",
            "comment.unscored",
            f"comment.{status}",
        ]

    def test_undo_on_a_comment_decided_before_any_wait_leaves_it_pending(
        self, settings: Settings
    ) -> None:
        _, comment_id = waiting_comment(settings, "fail-closed", waited=WAIT / 2)
        assert decide_then_undo(settings, comment_id, Status.REJECTED) == [comment_id]
        assert comment_state(settings, comment_id) == ("pending", None)
        assert moderate(settings, comment_id)

    def test_a_second_undo_cycle_still_restores_the_provisional_mark(
        self, settings: Settings
    ) -> None:
        _, comment_id = waiting_comment(settings, "fail-open")
        settle(settings)
        decide_then_undo(settings, comment_id, Status.REJECTED)
        decide_then_undo(settings, comment_id, Status.REJECTED)
        assert comment_state(settings, comment_id) == ("approved", "provisional")

    def test_undo_after_the_model_decided_restores_no_mark(self, settings: Settings) -> None:
        _, comment_id = waiting_comment(settings, "fail-open")
        settle(settings)
        assert moderate(settings, comment_id)
        status, _ = comment_state(settings, comment_id)
        assert decide_then_undo(settings, comment_id, Status.APPROVED) == []
        assert comment_state(settings, comment_id) == (status, None)


class TestUnscoredSettings:
    @pytest.mark.parametrize(
        "changes",
        [
            SourceChanges(unscored_mode="open"),
            SourceChanges(unscored_wait_seconds=0),
            SourceChanges(unscored_wait_seconds=8 * 86400),
        ],
    )
    def test_update_source_refuses_bad_unscored_settings(
        self, settings: Settings, changes: SourceChanges
    ) -> None:
        with session_scope(settings) as session:
            source_id = create_source(session, "Daily Planet").source.id
        with session_scope(settings) as session, pytest.raises(InvalidSourceChange):
            update_source(session, source_id, changes)

    def test_update_source_sets_unscored_mode_and_wait(self, settings: Settings) -> None:
        with session_scope(settings) as session:
            source_id = create_source(session, "Daily Planet").source.id
        with session_scope(settings) as session:
            source = update_source(
                session,
                source_id,
                SourceChanges(unscored_mode="fail-open", unscored_wait_seconds=90),
            )
            assert (source.unscored_mode, source.unscored_wait_seconds) == ("fail-open", 90)
