"""kill -9 with a batch in flight: before its commit, after its commit but before its acks, of
the pool process alone or of the whole worker. Every comment is still decided once, and its
decision delivered once."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
import redis
from flask.testing import FlaskClient

from core.settings import Settings
from core.store import NewSource
from tests.faults.pipeline import (
    BENIGN,
    TOXIC,
    Ledger,
    assert_nothing_lost_nothing_twice,
    pending_count,
    post,
    signed_comment,
    wait_until_settled,
)
from tests.integration.workers import StartWorker, WorkerProcess, wait_for
from tests.receiver import Receiver

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PAUSED_APP = "tests.faults.paused_batch_worker"
COMMENTS = 12


def paused_worker(start_worker: StartWorker, tmp_path: Path, stage: str) -> WorkerProcess:
    """A batching worker whose first batch pauses at `stage`; a long wait lets one batch
    collect every comment the test posts."""
    return start_worker(
        PAUSED_APP,
        SCORE_BATCH_SIZE="50",
        SCORE_BATCH_WAIT_MS="500",
        FAULT_PAUSE_AT=stage,
        FAULT_PAUSE_FILE=str(tmp_path / "paused"),
        FAULT_PAUSE_SECONDS="60",
    )


def post_comments(client: FlaskClient, source: NewSource) -> Ledger:
    ledger = Ledger()
    for n in range(COMMENTS):
        hook = signed_comment(text=TOXIC if n % 3 == 0 else BENIGN)
        ledger.record(hook, post(client, source, hook))
    assert len(ledger.accepted) == COMMENTS, ledger.refused
    return ledger


def decided_count(settings: Settings) -> int:
    return COMMENTS - pending_count(settings)


def paused_pid(tmp_path: Path) -> int:
    """The pool process pausing in its batch (once it is there)."""
    marker = tmp_path / "paused"
    return int(marker.read_text() or 0) if marker.exists() else 0


class TestBatchKilled:
    def test_pool_process_killed_mid_batch_gives_its_messages_back(
        self,
        settings: Settings,
        source: NewSource,
        client: FlaskClient,
        receiver: Receiver,
        start_worker: StartWorker,
        tmp_path: Path,
    ) -> None:
        worker = paused_worker(start_worker, tmp_path, "scoring")
        ledger = post_comments(client, source)
        child = wait_for(lambda: paused_pid(tmp_path))
        assert decided_count(settings) == 0
        os.kill(child, signal.SIGKILL)

        # No sweeper runs here: the batch's messages go back to the queue when its pool process
        # is lost, and the replacement process decides them.
        wait_until_settled(settings, receiver, ledger.accepted)
        counts = assert_nothing_lost_nothing_twice(settings, source, receiver, ledger.accepted)
        assert counts == {"accepted": COMMENTS, "decided": COMMENTS, "delivered": COMMENTS}
        assert child not in worker.child_pids()

    def test_pool_process_killed_after_commit_before_ack_decides_nothing_twice(
        self,
        settings: Settings,
        source: NewSource,
        client: FlaskClient,
        receiver: Receiver,
        start_worker: StartWorker,
        redis_client: redis.Redis,
        tmp_path: Path,
    ) -> None:
        worker = paused_worker(start_worker, tmp_path, "after_commit")
        ledger = post_comments(client, source)
        child = wait_for(lambda: paused_pid(tmp_path))
        # The paused batch is committed; its messages are not acknowledged yet.
        paused = decided_count(settings)
        assert paused > 0
        assert redis_client.hlen("unacked") >= 1
        os.kill(child, signal.SIGKILL)

        # Its messages come back and find their comments decided; the sweeper (started now)
        # queues the deliveries the killed process never queued.
        start_worker(beat=True)
        wait_until_settled(settings, receiver, ledger.accepted)
        counts = assert_nothing_lost_nothing_twice(settings, source, receiver, ledger.accepted)
        assert counts == {"accepted": COMMENTS, "decided": COMMENTS, "delivered": COMMENTS}
        assert child not in worker.child_pids()

    def test_worker_killed_mid_batch_decides_and_delivers_each_comment_once(
        self,
        settings: Settings,
        source: NewSource,
        client: FlaskClient,
        receiver: Receiver,
        start_worker: StartWorker,
        redis_client: redis.Redis,
        tmp_path: Path,
    ) -> None:
        first = paused_worker(start_worker, tmp_path, "scoring")
        ledger = post_comments(client, source)
        wait_for(lambda: paused_pid(tmp_path))
        assert redis_client.hlen("unacked") >= 1
        first.kill()
        assert pending_count(settings) == COMMENTS

        # The batch's messages died with the worker (Redis gives them back only after its
        # visibility timeout): the new worker's sweeper finds the comments pending.
        start_worker(beat=True)
        wait_until_settled(settings, receiver, ledger.accepted)
        counts = assert_nothing_lost_nothing_twice(settings, source, receiver, ledger.accepted)
        assert counts == {"accepted": COMMENTS, "decided": COMMENTS, "delivered": COMMENTS}
