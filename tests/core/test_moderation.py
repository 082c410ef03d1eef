from __future__ import annotations

from collections.abc import Sequence

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import authors
from core.authors import SanctionKind
from core.db import session_scope
from core.domain import Status
from core.moderation import moderate_comment, moderate_comments, score_text
from core.settings import Settings
from core.store import create_source, record_decision
from core.tables import Comment, Decision, Event, Source
from tests.comments import incoming, receive
from tests.core.test_unscored import callbacks, history, settle, waiting_comment
from tests.wordlist_scorer import WordListScorer

BENIGN = "Thanks for the clear reporting on the council budget."
TOXIC = "You are a pathetic idiot, shut up and die"

pytestmark = pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)


def store_comment(
    settings: Settings, body: str, external_id: str = "cms-1", **source_fields: object
) -> tuple[str, str]:
    """A committed source and pending comment; returns (source id, comment id)."""
    with session_scope(settings) as session:
        source = create_source(session, "Daily Planet", **source_fields).source
        comment = receive(session, source.id, incoming(body, external_id))
        return source.id, comment.id


def decisions_of(session: Session, comment_id: str) -> list[Decision]:
    return list(
        session.scalars(
            select(Decision).where(Decision.comment_id == comment_id).order_by(Decision.id)
        )
    )


def moderate(settings: Settings, comment_id: str, scorer: WordListScorer) -> Event | None:
    with session_scope(settings) as session:
        result = moderate_comment(session, comment_id, scorer)
        return result[1] if result else None


class TestModerateComment:
    def test_moderate_comment_approves_benign(self, settings: Settings) -> None:
        _, comment_id = store_comment(settings, BENIGN)
        event = moderate(settings, comment_id, WordListScorer())
        with session_scope(settings) as session:
            comment = session.get_one(Comment, comment_id)
            assert comment.status == Status.APPROVED.value
            assert comment.decided_at is not None
            assert comment.highlights == []
            [decision] = decisions_of(session, comment_id)
            assert decision.reasons == [{"kind": "below_thresholds", "outcome": "approved"}]
            assert event is not None
            stored_event = session.get_one(Event, event.id)
            assert (stored_event.type, stored_event.state) == ("comment.approved", "pending")

    def test_moderate_comment_flags_toxic_with_reasons_and_highlights(
        self, settings: Settings
    ) -> None:
        _, comment_id = store_comment(settings, TOXIC)
        moderate(settings, comment_id, WordListScorer())
        with session_scope(settings) as session:
            comment = session.get_one(Comment, comment_id)
            assert comment.status == Status.FLAGGED.value
            assert comment.scores is not None and comment.scores["toxic"] >= 0.5
            spans = [TOXIC[start:end] for start, end in comment.highlights or []]
            assert spans == ["pathetic", "idiot", "die"]
            [decision] = decisions_of(session, comment_id)
            labels = {r["label"] for r in decision.reasons if r["kind"] == "score"}
            assert labels == {"toxic", "threat"}

    def test_moderate_comment_records_model_version_and_policy(self, settings: Settings) -> None:
        _, comment_id = store_comment(settings, TOXIC)
        moderate(settings, comment_id, WordListScorer(version="wordlist-7"))
        with session_scope(settings) as session:
            [decision] = decisions_of(session, comment_id)
            assert decision.actor == "model"
            assert decision.model_version == "wordlist-7"
            assert decision.revision == 1
            assert decision.previous_status == "pending"
            assert decision.policy is not None
            assert decision.policy["thresholds"]["toxic"] == {"flag": 0.5, "reject": None}

    def test_moderate_comment_applies_source_thresholds(self, settings: Settings) -> None:
        _, comment_id = store_comment(
            settings, TOXIC, thresholds={"toxic": {"flag": 0.3, "reject": 0.9}}
        )
        moderate(settings, comment_id, WordListScorer())
        with session_scope(settings) as session:
            assert session.get_one(Comment, comment_id).status == Status.REJECTED.value

    def test_moderate_comment_applies_source_blocklist(self, settings: Settings) -> None:
        _, comment_id = store_comment(
            settings, BENIGN, blocklist=[{"term": "council", "action": "reject"}]
        )
        moderate(settings, comment_id, WordListScorer())
        with session_scope(settings) as session:
            [decision] = decisions_of(session, comment_id)
            assert decision.status == Status.REJECTED.value
            assert decision.reasons == [
                {
                    "kind": "blocklist",
                    "term": "council",
                    "matched": "council",
                    "outcome": "rejected",
                }
            ]

    def test_moderate_comment_twice_decides_once(self, settings: Settings) -> None:
        _, comment_id = store_comment(settings, TOXIC)
        scorer = WordListScorer()
        first = moderate(settings, comment_id, scorer)
        second = moderate(settings, comment_id, scorer)
        assert first is not None and second is None
        with session_scope(settings) as session:
            assert len(decisions_of(session, comment_id)) == 1
            count = select(func.count()).select_from(Event).where(Event.comment_id == comment_id)
            assert session.scalar(count) == 1
            # A decided comment is not even scored again.
            assert scorer.calls == 1

    def test_moderate_comment_missing_returns_none(self, settings: Settings) -> None:
        assert moderate(settings, "cmt_does_not_exist", WordListScorer()) is None

    def test_moderate_comment_scores_current_body_after_edit(self, settings: Settings) -> None:
        source_id, comment_id = store_comment(settings, BENIGN)
        moderate(settings, comment_id, WordListScorer())
        with session_scope(settings) as session:
            receive(session, source_id, incoming(TOXIC))
        moderate(settings, comment_id, WordListScorer())
        with session_scope(settings) as session:
            decisions = decisions_of(session, comment_id)
            assert [(d.revision, d.status) for d in decisions] == [
                (1, "approved"),
                (2, "flagged"),
            ]
            assert session.get_one(Comment, comment_id).status == "flagged"

    def test_moderate_comment_skips_when_decided_while_scoring(self, settings: Settings) -> None:
        _, comment_id = store_comment(settings, TOXIC)
        scorer = DecidingWhileScoring(settings, comment_id)
        assert moderate(settings, comment_id, scorer) is None
        with session_scope(settings) as session:
            [decision] = decisions_of(session, comment_id)
            assert decision.actor == "moderator"

    def test_moderate_comment_skips_when_edited_while_scoring(self, settings: Settings) -> None:
        source_id, comment_id = store_comment(settings, BENIGN)
        scorer = EditingWhileScoring(settings, source_id, TOXIC)
        assert moderate(settings, comment_id, scorer) is None
        with session_scope(settings) as session:
            comment = session.get_one(Comment, comment_id)
            assert (comment.status, comment.revision) == ("pending", 2)
            assert decisions_of(session, comment_id) == []


