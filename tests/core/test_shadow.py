"""Shadow scoring: stored apart, never a decision or an event; the report since it began."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sklearn.metrics import roc_auc_score
from sqlalchemy import func, select

from core import registry, review
from core.db import session_scope
from core.domain import Status
from core.moderation import moderate_comment
from core.settings import Settings
from core.shadow import agreement_ratios, roc_auc, shadow_comment, shadow_report
from core.store import create_source
from core.tables import Comment, Decision, Event, ShadowScore
from tests.comments import incoming, receive
from tests.registry_support import fake_artifact
from tests.service.review_support import make_account
from tests.wordlist_scorer import DEFAULT_WORDS, WordListScorer

LIVE = WordListScorer()
# The shadow also finds "rubbish" toxic: the house rule the live model does not know.
SHADOW = WordListScorer(
    {**DEFAULT_WORDS, "toxic": DEFAULT_WORDS["toxic"] | {"rubbish"}}, version="cand-1"
)


def decided_comment(settings: Settings, source_id: str, body: str) -> str:
    with session_scope(settings) as session:
        comment_id = receive(session, source_id, incoming(body, f"cms-{uuid.uuid4().hex}")).id
    with session_scope(settings) as session:
        moderate_comment(session, comment_id, LIVE)
    return comment_id


@pytest.fixture
def source_id(settings: Settings) -> str:
    with session_scope(settings) as session:
        return create_source(session, "Daily Planet").source.id


@pytest.fixture
def in_shadow(settings: Settings, tmp_path: Path) -> registry.ModelVersion:
    with session_scope(settings) as session:
        registry.ensure_seeded(session, settings)
        registry.register(session, fake_artifact(tmp_path / "c", "cand-1"), "admin")
        return registry.shadow(session, "cand-1", "admin")


class TestRocAuc:
    @pytest.mark.parametrize(
        ("labels", "scores"),
        [
            ([0, 1, 0, 1, 1], [0.1, 0.9, 0.4, 0.4, 0.7]),
            ([1, 0, 0, 1], [0.2, 0.2, 0.2, 0.8]),
            ([0, 0, 1], [0.9, 0.8, 0.1]),
        ],
    )
    def test_roc_auc_agrees_with_scikit_learn(self, labels: list[int], scores: list[float]) -> None:
        assert roc_auc(labels, scores) == pytest.approx(roc_auc_score(labels, scores))

    def test_roc_auc_needs_both_classes(self) -> None:
        assert roc_auc([1, 1], [0.2, 0.3]) is None


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
@pytest.mark.usefixtures("registry")
class TestShadowScoring:
    def test_shadow_scores_are_stored_apart_and_change_nothing(
        self, settings: Settings, source_id: str, in_shadow: registry.ModelVersion
    ) -> None:
        comment_id = decided_comment(settings, source_id, "What rubbish this article is")
        with session_scope(settings) as session:
            stored = shadow_comment(session, comment_id, SHADOW)
            again = shadow_comment(session, comment_id, SHADOW)
        with session_scope(settings) as session:
            comment = session.get_one(Comment, comment_id)
            events = session.scalar(
                select(func.count()).select_from(Event).where(Event.comment_id == comment_id)
            )
            decisions = session.scalar(
                select(func.count()).select_from(Decision).where(Decision.comment_id == comment_id)
            )
            rows = session.scalars(
                select(ShadowScore).where(ShadowScore.comment_id == comment_id)
            ).all()
        assert stored is not None and again is None
        assert (comment.status, events, decisions) == ("approved", 1, 1)
        (row,) = rows
        assert (row.model_version, row.status, row.live_status) == ("cand-1", "flagged", "approved")

    def test_report_counts_agreement_outcomes_and_moderator_labels(
        self, settings: Settings, source_id: str, in_shadow: registry.ModelVersion
    ) -> None:
        moderator = make_account(settings, "moderator")
        bodies = {
            "What rubbish this article is": (Status.REJECTED, "toxic"),
            "Such rubbish, the writer is clueless": (Status.REJECTED, "toxic"),
            "Thanks, the table was useful": (Status.APPROVED, "ok"),
            "You idiot": (Status.REJECTED, "toxic"),
        }
        for body, (status, reason) in bodies.items():
            comment_id = decided_comment(settings, source_id, body)
            with session_scope(settings) as session:
                shadow_comment(session, comment_id, SHADOW)
            with session_scope(settings) as session:
                review.decide(session, comment_id, moderator.id, status, reason)
        with session_scope(settings) as session:
            report = shadow_report(session, registry.shadow_model(session))  # type: ignore[arg-type]
            ratios = agreement_ratios(session)

        assert report.scored == 4
        assert report.agreement == pytest.approx(0.5)
        assert ratios == {"cand-1": pytest.approx(0.5)}
        assert report.would_flag["toxic"] == 3
        toxic = report.moderator_labels["toxic"]
        assert (toxic["labels"], toxic["positives"]) == (4, 3)
        assert toxic["shadow_roc_auc"] == pytest.approx(1.0)
        assert toxic["live_roc_auc"] == pytest.approx(4 / 6)
