"""`moderation api`, `worker` and `deliverer`: the production processes, started for real."""

from __future__ import annotations

import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psutil
import pytest
import redis

from core.settings import Settings
from core.tasks import DELIVER_DUE, SCORE_COMMENT, queue_task
from service.queue import create_client
from tests.cli.helpers import MODERATION, clean_environment, free_port
from tests.conftest import TEST_SECRET_KEY

TEST_REDIS_URL = "redis://127.0.0.1:6379/0"
START_TIMEOUT = 60.0

RunCommand = Callable[..., tuple[subprocess.Popen[bytes], Path]]


def wait_for_log(log_path: Path, text: str, process: subprocess.Popen[bytes]) -> str:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        log = log_path.read_text(errors="replace")
        if text in log:
            return log
        if process.poll() is not None:
            raise AssertionError(f"exited with {process.returncode} before {text!r}:\n{log}")
        time.sleep(0.1)
    raise AssertionError(f"{text!r} not logged in {START_TIMEOUT} s:\n{log_path.read_text()}")


@pytest.fixture
def run_command(tmp_path: Path) -> Iterator[RunCommand]:
    """Start `moderation ARGS` with a test environment; whatever is left is killed afterwards."""
    started: list[subprocess.Popen[bytes]] = []

    def run(
        *args: str, log_name: str, queue: str | None = None
    ) -> tuple[subprocess.Popen[bytes], Path]:
        log_path = tmp_path / log_name
        env = clean_environment(
            DATABASE_URL=f"sqlite:///{tmp_path / 'moderation.sqlite'}",
            REDIS_URL=TEST_REDIS_URL,
            MODERATION_QUEUE=queue or f"moderation-test-{uuid.uuid4().hex[:10]}",
            MODERATION_VAR_DIR=str(tmp_path / "var"),
            SECRET_KEY=TEST_SECRET_KEY,
        )
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [MODERATION, *args],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        started.append(process)
        return process, log_path

    yield run
    for process in started:
        if process.poll() is None:
            for child in psutil.Process(process.pid).children(recursive=True):
                child.kill()
            process.kill()
            process.wait()


@pytest.mark.slow
@pytest.mark.integration
class TestApiCommand:
    def test_api_serves_healthz_through_gunicorn_and_stops_on_sigterm(
        self, run_command: RunCommand
    ) -> None:
        port = free_port()
        process, log_path = run_command(
            "api", "--bind", f"127.0.0.1:{port}", "--workers", "1", log_name="api.log"
        )
        deadline = time.monotonic() + START_TIMEOUT
        status = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                status = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        assert status == 200, log_path.read_text()
        # `api` became gunicorn itself (exec), so a supervisor's signals reach the server.
        assert "gunicorn" in " ".join(psutil.Process(process.pid).cmdline())
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0


@pytest.mark.slow
@pytest.mark.integration
class TestWorkerCommand:
    def test_worker_with_beat_registers_the_tasks_and_stops_on_sigterm(
        self, run_command: RunCommand
    ) -> None:
        process, log_path = run_command(
            "worker", "--beat", "--concurrency", "1", log_name="worker.log"
        )
        log = wait_for_log(log_path, "ready.", process)
        for task in ("worker.score_comment", "worker.deliver_event", "worker.sweep"):
            assert task in log
        wait_for_log(log_path, "beat: Starting", process)
        assert "celery" in " ".join(psutil.Process(process.pid).cmdline())
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0


def wait_until(condition: Callable[[], bool], what: str, timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"not {what} within {timeout} s")


@pytest.mark.slow
@pytest.mark.integration
class TestWorkerAndDeliverer:
    """Scoring and callbacks run in separate pools: the worker (prefork, the model) takes only
    the scoring queue, the deliverer (threads, no model) only the delivery queue."""

    def test_the_worker_alone_never_delivers_and_the_deliverer_does(
        self, run_command: RunCommand
    ) -> None:
        queue = f"moderation-test-{uuid.uuid4().hex[:10]}"
        settings = Settings(queue_name=queue, redis_url=TEST_REDIS_URL)
        broker = redis.Redis.from_url(TEST_REDIS_URL)
        sender = create_client(settings)
        migrate, _ = run_command("db", "upgrade", log_name="migrate.log", queue=queue)
        assert migrate.wait(START_TIMEOUT) == 0
        try:
            worker, worker_log = run_command(
                "worker", "--concurrency", "1", log_name="worker.log", queue=queue
            )
            wait_for_log(worker_log, "ready.", worker)
            assert queue_task(sender, DELIVER_DUE, "src_pools_unknown")
            assert queue_task(sender, SCORE_COMMENT, "cmt_pools_unknown")
            # The worker takes the scoring message and leaves the delivery one waiting.
            wait_until(lambda: broker.llen(queue) == 0, "scored")
            wait_for_log(worker_log, "cmt_pools_unknown", worker)
            time.sleep(2.0)
            assert broker.llen(settings.delivery_queue_name) == 1
            assert "worker.deliver_due" not in worker_log.read_text().split("ready.", 1)[1]

            deliverer, deliverer_log = run_command(
                "deliverer", "--threads", "2", log_name="deliverer.log", queue=queue
            )
            log = wait_for_log(deliverer_log, "succeeded", deliverer)
            assert broker.llen(settings.delivery_queue_name) == 0
            assert "Task worker.deliver_due[" in log
            # One process of threads, which never loads the model (the worker's child did).
            assert psutil.Process(deliverer.pid).children() == []
            assert "model loaded" not in log
            assert "model loaded" in worker_log.read_text()
            # Scoring still goes to the worker only.
            assert queue_task(sender, SCORE_COMMENT, "cmt_pools_second")
            wait_for_log(worker_log, "cmt_pools_second", worker)
            assert "cmt_pools" not in deliverer_log.read_text()
            deliverer.send_signal(signal.SIGTERM)
            assert deliverer.wait(30) == 0
        finally:
            sender.close()
            broker.delete(queue, settings.delivery_queue_name)
