"""Scale out: two API processes and two worker processes, each with a var dir of its own, share
nothing but PostgreSQL and Redis, and every comment a CMS posts to either API is decided and
delivered exactly once (what `docker-compose up --scale api=2 --scale worker=3` relies on)."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from core.settings import Settings
from core.store import NewSource
from core.tasks import SCORE_COMMENT
from tests.cli.helpers import MODERATION, free_port
from tests.faults.pipeline import (
    BENIGN,
    TOXIC,
    Ledger,
    assert_nothing_lost_nothing_twice,
    post_http,
    signed_comment,
    wait_until_settled,
)
from tests.integration.workers import StartWorker, wait_for, worker_env
from tests.receiver import Receiver

pytestmark = [pytest.mark.integration, pytest.mark.slow]

COMMENTS = 120
# The per-source intake limit is not what this test is about.
UNLIMITED = {"INTAKE_RATE_LIMIT": "100000/minute"}


@contextmanager
def api_process(settings: Settings, var_dir: Path, log_path: Path) -> Iterator[str]:
    """`moderation api` (gunicorn, one process) on a free port with its own var dir."""
    port = free_port()
    env = worker_env(settings, MODERATION_VAR_DIR=str(var_dir), **UNLIMITED)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [MODERATION, "api", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"api exited early:\n{log_path.read_text()[-3000:]}")
        try:
            return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for(healthy, timeout=30)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def scored_by(log_text: str) -> int:
    """How many scoring tasks a worker's log says it ran to the end."""
    return len(re.findall(rf"Task {re.escape(SCORE_COMMENT)}\[[^\]]+\] succeeded", log_text))


def test_two_apis_and_two_workers_decide_each_comment_once(
    settings: Settings,
    start_worker: StartWorker,
    source: NewSource,
    receiver: Receiver,
    tmp_path: Path,
) -> None:
    workers = [
        start_worker(MODERATION_VAR_DIR=str(tmp_path / f"worker-{n}"), **UNLIMITED)
        for n in range(2)
    ]
    ledger = Ledger()
    answered_by: dict[str, int] = {}
    with (
        api_process(settings, tmp_path / "api-0", tmp_path / "api-0.log") as first,
        api_process(settings, tmp_path / "api-1", tmp_path / "api-1.log") as second,
        httpx.Client(timeout=10) as client,
    ):
        for n in range(COMMENTS):
            api = (first, second)[n % 2]
            hook = signed_comment(f"scale-{n}", TOXIC if n % 3 == 0 else BENIGN)
            response = post_http(client, api, source, hook)
            ledger.record(hook, response)
            answered_by[api] = answered_by.get(api, 0) + (response.status_code == 202)
        assert ledger.refused == {}, f"refused: {ledger.refused}"
        assert answered_by == {first: COMMENTS // 2, second: COMMENTS // 2}
        wait_until_settled(settings, receiver, ledger.accepted, timeout=120)

    counts = assert_nothing_lost_nothing_twice(settings, source, receiver, ledger.accepted)
    assert counts == {"accepted": COMMENTS, "decided": COMMENTS, "delivered": COMMENTS}
    # Both workers took a share of the queue: the work was spread, not done by one alone.
    shares = [wait_for(lambda w=w: scored_by(w.log_text())) for w in workers]
    assert sum(shares) == COMMENTS, f"scoring tasks per worker: {shares}"
    assert all(share > 0 for share in shares), f"scoring tasks per worker: {shares}"
