"""/metrics carries the drift gauges of core.drift, by source name."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask.testing import FlaskClient

from core.db import session_scope
from core.settings import Settings
from core.store import create_source
from core.tables import ScoreReference
from service.metrics import DriftCollector
from tests.core.test_drift import add_comment
from tests.service.test_observability import sample_value


@pytest.fixture(autouse=True)
def fresh_drift() -> None:
    """Each test computes drift anew (the collector keeps it for a few minutes)."""
    DriftCollector._cached = None


class TestDriftMetrics:
    def test_metrics_expose_psi_override_ratio_and_alerts(
        self, settings: Settings, client: FlaskClient
    ) -> None:
        now = datetime.now(UTC)
        with session_scope(settings) as session:
            source_id = create_source(session, "Metric Times").source.id
            session.add(
                ScoreReference(
                    source_id=source_id,
                    label="toxic",
                    edges=[0.0, 0.5, 1.0],
                    fractions=[0.5, 0.5],
                    count=500,
                    period_start=now - timedelta(days=90),
                    period_end=now - timedelta(days=60),
                )
            )
            for i in range(60):
                add_comment(session, source_id, now - timedelta(hours=i + 1), 0.2)
            add_comment(
                session,
                source_id,
                now - timedelta(minutes=5),
                model="flagged",
                moderator="approved",
            )
        text = client.get("/metrics").get_data(as_text=True)
        psi = sample_value(text, "moderation_score_psi", source="Metric Times", label="toxic")
        assert psi is not None and psi > 0.2
        # The last 24 hours: 23 model decisions from the loop and the one overruled.
        ratio = sample_value(text, "moderation_override_ratio", source="Metric Times")
        assert ratio == pytest.approx(1 / 24)
        alert = sample_value(
            text, "moderation_drift_alert", source="Metric Times", signal="psi_toxic"
        )
        assert alert == 1.0