def store_comments(settings: Settings, bodies: Sequence[str]) -> tuple[str, list[str]]:
    """A committed source and one pending comment per body; returns (source id, comment ids)."""
    with session_scope(settings) as session:
        source = create_source(session, "Daily Planet").source
        ids = [
            receive(session, source.id, incoming(body, f"cms-{n}")).id
            for n, body in enumerate(bodies)
        ]
        return source.id, ids


def moderate_batch(settings: Settings, comment_ids: Sequence[str], scorer: WordListScorer) -> int:
    """moderate_comments in one committed transaction; how many comments it decided."""
    with session_scope(settings) as session:
        return len(moderate_comments(session, comment_ids, scorer))


def outcome_of(session: Session, comment_id: str) -> tuple[object, ...]:
    """What a decision leaves on the comment and its history, ids and times left out."""
    comment = session.get_one(Comment, comment_id)
    [decision] = decisions_of(session, comment_id)
    [event] = session.scalars(select(Event).where(Event.comment_id == comment_id))
    return (
        comment.status,
        comment.scores,
        comment.highlights,
        comment.explanation,
        decision.reasons,
        decision.model_version,
        decision.policy,
        event.type,
        event.seq,
        event.payload["data"]["status"],
    )


class TestModerateComments:
    def test_moderate_comments_decides_each_with_one_model_call(self, settings: Settings) -> None:
        bodies = [BENIGN, TOXIC, BENIGN, "Win at the casino tonight"]
        _, ids = store_comments(settings, bodies)
        scorer = WordListScorer()
        assert moderate_batch(settings, ids, scorer) == 4
        assert scorer.calls == 1
        with session_scope(settings) as session:
            statuses = [session.get_one(Comment, i).status for i in ids]
            assert statuses == ["approved", "flagged", "approved", "flagged"]
            assert [len(decisions_of(session, i)) for i in ids] == [1, 1, 1, 1]

    def test_moderate_comments_matches_one_by_one(self, settings: Settings) -> None:
        bodies = [BENIGN, TOXIC, "Win at the casino tonight", "vermin, all of them"]
        _, one_by_one = store_comments(settings, bodies)
        _, batched = store_comments(settings, bodies)
        for comment_id in one_by_one:
            moderate(settings, comment_id, WordListScorer())
        moderate_batch(settings, batched, WordListScorer())
        with session_scope(settings) as session:
            expected = [outcome_of(session, i) for i in one_by_one]
            assert [outcome_of(session, i) for i in batched] == expected

    def test_moderate_comments_twice_and_repeated_ids_decide_once(self, settings: Settings) -> None:
        _, ids = store_comments(settings, [BENIGN, TOXIC])
        scorer = WordListScorer()
        assert moderate_batch(settings, [*ids, ids[0], "cmt_does_not_exist"], scorer) == 2
        assert moderate_batch(settings, ids, scorer) == 0
        with session_scope(settings) as session:
            assert [len(decisions_of(session, i)) for i in ids] == [1, 1]
            count = select(func.count()).select_from(Event).where(Event.comment_id.in_(ids))
            assert session.scalar(count) == 2
        # Decided comments are not even scored again.
        assert scorer.calls == 1

    def test_moderate_comments_skips_alone_one_decided_while_scoring(
        self, settings: Settings
    ) -> None:
        _, ids = store_comments(settings, [TOXIC, BENIGN, TOXIC])
        assert moderate_batch(settings, ids, DecidingWhileScoring(settings, ids[1])) == 2
        with session_scope(settings) as session:
            actors = [[d.actor for d in decisions_of(session, i)] for i in ids]
            assert actors == [["model"], ["moderator"], ["model"]]

    def test_moderate_comments_skips_alone_one_edited_while_scoring(
        self, settings: Settings
    ) -> None:
        source_id, ids = store_comments(settings, [BENIGN, BENIGN])
        # The edit is of cms-0, the first comment.
        scorer = EditingWhileScoring(settings, source_id, TOXIC, external_id="cms-0")
        assert moderate_batch(settings, ids, scorer) == 1
        with session_scope(settings) as session:
            edited = session.get_one(Comment, ids[0])
            assert (edited.status, edited.revision) == ("pending", 2)
            assert decisions_of(session, ids[0]) == []
            assert session.get_one(Comment, ids[1]).status == "approved"

    def test_moderate_comments_replaces_a_provisional_approval(self, settings: Settings) -> None:
        _, comment_id = waiting_comment(settings, "fail-open")
        settle(settings)
        assert moderate_batch(settings, [comment_id], WordListScorer()) == 1
        assert history(settings, comment_id) == [
            ("system", "approved", "unscored"),
            ("model", "flagged", "replaces_provisional"),
        ]
        assert callbacks(settings, comment_id)[-1] == (2, "comment.flagged", False, "flagged")

    def test_moderate_comments_rejects_a_banned_authors_comment(self, settings: Settings) -> None:
        source_id, ids = store_comments(settings, [BENIGN])
        with session_scope(settings) as session:
            authors.sanction_author(
                session, source_id, "reader@example.org", SanctionKind.BAN, "spam", by="m"
            )
        moderate_batch(settings, ids, WordListScorer())
        with session_scope(settings) as session:
            [decision] = decisions_of(session, ids[0])
            assert decision.status == "rejected"
            assert [r["kind"] for r in decision.reasons] == ["sanction"]
            assert decision.statement is not None


