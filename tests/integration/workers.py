"""Real Celery worker subprocesses for integration tests, and a polling helper."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import redis

from core.settings import Settings
from worker.heartbeat import heartbeat_key

REPO_ROOT = Path(__file__).resolve().parents[2]
# The shipped model, as `celery -A worker.app` loads it.
MODEL_APP = "worker.app"
# The same app with the word-list classifier (for tests of the pipeline, not of the model).
WORDLIST_APP = "tests.integration.wordlist_worker"
READY_TIMEOUT = 60.0

T = TypeVar("T")


def wait_for(predicate: Callable[[], T], timeout: float = 20.0, interval: float = 0.05) -> T:
    """Poll until predicate() returns something truthy and return it; fail after timeout s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s: {predicate!r}")
        time.sleep(interval)


@dataclass
class WorkerProcess:
    """One running `celery worker` subprocess and its log file."""

    process: subprocess.Popen[bytes]
    log_path: Path
    redis_client: redis.Redis
    stopped: bool = field(default=False)

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def child_pids(self) -> list[int]:
        """The prefork pool's processes (they run the tasks and hold the model)."""
        try:
            text = Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text()
        except FileNotFoundError:
            return []
        return [int(p) for p in text.split()]

    def heartbeats(self) -> list[bytes]:
        """The heartbeat values of this worker's pool processes (present once the model loaded)."""
        values = [self.redis_client.get(heartbeat_key(pid=pid)) for pid in self.child_pids()]
        return [v for v in values if v]

    def is_ready(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"worker exited early:\n{self.log_text()[-4000:]}")
        log = self.log_text()
        if "could not load the model" in log:
            raise AssertionError(f"worker has no model:\n{log[-3000:]}")
        return " ready." in log and bool(self.heartbeats())

    def signal_group(self, signum: int) -> None:
        try:
            os.killpg(self.pid, signum)
        except ProcessLookupError:
            pass

    def kill(self) -> None:
        """SIGKILL the worker and its pool at once: nothing gets to acknowledge or clean up."""
        self.signal_group(signal.SIGKILL)
        self.process.wait(timeout=10)
        self.stopped = True

    def stop(self, timeout: float = 20.0) -> None:
        """Warm shutdown (SIGTERM); SIGKILL whatever is left after timeout s."""
        if self.stopped:
            return
        self.signal_group(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
        self.signal_group(signal.SIGKILL)
        self.process.wait(timeout=10)
        self.stopped = True


StartWorker = Callable[..., WorkerProcess]


def worker_env(settings: Settings, **overrides: str) -> dict[str, str]:
    """The environment a worker needs to share this test's database, Redis and queue."""
    env = dict(os.environ)
    env.update(
        DATABASE_URL=settings.database_url,
        REDIS_URL=settings.redis_url,
        MODERATION_QUEUE=settings.queue_name,
        MODEL_DIR=settings.model_dir,
        # The sources' signing secrets are encrypted under a key derived from it.
        SECRET_KEY=settings.secret_key,
        MODERATION_VAR_DIR=str(settings.var_dir),
        STALE_PENDING_AFTER_SECONDS=str(settings.stale_pending_after_seconds),
        SWEEP_INTERVAL_SECONDS=str(settings.sweep_interval_seconds),
        LOG_JSON="false",
        PYTHONUNBUFFERED="1",
    )
    env.update(overrides)
    return env


def forget_queues(client: redis.Redis, settings: Settings) -> None:
    """Remove a test's scoring and delivery queues from Redis."""
    for queue in (settings.queue_name, settings.delivery_queue_name):
        forget_queue(client, queue)


def waiting_or_unacked(client: redis.Redis, queue: str) -> int:
    """Messages of `queue` still waiting in it or taken and not yet acknowledged."""
    unacked = sum(1 for _, raw in client.hscan_iter("unacked") if json.loads(raw)[2] == queue)
    return int(client.llen(queue)) + unacked


def forget_queue(client: redis.Redis, queue: str) -> None:
    """Remove a test queue from Redis, with messages a killed worker left unacknowledged.

    kombu keeps unacknowledged messages in the hash "unacked" as [message, exchange, routing
    key] and would put them back on the queue after the visibility timeout, long after the test.
    """
    client.delete(queue, f"_kombu.binding.{queue}")
    for tag, raw in client.hscan_iter("unacked"):
        if json.loads(raw)[2] == queue:
            client.hdel("unacked", tag)
            client.zrem("unacked_index", tag)


@contextmanager
def worker_starter(
    settings: Settings,
    redis_client: redis.Redis,
    tmp_path: Path,
    default_app: str,
    stop_timeout: float = 20.0,
) -> Iterator[StartWorker]:
    """A function that starts real `celery worker` processes on the test's queue and servers;
    every worker it started is stopped when the block ends."""
    workers: list[WorkerProcess] = []

    def start(
        app: str = default_app,
        *,
        beat: bool = False,
        wait: bool = True,
        concurrency: int = 1,
        **env: str,
    ) -> WorkerProcess:
        name = f"w{len(workers)}-{uuid.uuid4().hex[:6]}"
        command = [
            sys.executable, "-m", "celery", "-A", app, "worker",
            "--pool", "prefork", "--concurrency", str(concurrency),
            "-Q", settings.worker_queues, "-n", f"{name}@%h",
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

    try:
        yield start
    finally:
        for worker in workers:
            worker.stop(timeout=stop_timeout)
