"""Drift on a constructed history: PSI and override rates equal the hand computation."""

from __future__ import annotations

import hashlib
import math
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path

import numpy as np
import pytest
import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session
from structlog.testing import capture_logs

from core import drift, registry
from core.db import session_scope
from core.drift import (
    bin_shares,
    check_drift,
    decile_edges,
    override_rate,
    psi,
    psi_days,
    reference,
    score_drift,
)
from core.settings import Settings
from core.sources import get_source
from core.store import create_source
from core.tables import Comment, Decision, ScoreReference
from models.evaluate import score_reference
from tests.registry_support import fake_artifact

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
_ids = count()


def add_comment(
    session: Session,
    source_id: str,
    at: datetime,
    toxic: float = 0.1,
    model: str = "approved",
    moderator: str | None = None,
    reason_code: str | None = None,
) -> None:
    """A comment scored and decided by the model at `at`, maybe decided by a moderator after."""
    comment_id = f"cmt_drift_{next(_ids):06d}"
    scores = {"toxic": toxic, "identity_hate": 0.01, "threat": 0.01, "spam": 0.01}
    session.add(
        Comment(
            id=comment_id,
            source_id=source_id,
            external_id=comment_id,
            thread_id="t",
            author_name="R",
            author_email="r@example.org",
            body="text",
            body_sha256=hashlib.sha256(b"text").hexdigest(),
            status=moderator or model,
            scores=scores,
            received_at=at,
        )
    )
    session.add(
        Decision(
            comment_id=comment_id,
            revision=1,
            previous_status="pending",
            status=model,
            actor="model",
            scores=scores,
            created_at=at,
        )
    )
    if moderator is not None:
        session.add(
            Decision(
                comment_id=comment_id,
                revision=1,
                previous_status=model,
                status=moderator,
                actor="moderator",
                reason_code=reason_code,
                created_at=at + timedelta(minutes=5),
            )
        )


def new_source(session: Session) -> str:
    return create_source(session, "Drift Gazette").source.id


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
class TestScoreDrift:
    def test_reference_is_the_first_30_days_in_deciles(self, settings: Settings) -> None:
        with session_scope(settings) as session:
            source_id = new_source(session)
            start = NOW - timedelta(days=60)
            for i in range(200):
                add_comment(session, source_id, start + timedelta(hours=i), 0.1 if i % 2 else 0.7)
            # After the reference period: not part of it.
            add_comment(session, source_id, start + timedelta(days=31), 0.99)
        with session_scope(settings) as session:
            ref = reference(session, source_id, "toxic", NOW)
            assert ref is not None
            # Deciles of 100 x 0.1 and 100 x 0.7: 0.1 four times, 0.4 (the median), 0.7.
            assert ref.edges == [0.0, 0.1, 0.4, 0.7, 1.0]
            assert ref.fractions == [0.0, 0.5, 0.0, 0.5]
            assert ref.count == 200

    def test_no_reference_before_30_days_of_traffic(self, settings: Settings) -> None:
        with session_scope(settings) as session:
            source_id = new_source(session)
            for i in range(300):
                add_comment(session, source_id, NOW - timedelta(days=20) + timedelta(minutes=i))
            assert reference(session, source_id, "toxic", NOW) is None

    def test_without_a_reference_the_recent_scores_are_still_counted(
        self, settings: Settings
    ) -> None:
        with session_scope(settings) as session:
            source_id = new_source(session)
            for i in range(12):
                add_comment(session, source_id, NOW - timedelta(hours=i + 1))
            add_comment(session, source_id, NOW - timedelta(days=8))  # before the 7 days
        with session_scope(settings) as session:
            toxic = next(d for d in score_drift(session, source_id, NOW) if d.label == "toxic")
            assert (toxic.psi, toxic.recent, toxic.reference) == (None, 12, 0)

    def test_psi_of_the_last_7_days_equals_the_hand_computation(self, settings: Settings) -> None:
        with session_scope(settings) as session:
            source_id = new_source(session)
            session.add(
                ScoreReference(
                    source_id=source_id,
                    label="toxic",
                    edges=[0.0, 0.5, 1.0],
                    fractions=[0.8, 0.2],
                    count=1000,
                    period_start=NOW - timedelta(days=90),
                    period_end=NOW - timedelta(days=60),
                )
            )
            for i in range(60):
                at = NOW - timedelta(days=6, minutes=i)
                add_comment(session, source_id, at, 0.2 if i < 30 else 0.6)
            # Older than 7 days: outside the recent period.
            add_comment(session, source_id, NOW - timedelta(days=8), 0.9)
        with session_scope(settings) as session:
            [toxic] = [d for d in score_drift(session, source_id, NOW) if d.label == "toxic"]
        by_hand = (0.5 - 0.8) * math.log(0.5 / 0.8) + (0.5 - 0.2) * math.log(0.5 / 0.2)
        assert toxic.recent == 60
        assert toxic.psi == pytest.approx(by_hand, abs=1e-12)
        assert toxic.alert  # 0.416 > 0.2

    def test_psi_per_day_is_that_of_the_7_days_ending_that_day(self, settings: Settings) -> None:
        with session_scope(settings) as session:
            source_id = new_source(session)
            session.add(
                ScoreReference(
                    source_id=source_id,
                    label="toxic",
                    edges=[0.0, 0.5, 1.0],
                    fractions=[0.8, 0.2],
                    count=1000,
                    period_start=NOW - timedelta(days=90),
                    period_end=NOW - timedelta(days=60),
                )
            )
            # 60 low scores 10 days ago, 60 split ones 2 days ago.
            for i in range(60):
                add_comment(session, source_id, NOW - timedelta(days=10, minutes=i), 0.2)
                add_comment(
                    session, source_id, NOW - timedelta(days=2, minutes=i), 0.2 if i < 30 else 0.6
                )
        with session_scope(settings) as session:
            series = psi_days(session, source_id, NOW)
            [toxic] = [d for d in score_drift(session, source_id, NOW) if d.label == "toxic"]
        assert len(series["toxic"]) == 31
        assert series["toxic"][0] == pytest.approx(toxic.psi, abs=1e-12)
        split = (0.5 - 0.8) * math.log(0.5 / 0.8) + (0.5 - 0.2) * math.log(0.5 / 0.2)
        low = (1 - 0.8) * math.log(1 / 0.8) + (1e-4 - 0.2) * math.log(1e-4 / 0.2)
        # Entry k is the window of ages (k, k + 7] days: k = 1 holds the split day only,
        # k = 5 the low day only, k = 12 neither.
        assert series["toxic"][1] == pytest.approx(split, abs=1e-12)
        assert series["toxic"][5] == pytest.approx(low, abs=1e-12)
        assert series["toxic"][12] is None  # nothing in (12, 19]
        assert series["spam"] == [None] * 31  # no reference for spam


