"""/metrics beyond intake: queue depth at scrape time, worker metrics added up with ours."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis
from flask.testing import FlaskClient
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from cli.up import _child_environment
from core.settings import Settings
from service import create_app
from tests.conftest import TEST_SECRET_KEY
from tests.service.conftest import SignedPost, comment_payload
from worker.metrics import observe_callback, observe_decision, observe_scoring


def sample_value(text: str, name: str, **labels: str) -> float | None:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return None


class TestQueueDepth:
    def test_queue_depth_counts_tasks_waiting_in_redis(
        self,
        client: FlaskClient,
        settings: Settings,
        signed_post: SignedPost,
        broker: redis.Redis,
    ) -> None:
        signed_post(comment_payload(id="depth-1"))
        signed_post(comment_payload(id="depth-2"))

        text = client.get("/metrics").get_data(as_text=True)

        assert sample_value(text, "moderation_queue_depth", queue=settings.queue_name) == 2.0
        delivery_queue = settings.delivery_queue_name
        assert sample_value(text, "moderation_queue_depth", queue=delivery_queue) == 0.0

    def test_queue_depth_left_out_when_redis_is_down(self, settings: Settings) -> None:
        down = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
        client = create_app({"TESTING": True}, settings=down).test_client()

        response = client.get("/metrics")

        assert response.status_code == 200
        text = response.get_data(as_text=True)
        assert "moderation_intake_requests" in text
        assert sample_value(text, "moderation_queue_depth") is None


class TestWorkerMetrics:
    def test_worker_metrics_count_decisions_by_outcome(self) -> None:
        def value() -> float:
            sample = REGISTRY.get_sample_value("moderation_decisions_total", {"outcome": "flagged"})
            return sample or 0.0

        before = value()
        observe_decision("flagged")
        observe_decision("flagged")

        assert value() - before == 2.0

    def test_worker_metrics_name_why_a_callback_failed(self) -> None:
        def failures(reason: str) -> float:
            labels = {"reason": reason}
            return REGISTRY.get_sample_value("moderation_callback_failures_total", labels) or 0.0

        def attempts() -> float:
            return REGISTRY.get_sample_value("moderation_callback_attempts_total") or 0.0

        before = (attempts(), failures("http_503"), failures("network"))
        observe_callback(200, failed=False)
        observe_callback(503, failed=True)
        observe_callback(None, failed=True)

        after = (attempts(), failures("http_503"), failures("network"))
        assert [a - b for a, b in zip(after, before, strict=True)] == [3.0, 1.0, 1.0]

    def test_worker_metrics_observe_scoring_latency(self) -> None:
        before = REGISTRY.get_sample_value("moderation_scoring_seconds_count") or 0.0
        observe_scoring(0.02)
        assert REGISTRY.get_sample_value("moderation_scoring_seconds_count") == before + 1

    def test_worker_metrics_reach_the_api_metrics_through_the_shared_directory(
        self, tmp_path: Path
    ) -> None:
        worker_code = (
            "from worker.metrics import observe_callback, observe_decision, observe_scoring; "
            "observe_scoring(0.03); observe_decision('approved'); "
            "observe_callback(None, failed=True)"
        )
        api_code = (
            "from service.app import create_app; from core.settings import Settings; "
            "app = create_app(settings=Settings(database_url='sqlite://', "
            f"redis_url='redis://127.0.0.1:1/0', secret_key={TEST_SECRET_KEY!r})); "
            "print(app.test_client().get('/metrics').get_data(as_text=True))"
        )
        env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
        for _ in range(2):  # two worker processes
            subprocess.run([sys.executable, "-c", worker_code], env=env, check=True)

        text = subprocess.run(
            [sys.executable, "-c", api_code], env=env, capture_output=True, text=True, check=True
        ).stdout

        assert sample_value(text, "moderation_scoring_seconds_count") == 2.0
        assert sample_value(text, "moderation_decisions_total", outcome="approved") == 2.0
        assert sample_value(text, "moderation_callback_failures_total", reason="network") == 2.0


class TestUpMetricsDirectory:
    def test_up_metrics_directory_is_shared_and_emptied(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
        stale = tmp_path / "metrics" / "counter_123.db"
        stale.parent.mkdir()
        stale.write_bytes(b"old")

        env = _child_environment(
            Settings(secret_key="k"), tmp_path, "sqlite://", "redis://x", "http://a"
        )

        assert env["PROMETHEUS_MULTIPROC_DIR"] == str(tmp_path / "metrics")
        assert list((tmp_path / "metrics").iterdir()) == []
