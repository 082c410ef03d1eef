"""Real Celery workers for integration tests: subprocesses consuming this test's own Redis queue.

No eager mode and no in-process worker: each worker is `python -m celery ... worker --pool
prefork`, started with the test's settings in its environment and stopped (SIGTERM, then
SIGKILL of its whole process group) at teardown.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from flask.testing import FlaskClient

from core.db import session_scope
from core.settings import Settings
from core.store import NewSource, create_source
from service import create_app
from tests.integration.workers import (
    MODEL_APP,
    READY_TIMEOUT,
    REPO_ROOT,
    StartWorker,
    WorkerProcess,
    forget_queue,
    wait_for,
    worker_env,
)


@pytest.fixture
def redis_client(settings: Settings) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(settings.redis_client_url)
    yield client
    forget_queue(client, settings.queue_name)
    client.close()


@pytest.fixture
def start_worker(
    settings: Settings, redis_client: redis.Redis, tmp_path: Path
) -> Iterator[StartWorker]:
    """Start real workers on this test's queue; each is stopped at teardown."""
    workers: list[WorkerProcess] = []

    def start(
        app: str = MODEL_APP, *, beat: bool = False, wait: bool = True, **env: str
    ) -> WorkerProcess:
        name = f"w{len(workers)}-{uuid.uuid4().hex[:6]}"
        command = [
            sys.executable, "-m", "celery", "-A", app, "worker",
            "--pool", "prefork", "--concurrency", "1",
            "-Q", settings.queue_name, "-n", f"{name}@%h",
            "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "info",
        ]  # fmt: skip
        if beat:
            command += ["--beat", "--schedule", str(tmp_path / f"{name}-beat-schedule")]
        log_path = tmp_path / f"{name}.log"
        with log_path.open("wb") as log_file:
            process = subprocess.Popen(
                command,
                cwd=REPO_ROOT,
                env=worker_env(settings, **env),
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, so teardown reaches the pool
            )
        worker = WorkerProcess(process=process, log_path=log_path, redis_client=redis_client)
        workers.append(worker)
        if wait:
            try:
                wait_for(worker.is_ready, timeout=READY_TIMEOUT)
            except AssertionError as exc:
                raise AssertionError(
                    f"worker not ready: {exc}\n{worker.log_text()[-3000:]}"
                ) from None
        return worker

    yield start
    for worker in workers:
        worker.stop()


@pytest.fixture
def celery_worker(start_worker: StartWorker) -> WorkerProcess:
    """One ready worker with the shipped model, consuming this test's queue."""
    return start_worker(MODEL_APP)


@pytest.fixture
def client(settings: Settings) -> FlaskClient:
    """The API on the test's database and queue (it queues to the real Redis)."""
    return create_app({"TESTING": True}, settings=settings).test_client()


@pytest.fixture
def source(settings: Settings) -> NewSource:
    with session_scope(settings) as session:
        return create_source(session, "Daily Planet")
