"""Every rejection carries a statement of reasons: ground, automated or not, text, appeal URL."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from core import authors, review
from core.db import session_scope
from core.moderation import moderate_comment
from core.settings import Settings
from core.sources import InvalidSourceChange, SourceChanges, update_source
from core.store import create_source
from core.tables import Event
from tests.comments import incoming, receive
from tests.service.review_support import make_account
from tests.wordlist_scorer import WordListScorer

pytestmark = pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)

TOXIC = "You are a pathetic idiot, shut up and die"
BENIGN = "Thanks for the clear reporting on the council budget."
KEYS = {"automated", "ground", "text", "appeal_url"}


def new_source(settings: Settings, **fields: Any) -> str:
    with session_scope(settings) as session:
        return create_source(session, "Daily Planet", **fields).source.id


def scored(settings: Settings, source_id: str, body: str, external_id: str = "cms-1") -> str:
    """A comment by u-42 decided by the model; its id."""
    with session_scope(settings) as session:
        comment = receive(
            session, source_id, replace(incoming(body, external_id), author_id="u-42")
        )
        comment_id = comment.id
    with session_scope(settings) as session:
        moderate_comment(session, comment_id, WordListScorer())
    return comment_id


def last_event(settings: Settings, comment_id: str) -> dict[str, Any]:
    with session_scope(settings) as session:
        event = session.scalars(
            select(Event).where(Event.comment_id == comment_id).order_by(Event.seq.desc())
        ).first()
        assert event is not None
        return dict(event.payload)


def statement(settings: Settings, comment_id: str) -> dict[str, Any] | None:
    value = last_event(settings, comment_id)["data"]["statement_of_reasons"]
    return dict(value) if value is not None else None


REJECT_TOXIC = {"toxic": {"flag": 0.5, "reject": 0.5}}


@pytest.fixture
def moderator_id(settings: Settings) -> int:
    return make_account(settings).id


class TestStatementOfReasons:
    def test_model_rejection_names_the_label(self, settings: Settings) -> None:
        comment_id = scored(settings, new_source(settings, thresholds=REJECT_TOXIC), TOXIC)
        said = statement(settings, comment_id)
        assert said is not None and set(said) == KEYS
        assert (said["automated"], said["ground"], said["appeal_url"]) == (True, "toxic", None)
        assert "rude or abusive" in said["text"]

    def test_blocklist_rejection_names_the_rule(self, settings: Settings) -> None:
        source_id = new_source(settings, blocklist=[{"term": "council", "action": "reject"}])
        said = statement(settings, scored(settings, source_id, BENIGN))
        assert said is not None and said["ground"] == "blocklist"

    def test_suspension_rejection_says_until_when(self, settings: Settings) -> None:
        source_id = new_source(settings)
        with session_scope(settings) as session:
            change = authors.sanction_author(
                session,
                source_id,
                "u-42",
                authors.SanctionKind.SUSPENSION,
                "insults",
                by="m",
                duration=timedelta(days=2),
            )
            until = authors.iso(change.sanction.ends_at)
        said = statement(settings, scored(settings, source_id, BENIGN))
        assert said is not None and said["ground"] == "suspension"
        assert f"until {until}" in said["text"]

    def test_moderator_rejection_is_not_automated(
        self, settings: Settings, moderator_id: int
    ) -> None:
        source_id = new_source(settings)
        comment_id = scored(settings, source_id, BENIGN)
        with session_scope(settings) as session:
            review.decide(session, comment_id, moderator_id, review.Status.REJECTED, "off_topic")
        said = statement(settings, comment_id)
        assert said is not None
        assert (said["automated"], said["ground"]) == (False, "off_topic")

    def test_source_templates_and_appeal_url(self, settings: Settings) -> None:
        source_id = new_source(settings, thresholds=REJECT_TOXIC)
        with session_scope(settings) as session:
            update_source(
                session,
                source_id,
                SourceChanges(
                    statement_templates={"toxic": "Keep it civil, please."},
                    appeal_url="https://cms.example/appeal?comment=$external_id",
                ),
            )
        said = statement(settings, scored(settings, source_id, TOXIC, external_id="cms 7/a"))
        assert said is not None and said["text"] == "Keep it civil, please."
        assert said["appeal_url"] == "https://cms.example/appeal?comment=cms%207%2Fa"

    def test_approval_has_no_statement(self, settings: Settings) -> None:
        assert statement(settings, scored(settings, new_source(settings), BENIGN)) is None

    def test_undo_back_to_a_rejection_restores_its_statement(
        self, settings: Settings, moderator_id: int
    ) -> None:
        comment_id = scored(settings, new_source(settings, thresholds=REJECT_TOXIC), TOXIC)
        rejected = statement(settings, comment_id)
        with session_scope(settings) as session:
            review.decide(
                session, comment_id, moderator_id, review.Status.APPROVED, "false_positive"
            )
        with session_scope(settings) as session:
            review.undo(session, moderator_id)
        assert last_event(settings, comment_id)["type"] == "comment.rejected"
        assert statement(settings, comment_id) == rejected

    def test_every_rejection_event_carries_a_statement(
        self, settings: Settings, moderator_id: int
    ) -> None:
        source_id = new_source(
            settings,
            thresholds=REJECT_TOXIC,
            blocklist=[{"term": "budget", "action": "reject"}],
        )
        ids = [
            scored(settings, source_id, TOXIC, "cms-1"),
            scored(settings, source_id, BENIGN, "cms-2"),
            scored(settings, source_id, "Fine words", "cms-3"),
        ]
        with session_scope(settings) as session:
            review.decide(session, ids[2], moderator_id, review.Status.REJECTED, "spam")
            events = session.scalars(
                select(Event).where(Event.source_id == source_id, Event.type == "comment.rejected")
            ).all()
            assert len(events) == 3
            for event in events:
                said = event.payload["data"]["statement_of_reasons"]
                assert set(said) == KEYS and said["text"] and said["ground"]

    def test_unknown_ground_and_bad_appeal_url_are_refused(self, settings: Settings) -> None:
        source_id = new_source(settings)
        for changes in (
            SourceChanges(statement_templates={"rudeness": "x"}),
            SourceChanges(statement_templates={"toxic": "  "}),
            SourceChanges(appeal_url="javascript:alert(1)"),
        ):
            with session_scope(settings) as session, pytest.raises(InvalidSourceChange):
                update_source(session, source_id, changes)
