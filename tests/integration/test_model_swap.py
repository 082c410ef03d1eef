"""A running worker follows the registry: promote and rollback switch its model without a
restart, and a registered artifact changed on disk is refused while the old model stays."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from core import registry
from core.db import session_scope
from core.domain import LABELS
from core.settings import Settings
from core.sources import SourceChanges, update_source
from core.store import NewSource, create_source
from core.tables import Event, ShadowScore
from tests.integration.intake import decided_view, post_comment
from tests.integration.workers import StartWorker, WorkerProcess, wait_for
from tests.registry_support import figures_like_shipped, shipped_version, tiny_artifact

pytestmark = [
    pytest.mark.integration,
    pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True),
    pytest.mark.usefixtures("registry"),
]

# The contract: every worker scores with the new live model within 30 s.
SWAP_DEADLINE = 30.0
CHECK_INTERVAL = "1"


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two loadable artifacts whose figures pass the gates against the shipped model."""
    root = tmp_path_factory.mktemp("tiny-models")
    models = {
        version: tiny_artifact(root / version, version, **figures_like_shipped())
        for version in ("tiny-a", "tiny-b")
    }
    # Tuned to flag almost anything: its thresholds must reach the sources that follow it.
    models["tiny-eager"] = tiny_artifact(
        root / "tiny-eager", "tiny-eager", dict.fromkeys(LABELS, 0.001), **figures_like_shipped()
    )
    return models


def served_versions(worker: WorkerProcess) -> set[str]:
    return {json.loads(beat)["model_version"] for beat in worker.heartbeats()}


def wait_until_serving(worker: WorkerProcess, version: str) -> float:
    """Seconds until every pool process of the worker reports `version`."""
    started = time.monotonic()
    wait_for(lambda: served_versions(worker) == {version}, timeout=SWAP_DEADLINE, interval=0.2)
    return time.monotonic() - started


def decided_by(client: FlaskClient, source: NewSource) -> str:
    comment_id = post_comment(client, source, "Thanks for the clear article")["id"]
    view = wait_for(decided_view(client, source, comment_id), timeout=30)
    return str(view["decision"]["model_version"])


def shadow_rows(settings: Settings, comment_ids: list[str]) -> list[ShadowScore]:
    with session_scope(settings) as session:
        query = select(ShadowScore).where(ShadowScore.comment_id.in_(comment_ids))
        return list(session.scalars(query))


def register(settings: Settings, directory: Path) -> str:
    with session_scope(settings) as session:
        registry.ensure_seeded(session, settings)
        return registry.register(session, directory, "test").version


