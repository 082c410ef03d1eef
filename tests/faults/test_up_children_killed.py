"""kill -9 of `moderation up`'s worker and private Redis while a CMS posts: nothing refused, lost
or decided twice, and `up` starts both again by itself (the standing test of issue 17)."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from core.db import dispose_engines, session_scope
from core.settings import Settings, configure
from core.store import NewSource, create_source
from tests.cli.helpers import UpRun, free_port, start_up, still_running, wait_ready
from tests.faults.pipeline import (
    BENIGN,
    TOXIC,
    Ledger,
    assert_nothing_lost_nothing_twice,
    post_http,
    signed_comment,
    wait_until_settled,
)
from tests.integration.workers import wait_for
from tests.receiver import Receiver

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# Between two posts: steady traffic well inside the intake's rate limit.
POST_EVERY_SECONDS = 0.05
RECOVERY_TIMEOUT = 60.0


class Traffic(threading.Thread):
    """A CMS posting signed comments one after another, and a probe reading /readyz beside it."""

    def __init__(self, api: str, source: NewSource) -> None:
        super().__init__(daemon=True)
        self.api, self.source = api, source
        self.ledger = Ledger()
        self.errors: list[str] = []
        self.readiness: list[dict[str, str]] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        with httpx.Client(timeout=10) as client:
            n = 0
            while not self.stopping.is_set():
                hook = signed_comment(text=TOXIC if n % 4 == 0 else BENIGN)
                try:
                    self.ledger.record(hook, post_http(client, self.api, self.source, hook))
                except httpx.HTTPError as exc:
                    self.errors.append(f"{type(exc).__name__}: {exc}")
                try:
                    self.readiness.append(client.get(f"{self.api}/readyz").json()["checks"])
                except (httpx.HTTPError, ValueError) as exc:
                    self.errors.append(f"/readyz {type(exc).__name__}: {exc}")
                n += 1
                self.stopping.wait(POST_EVERY_SECONDS)

    def now(self, check: str) -> str:
        """The check's value in the latest /readyz answer."""
        return self.readiness[-1].get(check, "absent") if self.readiness else "unknown"

    def all_ok(self) -> bool:
        return bool(self.readiness) and set(self.readiness[-1].values()) == {"ok"}

    def seen(self, check: str) -> list[str]:
        """Every value a /readyz check had, in order, repeats folded."""
        values: list[str] = []
        for checks in self.readiness:
            value = checks.get(check, "absent")
            if not values or values[-1] != value:
                values.append(value)
        return values


def children_named(run: UpRun, name: str) -> list[psutil.Process]:
    """The children of `up` whose command line names `name` (celery, redis-server, gunicorn)."""
    found = []
    for process in psutil.Process(run.process.pid).children():
        try:
            if name in " ".join(process.cmdline()):
                found.append(process)
        except psutil.NoSuchProcess:
            pass
    return found


def up_events(run: UpRun) -> list[dict[str, object]]:
    """`up`'s own structured log lines about its children."""
    events = []
    for line in run.output().splitlines():
        if line.startswith("{"):
            event = json.loads(line)
            if event.get("logger") == "cli.up":
                events.append(event)
    return events


@pytest.fixture
def up_run(tmp_path: Path) -> Iterator[UpRun]:
    run = start_up(
        tmp_path,
        free_port(),
        # Sweep every second; a comment pending for two seconds is queued again.
        SWEEP_INTERVAL_SECONDS="1",
        STALE_PENDING_AFTER_SECONDS="2",
        LOG_JSON="true",
    )
    yield run
    run.kill_tree()


@pytest.fixture
def up_settings(up_run: UpRun) -> Iterator[Settings]:
    """This process reading the SQLite file `up` runs on."""
    yield configure(var_dir=up_run.var_dir, database_url="", redis_url="")
    dispose_engines()


class TestUpChildrenKilled:
    def test_up_restarts_killed_worker_and_redis_and_decides_every_comment_once(
        self, up_run: UpRun, up_settings: Settings, receiver: Receiver
    ) -> None:
        up_run.wait_for_banner()
        wait_ready(up_run.api)
        with session_scope(up_settings) as session:
            source = create_source(session, "Up CMS", callback_url=receiver.url)
        traffic = Traffic(up_run.api, source)
        traffic.start()
        try:
            wait_for(lambda: len(traffic.ledger.accepted) >= 10)
            [worker] = children_named(up_run, "--beat")  # the scoring worker, not the deliverer
            [redis_server] = children_named(up_run, "redis-server")
            worker.send_signal(signal.SIGKILL)
            # Redis dies too, while the worker is still loading its model again.
            wait_for(lambda: traffic.now("worker") != "ok")
            assert up_run.process.poll() is None, f"up stopped:\n{up_run.output()[-3000:]}"
            redis_server.send_signal(signal.SIGKILL)
            wait_for(lambda: traffic.now("redis") == "ok" and traffic.seen("redis")[-2:-1] != [])
            wait_for(traffic.all_ok, timeout=RECOVERY_TIMEOUT)
            time.sleep(1)  # a little traffic with everything back
        finally:
            traffic.stopping.set()
            traffic.join(timeout=30)

        assert up_run.process.poll() is None, up_run.output()
        assert traffic.errors == []
        assert traffic.ledger.refused == {}, traffic.ledger.refused
        worker_states = traffic.seen("worker")
        assert worker_states[0] == "ok" and worker_states[-1] == "ok"
        assert any(s.startswith("restarting: died (killed by SIGKILL)") for s in worker_states)
        assert any(s.startswith("starting: ") for s in worker_states)
        redis_states = traffic.seen("redis")
        assert redis_states[-1] == "ok" and any(s != "ok" for s in redis_states), redis_states
        events = [(e["event"], e["child"]) for e in up_events(up_run)]
        assert sorted(events) == [
            ("child died", "redis"),
            ("child died", "worker"),
            ("child ready", "worker"),
            ("child restarted", "redis"),
            ("child restarted", "worker"),
        ], events

        wait_until_settled(up_settings, receiver, traffic.ledger.accepted, timeout=RECOVERY_TIMEOUT)
        # Comments taken while Redis was down were never queued: the sweeper queued them.
        logs = up_run.var_dir / "log"
        assert "task not queued: broker unavailable" in (logs / "api.log").read_text()
        assert any(
            line.get("event") == "sweep: queued stale work" and line.get("comments", 0) > 0
            for line in json_lines(logs / "worker.log")
        )
        counts = assert_nothing_lost_nothing_twice(
            up_settings, source, receiver, traffic.ledger.accepted, redelivery_allowed=True
        )
        accepted = len(traffic.ledger.accepted)
        assert counts == {"accepted": accepted, "decided": accepted, "delivered": accepted}
        tree = up_run.descendants()
        assert up_run.interrupt() == 0
        assert still_running(tree) == []


def json_lines(path: Path) -> Iterator[dict[str, Any]]:
    """The JSON log lines of a file (Celery's own warnings in it are plain text)."""
    for text in path.read_text(errors="replace").splitlines():
        try:
            parsed = json.loads(text)
        except ValueError:
            continue
        if isinstance(parsed, dict):
            yield parsed