class TestScoreText:
    def test_score_text_maps_labels_to_floats(self, settings: Settings) -> None:
        scores = score_text(WordListScorer(), "casino")
        assert scores == {"toxic": 0.05, "identity_hate": 0.05, "threat": 0.05, "spam": 0.5}
        assert all(type(v) is float for v in scores.values())


class DecidingWhileScoring(WordListScorer):
    """A scorer during whose work a moderator decides the comment (a concurrent writer)."""

    def __init__(self, settings: Settings, comment_id: str) -> None:
        super().__init__()
        self.settings, self.comment_id = settings, comment_id

    def predict_proba(self, texts: Sequence[str]) -> list[list[float]]:
        with session_scope(self.settings) as other:
            comment = other.get_one(Comment, self.comment_id)
            record_decision(other, comment, Status.APPROVED, actor="moderator", reasons=[])
        return super().predict_proba(texts)


class EditingWhileScoring(WordListScorer):
    """A scorer during whose work the CMS sends an edit of the comment."""

    def __init__(
        self, settings: Settings, source_id: str, new_body: str, external_id: str = "cms-1"
    ) -> None:
        super().__init__()
        self.settings, self.source_id, self.new_body = settings, source_id, new_body
        self.external_id = external_id

    def predict_proba(self, texts: Sequence[str]) -> list[list[float]]:
        with session_scope(self.settings) as other:
            source = other.get_one(Source, self.source_id)
            receive(other, source.id, incoming(self.new_body, self.external_id))
        return super().predict_proba(texts)