class TestWorkerFollowsTheRegistry:
    def test_promoted_model_brings_its_thresholds_person_set_ones_stay(
        self,
        settings: Settings,
        client: FlaskClient,
        source: NewSource,
        start_worker: StartWorker,
        tiny_models: dict[str, Path],
    ) -> None:
        candidate = register(settings, tiny_models["tiny-eager"])
        with session_scope(settings) as session:
            tuned = create_source(session, "Person-tuned Gazette")
            person_set = {label: {"flag": 0.999, "reject": None} for label in LABELS}
            update_source(session, tuned.source.id, SourceChanges(thresholds=person_set))
        worker = start_worker(MODEL_CHECK_INTERVAL_SECONDS=CHECK_INTERVAL)
        with session_scope(settings) as session:
            registry.promote(session, candidate, "test")
        wait_until_serving(worker, candidate)

        text = "Thanks for the clear article"
        follows = wait_for(decided_view(client, source, post_comment(client, source, text)["id"]))
        keeps = wait_for(decided_view(client, tuned, post_comment(client, tuned, text)["id"]))

        assert follows["decision"]["model_version"] == keeps["decision"]["model_version"]
        assert follows["status"] == "flagged"
        assert {r["threshold"] for r in follows["decision"]["reasons"]} == {0.001}
        assert keeps["status"] == "approved"

    def test_promote_and_rollback_switch_a_running_worker(
        self,
        settings: Settings,
        client: FlaskClient,
        source: NewSource,
        start_worker: StartWorker,
        tiny_models: dict[str, Path],
    ) -> None:
        candidate = register(settings, tiny_models["tiny-a"])
        worker = start_worker(concurrency=2, MODEL_CHECK_INTERVAL_SECONDS=CHECK_INTERVAL)
        assert decided_by(client, source) == shipped_version()

        with session_scope(settings) as session:
            registry.promote(session, candidate, "test")
        promote_seconds = wait_until_serving(worker, candidate)
        assert decided_by(client, source) == candidate

        with session_scope(settings) as session:
            registry.rollback(session, "test")
        rollback_seconds = wait_until_serving(worker, shipped_version())
        assert decided_by(client, source) == shipped_version()
        assert max(promote_seconds, rollback_seconds) < SWAP_DEADLINE
        assert "model swapped" in worker.log_text()

    def test_tampered_artifact_is_refused_and_the_old_model_stays(
        self,
        settings: Settings,
        client: FlaskClient,
        source: NewSource,
        start_worker: StartWorker,
        tiny_models: dict[str, Path],
        tmp_path: Path,
    ) -> None:
        folder = tmp_path / "tiny-b"
        shutil.copytree(tiny_models["tiny-b"], folder)
        candidate = register(settings, folder)
        # Someone swaps the registered file for another model and rewrites the manifest to match.
        shutil.copyfile(tiny_models["tiny-a"] / "model.joblib", folder / "model.joblib")
        shutil.copyfile(tiny_models["tiny-a"] / "manifest.json", folder / "manifest.json")
        worker = start_worker(MODEL_CHECK_INTERVAL_SECONDS=CHECK_INTERVAL)

        with session_scope(settings) as session:
            registry.promote(session, candidate, "test")
        wait_for(lambda: "model swap refused" in worker.log_text(), timeout=SWAP_DEADLINE)
        assert decided_by(client, source) == shipped_version()
        ready = wait_for(lambda: client.get("/readyz").get_json()["model_errors"], timeout=20)
        metrics = client.get("/metrics").get_data(as_text=True)

        assert served_versions(worker) == {shipped_version()}
        assert ready[0]["version"] == candidate
        assert "is not the expected model" in ready[0]["error"]
        assert f'moderation_model_info{{state="load_failed",version="{candidate}"}} 1.0' in metrics
        assert f'moderation_model_info{{state="live",version="{candidate}"}} 1.0' in metrics

    def test_shadow_model_scores_apart_after_the_live_decision(
        self,
        settings: Settings,
        client: FlaskClient,
        source: NewSource,
        start_worker: StartWorker,
        tiny_models: dict[str, Path],
    ) -> None:
        candidate = register(settings, tiny_models["tiny-a"])
        with session_scope(settings) as session:
            registry.shadow(session, candidate, "test")
        worker = start_worker(MODEL_CHECK_INTERVAL_SECONDS=CHECK_INTERVAL)
        wait_for(lambda: "shadow model loaded" in worker.log_text(), timeout=SWAP_DEADLINE)
        comment_ids = [
            post_comment(client, source, body)["id"]
            for body in ("Thanks for the clear article", "you are a stupid idiot")
        ]
        views = [wait_for(decided_view(client, source, cid), timeout=30) for cid in comment_ids]
        wait_for(lambda: len(shadow_rows(settings, comment_ids)) == 2, timeout=30)
        rows = shadow_rows(settings, comment_ids)

        with session_scope(settings) as session:
            events = session.scalars(select(Event).where(Event.comment_id.in_(comment_ids))).all()
        assert {v["decision"]["model_version"] for v in views} == {shipped_version()}
        assert {row.comment_id for row in rows} == set(comment_ids)
        assert {row.model_version for row in rows} == {candidate}
        assert len(events) == 2
        assert {e.payload["data"]["decided_by"]["model_version"] for e in events} == {
            shipped_version()
        }
        metrics = client.get("/metrics").get_data(as_text=True)
        assert f'moderation_shadow_agreement_ratio{{version="{candidate}"}}' in metrics