class TestPsi:
    def test_psi_floors_empty_bins(self) -> None:
        by_hand = (1e-4 - 0.5) * math.log(1e-4 / 0.5) + (1.0 - 0.5) * math.log(1.0 / 0.5)
        assert psi([0.5, 0.5], [0.0, 1.0]) == pytest.approx(by_hand)

    def test_psi_of_a_distribution_with_itself_is_zero(self) -> None:
        assert psi([0.1, 0.2, 0.7], [0.1, 0.2, 0.7]) == 0.0


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
class TestOverrideRate:
    def test_override_rate_per_day_equals_the_hand_computation(
        self, settings: Settings, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        with session_scope(settings) as session:
            source_id = new_source(session)
            for day in range(1, 31):
                at = NOW - timedelta(days=day, hours=2)
                # 10 model decisions a day; one flagged comment approved by a moderator.
                add_comment(session, source_id, at, model="flagged", moderator="approved")
                # Not overrides: a flag confirmed, a rejection approved, an approval kept.
                add_comment(
                    session,
                    source_id,
                    at,
                    model="flagged",
                    moderator="rejected",
                    reason_code="toxic",
                )
                add_comment(session, source_id, at, model="rejected", moderator="approved")
                add_comment(session, source_id, at, model="approved", moderator="approved")
                for _ in range(6):
                    add_comment(session, source_id, at)
            at = NOW - timedelta(hours=3)
            # The last 24 hours: 3 overrides of 10 (one approval later rejected).
            add_comment(session, source_id, at, model="flagged", moderator="approved")
            add_comment(session, source_id, at, model="flagged", moderator="approved")
            add_comment(
                session, source_id, at, model="approved", moderator="rejected", reason_code="spam"
            )
            for _ in range(7):
                add_comment(session, source_id, at)
        with session_scope(settings) as session:
            rate = override_rate(session, source_id, NOW)
            assert [(d.decided, d.overridden) for d in rate.days[:3]] == [(10, 3), (10, 1), (10, 1)]
            assert rate.ratio == pytest.approx(0.3)
            assert rate.mean == pytest.approx(0.1)
            assert rate.alert  # 0.3 >= 2 x 0.1
            with capture_logs() as logs:
                # A logger bound before (configure_logging caches it on first use) would not
                # see the capture: a fresh one is bound inside it.
                monkeypatch.setattr(drift, "log", structlog.get_logger("core.drift"))
                check_drift(session, get_source(session, source_id), NOW)
        [alert] = [line for line in logs if line["log_level"] == "warning"]
        assert alert["event"] == "drift alert: moderators overrule the model more often"
        assert (alert["override_ratio"], alert["mean_30_days"]) == (0.3, 0.1)


TRAINING_REFERENCE = {
    "toxic": {"edges": [0.0, 0.2, 0.5, 1.0], "fractions": [0.6, 0.3, 0.1], "count": 5000},
    "spam": {"edges": [0.0, 0.1, 1.0], "fractions": [0.9, 0.1], "count": 5000},
}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
@pytest.mark.usefixtures("registry")
class TestReferenceAfterModelChange:
    def source_with_traffic_reference(self, settings: Settings) -> str:
        """A source whose reference was made from its own first 30 days (no model change)."""
        with session_scope(settings) as session:
            registry.ensure_seeded(session, settings)
            source_id = new_source(session)
            start = NOW - timedelta(days=60)
            for i in range(200):
                add_comment(session, source_id, start + timedelta(hours=i), 0.05)
        with session_scope(settings) as session:
            made = reference(session, source_id, "toxic", NOW)
            assert made is not None and made.model_version is None
        return source_id

    def references(self, settings: Settings, source_id: str) -> dict[str, ScoreReference]:
        with session_scope(settings) as session:
            rows = session.scalars(
                select(ScoreReference).where(ScoreReference.source_id == source_id)
            ).all()
            session.expunge_all()
            return {row.label: row for row in rows}

    def test_promotion_resets_the_reference_to_the_new_models_training_reference(
        self, settings: Settings, tmp_path: Path
    ) -> None:
        source_id = self.source_with_traffic_reference(settings)
        artifact = fake_artifact(tmp_path / "a", "cand-ref", score_reference=TRAINING_REFERENCE)
        with session_scope(settings) as session:
            registry.register(session, artifact, "admin@example.org")
            registry.promote(session, "cand-ref", "admin@example.org")
        found = self.references(settings, source_id)
        assert sorted(found) == ["spam", "toxic"]
        assert found["toxic"].edges == [0.0, 0.2, 0.5, 1.0]
        assert found["toxic"].fractions == [0.6, 0.3, 0.1]
        assert found["toxic"].count == 5000
        assert found["toxic"].model_version == "cand-ref"
        # PSI is now against the training reference: 60 recent scores, all in its first bin.
        with session_scope(settings) as session:
            for i in range(60):
                add_comment(session, source_id, NOW - timedelta(hours=i + 1), 0.1)
        with session_scope(settings) as session:
            toxic = next(d for d in score_drift(session, source_id, NOW) if d.label == "toxic")
        expected = (1 - 0.6) * math.log(1 / 0.6) + sum(
            (1e-4 - share) * math.log(1e-4 / share) for share in (0.3, 0.1)
        )
        assert toxic.psi == pytest.approx(expected)
        assert toxic.reference == 5000
        assert toxic.reference_model == "cand-ref"

    def test_a_source_made_after_the_promotion_gets_the_training_reference(
        self, settings: Settings, tmp_path: Path
    ) -> None:
        artifact = fake_artifact(tmp_path / "d", "cand-new", score_reference=TRAINING_REFERENCE)
        with session_scope(settings) as session:
            registry.ensure_seeded(session, settings)
            registry.register(session, artifact, "admin@example.org")
            registry.promote(session, "cand-new", "admin@example.org")
        with session_scope(settings) as session:
            source_id = new_source(session)
            made = reference(session, source_id, "spam", NOW)
            assert made is not None
            assert (made.edges, made.model_version) == ([0.0, 0.1, 1.0], "cand-new")
            # A label the model has no reference for waits for traffic, as before.
            assert reference(session, source_id, "threat", NOW) is None

    def test_rollback_resets_it_to_the_earlier_models_reference(
        self, settings: Settings, tmp_path: Path
    ) -> None:
        source_id = self.source_with_traffic_reference(settings)
        with session_scope(settings) as session:
            before = registry.live_model(session)
            assert before is not None
            before.score_reference = {"toxic": TRAINING_REFERENCE["spam"]}
        artifact = fake_artifact(tmp_path / "b", "cand-other", score_reference=TRAINING_REFERENCE)
        with session_scope(settings) as session:
            registry.register(session, artifact, "admin@example.org")
            registry.promote(session, "cand-other", "admin@example.org")
        assert self.references(settings, source_id)["toxic"].model_version == "cand-other"
        with session_scope(settings) as session:
            registry.rollback(session, "admin@example.org", reason="scores look off")
        found = self.references(settings, source_id)
        assert sorted(found) == ["toxic"]
        assert found["toxic"].edges == [0.0, 0.1, 1.0]
        assert found["toxic"].model_version == before.version

    def test_a_model_without_a_training_reference_waits_for_30_days_under_it(
        self, settings: Settings, tmp_path: Path
    ) -> None:
        source_id = self.source_with_traffic_reference(settings)
        with session_scope(settings) as session:
            registry.register(session, fake_artifact(tmp_path / "c", "cand-none"), "a@b.org")
            registry.promote(session, "cand-none", "a@b.org")
        assert self.references(settings, source_id) == {}
        # The old traffic reference is gone, and the traffic before the change makes none.
        with session_scope(settings) as session:
            assert reference(session, source_id, "toxic", NOW + timedelta(days=400)) is None


def test_the_training_reference_is_binned_as_drift_bins_traffic() -> None:
    rng = np.random.default_rng(3)
    scores = rng.beta(0.5, 4.0, size=(3000, 2))
    made = score_reference(scores, ["toxic", "spam"])
    for column, label in enumerate(["toxic", "spam"]):
        edges = decile_edges(scores[:, column])
        assert made[label]["edges"] == edges
        assert made[label]["fractions"] == pytest.approx(bin_shares(scores[:, column], edges))
        assert made[label]["count"] == 3000
