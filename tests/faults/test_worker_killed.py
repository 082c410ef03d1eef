"""kill -9 of a worker holding an unacked scoring message: every comment still decided once."""

from __future__ import annotations

import os
import signal

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
from tests.integration.workers import StartWorker, wait_for
from tests.receiver import Receiver

pytestmark = [pytest.mark.integration, pytest.mark.slow]

COMMENTS = 12


class TestWorkerKilled:
    def test_worker_killed_mid_scoring_decides_and_delivers_each_comment_once(
        self,
        settings: Settings,
        source: NewSource,
        client: FlaskClient,
        receiver: Receiver,
        start_worker: StartWorker,
        redis_client: redis.Redis,
    ) -> None:
        first = start_worker()
        # Freeze the pool process: the worker reserves a message it can neither run nor ack.
        [child] = first.child_pids()
        os.kill(child, signal.SIGSTOP)
        ledger = Ledger()
        for n in range(COMMENTS):
            hook = signed_comment(text=TOXIC if n % 3 == 0 else BENIGN)
            ledger.record(hook, post(client, source, hook))
        assert len(ledger.accepted) == COMMENTS, ledger.refused
        wait_for(lambda: redis_client.hlen("unacked") >= 1)
        first.kill()
        assert pending_count(settings) == COMMENTS

        # The reserved message died with the worker (Redis gives it back only after its
        # visibility timeout): the new worker's sweeper finds that comment pending.
        start_worker(beat=True)
        wait_until_settled(settings, receiver, ledger.accepted)
        counts = assert_nothing_lost_nothing_twice(settings, source, receiver, ledger.accepted)
        assert counts == {"accepted": COMMENTS, "decided": COMMENTS, "delivered": COMMENTS}
