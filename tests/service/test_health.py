"""/healthz, /readyz (database, Redis, a worker with the model loaded) and /metrics."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from core.settings import Settings
from core.store import NewSource
from service import create_app
from tests.conftest import TEST_SECRET_KEY
from tests.service.conftest import SignedPost, comment_payload

HEARTBEAT = "moderation:worker:test-host:4242"


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[str]:
    """A redis-server of this test alone, so no other process's worker heartbeat shows up."""
    server = shutil.which("redis-server")
    assert server, "redis-server must be on PATH"
    socket = tmp_path / "redis.sock"
    process = subprocess.Popen(
        [server, "--port", "0", "--unixsocket", str(socket), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    url = f"unix://{socket}"
    deadline = time.monotonic() + 10
    while True:
        try:
            if socket.exists() and redis.Redis.from_url(url).ping():
                break
        except redis.ConnectionError:
            pass
        assert time.monotonic() < deadline, "private redis-server did not start"
        time.sleep(0.05)
    yield url
    process.terminate()
    process.wait(timeout=10)


def probe_client(settings: Settings, redis_url: str, **overrides: str) -> FlaskClient:
    changed = settings.model_copy(update={"redis_url": redis_url, **overrides})
    return create_app(settings=changed).test_client()


class TestHealthz:
    def test_healthz_answers_ok(self, client: FlaskClient) -> None:
        response = client.get("/healthz")
        assert (response.status_code, response.get_json()) == (200, {"status": "ok"})


class TestReadyz:
    def test_readyz_ready_with_worker_heartbeat(
        self, settings: Settings, private_redis: str
    ) -> None:
        beat = {"model_version": "toxic-2026.11", "at": "2026-11-25T00:00:00Z"}
        redis.Redis.from_url(private_redis).set(HEARTBEAT, json.dumps(beat), ex=60)

        response = probe_client(settings, private_redis).get("/readyz")

        assert response.status_code == 200
        body = response.get_json()
        assert body["checks"] == {"database": "ok", "redis": "ok", "model": "ok"}
        assert body["model_versions"] == ["toxic-2026.11"]

    def test_readyz_stays_ready_and_lists_a_live_model_workers_refused(
        self, settings: Settings, private_redis: str
    ) -> None:
        refused = {"version": "cand-2", "error": "model file is not the expected model"}
        beats = {
            f"{HEARTBEAT}1": {"model_version": "cand-1", "model_error": refused},
            f"{HEARTBEAT}2": {"model_version": "cand-1", "model_error": refused},
        }
        client = redis.Redis.from_url(private_redis)
        for key, beat in beats.items():
            client.set(key, json.dumps({**beat, "at": "2026-12-04T00:00:00Z"}), ex=60)
        probe = probe_client(settings, private_redis)

        response = probe.get("/readyz")
        metrics = probe.get("/metrics").get_data(as_text=True)

        assert response.status_code == 200
        assert response.get_json()["model_errors"] == [{**refused, "workers": 2}]
        assert 'moderation_model_info{state="serving",version="cand-1"} 2.0' in metrics
        assert 'moderation_model_info{state="load_failed",version="cand-2"} 2.0' in metrics

    def test_readyz_not_ready_without_worker(self, settings: Settings, private_redis: str) -> None:
        response = probe_client(settings, private_redis).get("/readyz")

        assert response.status_code == 503
        assert response.get_json()["failed"] == ["model"]

    def test_readyz_ignores_malformed_heartbeat(
        self, settings: Settings, private_redis: str
    ) -> None:
        redis.Redis.from_url(private_redis).set(HEARTBEAT, "not json", ex=60)

        response = probe_client(settings, private_redis).get("/readyz")

        assert response.status_code == 503
        assert response.get_json()["failed"] == ["model"]

    def test_readyz_not_ready_when_redis_is_down(self, settings: Settings) -> None:
        response = probe_client(settings, "redis://127.0.0.1:1/0").get("/readyz")

        assert response.status_code == 503
        body = response.get_json()
        assert body["checks"]["database"] == "ok"
        assert "redis" in body["failed"]

    def test_readyz_not_ready_when_database_is_down(
        self, settings: Settings, private_redis: str, tmp_path: Path
    ) -> None:
        # A directory is not a database file: every connection attempt fails.
        client = probe_client(settings, private_redis, database_url=f"sqlite:///{tmp_path}")

        response = client.get("/readyz")

        assert response.status_code == 503
        assert "database" in response.get_json()["failed"]


def up_status(path: Path, **states: dict[str, str]) -> str:
    """A status file as `moderation up` writes it, children in the given states."""
    children = {"api": {"state": "running", "detail": ""}, **states}
    path.write_text(json.dumps({"pid": 1, "children": children}))
    return str(path)


class TestReadyzUnderUp:
    def test_readyz_names_the_worker_up_is_restarting(
        self, settings: Settings, private_redis: str, tmp_path: Path
    ) -> None:
        beat = {"model_version": "toxic-2026.11", "at": "2026-11-25T00:00:00Z"}
        redis.Redis.from_url(private_redis).set(HEARTBEAT, json.dumps(beat), ex=60)
        worker = {"state": "restarting", "detail": "died (killed by SIGKILL)"}
        status = up_status(tmp_path / "up.json", worker=worker, redis={"state": "running"})

        response = probe_client(settings, private_redis, up_status_file=status).get("/readyz")

        assert response.status_code == 503
        body = response.get_json()
        assert body["checks"] == {
            "database": "ok",
            "redis": "ok",
            "model": "ok",
            "worker": "restarting: died (killed by SIGKILL)",
        }
        assert body["failed"] == ["worker"]

    def test_readyz_says_up_restarts_redis_rather_than_a_failed_ping(
        self, settings: Settings, tmp_path: Path
    ) -> None:
        down = {"state": "restarting", "detail": "died (exit code 1)"}
        status = up_status(tmp_path / "up.json", worker={"state": "running"}, redis=down)

        client = probe_client(settings, "redis://127.0.0.1:1/0", up_status_file=status)
        body = client.get("/readyz").get_json()

        assert body["checks"]["redis"] == "restarting: died (exit code 1)"
        assert body["checks"]["worker"] == "ok"
        assert body["failed"] == ["model", "redis"]

    def test_readyz_ready_when_up_runs_every_child(
        self, settings: Settings, private_redis: str, tmp_path: Path
    ) -> None:
        beat = {"model_version": "toxic-2026.11", "at": "2026-11-25T00:00:00Z"}
        redis.Redis.from_url(private_redis).set(HEARTBEAT, json.dumps(beat), ex=60)
        running = {"state": "running", "detail": ""}
        status = up_status(tmp_path / "up.json", worker=running, redis=running)

        response = probe_client(settings, private_redis, up_status_file=status).get("/readyz")

        assert response.status_code == 200
        assert response.get_json()["checks"]["worker"] == "ok"

    def test_readyz_not_ready_without_the_status_up_promised(
        self, settings: Settings, private_redis: str, tmp_path: Path
    ) -> None:
        missing = str(tmp_path / "absent.json")

        response = probe_client(settings, private_redis, up_status_file=missing).get("/readyz")

        assert response.status_code == 503
        checks = response.get_json()["checks"]
        assert checks["worker"] == "unknown: no status from moderation up (FileNotFoundError)"


def intake_count(client: FlaskClient, outcome: str) -> float:
    text = client.get("/metrics").get_data(as_text=True)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if (
                sample.name == "moderation_intake_requests_total"
                and sample.labels.get("outcome") == outcome
            ):
                return float(sample.value)
    return 0.0


class TestMetrics:
    def test_metrics_count_intake_outcomes(
        self,
        client: FlaskClient,
        signed_post: SignedPost,
        source: NewSource,
        broker: redis.Redis,
    ) -> None:
        outcomes = ("accepted", "duplicate", "edited", "rejected_401", "rejected_422")
        before = {outcome: intake_count(client, outcome) for outcome in outcomes}
        payload = comment_payload()
        signed_post(payload)
        signed_post(payload)
        signed_post({**payload, "body": "changed"})
        signed_post(payload, omit=("webhook-signature",))
        signed_post(comment_payload(body=""))

        after = {outcome: intake_count(client, outcome) for outcome in outcomes}
        assert {k: after[k] - before[k] for k in outcomes} == dict.fromkeys(outcomes, 1.0)

    def test_metrics_expose_intake_latency(self, client: FlaskClient) -> None:
        text = client.get("/metrics").get_data(as_text=True)
        assert "moderation_intake_seconds_bucket" in text

    def test_metrics_add_up_processes_in_multiprocess_mode(self, tmp_path: Path) -> None:
        code = (
            "from service.app import create_app; from service.metrics import observe_intake; "
            "from core.settings import Settings; "
            "observe_intake('accepted', 0.01); "
            "app = create_app(settings=Settings(database_url='sqlite://', "
            f"secret_key={TEST_SECRET_KEY!r})); "
            "print(app.test_client().get('/metrics').get_data(as_text=True))"
        )
        env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
        outputs = [
            subprocess.run(
                [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
            ).stdout
            for _ in range(2)
        ]
        assert 'moderation_intake_requests_total{outcome="accepted"} 1.0' in outputs[0]
        assert 'moderation_intake_requests_total{outcome="accepted"} 2.0' in outputs[1]
