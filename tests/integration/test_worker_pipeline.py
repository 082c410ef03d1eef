"""The queue-to-decision path through a real worker, on SQLite and PostgreSQL (word-list model)."""

from __future__ import annotations

import os
import signal

import pytest
import redis

from core.settings import Settings
from core.tasks import DELIVER_EVENT, SCORE_COMMENT
from service.queue import create_client
from tests.integration.stored import (
    BENIGN,
    TOXIC,
    decided,
    decisions_of,
    events_of,
    queue_scoring,
    status_of,
    store_comment,
)
from tests.integration.workers import WORDLIST_APP, StartWorker, wait_for, waiting_or_unacked

# Sweep every second, and count a comment as stale after one second pending.
FAST_SWEEPS = {"SWEEP_INTERVAL_SECONDS": "1", "STALE_PENDING_AFTER_SECONDS": "1"}

pytestmark = [
    pytest.mark.integration,
    pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True),
]

# Both designs of the scoring task: one comment per task, and batches (the default).
DESIGNS = {"per-comment": {"SCORE_BATCH_SIZE": "1"}, "batched": {"SCORE_BATCH_SIZE": "100"}}


@pytest.fixture(params=sorted(DESIGNS))
def design(request: pytest.FixtureRequest) -> dict[str, str]:
    return DESIGNS[request.param]


class TestScoreCommentTask:
    def test_score_comment_decides_through_real_worker(
        self, settings: Settings, start_worker: StartWorker, design: dict[str, str]
    ) -> None:
        start_worker(WORDLIST_APP, **design)
        benign, toxic = store_comment(settings, BENIGN, "a"), store_comment(settings, TOXIC, "b")
        queue_scoring(settings, benign)
        queue_scoring(settings, toxic)
        assert wait_for(lambda: decided(settings, benign)) == "approved"
        assert wait_for(lambda: decided(settings, toxic)) == "flagged"
        assert decisions_of(settings, toxic) == [(1, "flagged", "model")]
        assert events_of(settings, toxic) == ["comment.flagged"]

    def test_score_comment_twice_decides_once(
        self,
        settings: Settings,
        start_worker: StartWorker,
        redis_client: redis.Redis,
        design: dict[str, str],
    ) -> None:
        start_worker(WORDLIST_APP, **design)
        comment_id = store_comment(settings, TOXIC)
        queue_scoring(settings, comment_id)
        queue_scoring(settings, comment_id)
        wait_for(lambda: decided(settings, comment_id))
        # Both messages consumed and acknowledged: the second one (in the same batch or the
        # next) found the comment decided and did nothing.
        wait_for(lambda: not waiting_or_unacked(redis_client, settings.queue_name))
        assert decisions_of(settings, comment_id) == [(1, "flagged", "model")]
        assert events_of(settings, comment_id) == ["comment.flagged"]

    def test_score_comment_is_not_held_up_by_a_delivery_backlog(
        self,
        settings: Settings,
        start_worker: StartWorker,
        redis_client: redis.Redis,
        design: dict[str, str],
    ) -> None:
        # Deliveries have their own queue, served in turn with the scoring one: a comment
        # queued behind 2,000 deliveries is decided while most of them still wait.
        client = create_client(settings)
        for n in range(2000):
            client.send_task(DELIVER_EVENT, args=[f"msg_backlog_{n}"])
        comment_id = store_comment(settings, TOXIC)
        queue_scoring(settings, comment_id)
        start_worker(WORDLIST_APP, **design)
        assert wait_for(lambda: decided(settings, comment_id)) == "flagged"
        assert redis_client.llen(settings.delivery_queue_name) > 1000

    def test_score_comment_queued_while_no_worker_runs_is_decided_once(
        self, settings: Settings, start_worker: StartWorker, design: dict[str, str]
    ) -> None:
        comment_id = store_comment(settings, BENIGN)
        queue_scoring(settings, comment_id)
        start_worker(WORDLIST_APP, **design)
        assert wait_for(lambda: decided(settings, comment_id)) == "approved"
        assert decisions_of(settings, comment_id) == [(1, "approved", "model")]

    def test_score_comment_survives_worker_killed_holding_message(
        self,
        settings: Settings,
        start_worker: StartWorker,
        redis_client: redis.Redis,
        design: dict[str, str],
    ) -> None:
        first = start_worker(WORDLIST_APP, **design)
        # Freeze the pool process: the worker takes the message but cannot run it (nor ack it).
        [child] = first.child_pids()
        os.kill(child, signal.SIGSTOP)
        comment_id = store_comment(settings, TOXIC)
        queue_scoring(settings, comment_id)
        wait_for(lambda: redis_client.llen(settings.queue_name) == 0)
        first.kill()
        assert status_of(settings, comment_id) == "pending"

        # The message died with the worker (Redis would give it back only after its visibility
        # timeout); the sweeper finds the comment pending and queues it again.
        start_worker(WORDLIST_APP, beat=True, **FAST_SWEEPS, **design)
        assert wait_for(lambda: decided(settings, comment_id)) == "flagged"
        assert decisions_of(settings, comment_id) == [(1, "flagged", "model")]

    def test_score_comment_survives_pool_process_killed_holding_message(
        self,
        settings: Settings,
        start_worker: StartWorker,
        redis_client: redis.Redis,
        design: dict[str, str],
    ) -> None:
        worker = start_worker(WORDLIST_APP, **design)
        [child] = worker.child_pids()
        os.kill(child, signal.SIGSTOP)
        comment_id = store_comment(settings, TOXIC)
        queue_scoring(settings, comment_id)
        wait_for(lambda: redis_client.llen(settings.queue_name) == 0)
        os.kill(child, signal.SIGKILL)
        # reject_on_worker_lost: the message goes back to the queue and a new pool process
        # takes it, without waiting for the sweeper.
        assert wait_for(lambda: decided(settings, comment_id)) == "flagged"
        assert decisions_of(settings, comment_id) == [(1, "flagged", "model")]
        assert child not in worker.child_pids()

    def test_score_comment_logs_under_the_queued_request_id(
        self, settings: Settings, start_worker: StartWorker, design: dict[str, str]
    ) -> None:
        worker = start_worker(WORDLIST_APP, **design)
        comment_id = store_comment(settings, BENIGN)
        create_client(settings).send_task(
            SCORE_COMMENT, args=[comment_id], headers={"request_id": "req-trace-0042"}
        )
        wait_for(lambda: decided(settings, comment_id))
        lines = wait_for(lambda: [s for s in worker.log_text().splitlines() if comment_id in s])
        assert any("req-trace-0042" in line for line in lines)
        assert BENIGN not in worker.log_text()


class TestSweep:
    def test_sweep_requeues_comment_whose_message_was_lost(
        self, settings: Settings, start_worker: StartWorker, redis_client: redis.Redis
    ) -> None:
        comment_id = store_comment(settings, BENIGN)
        queue_scoring(settings, comment_id)
        redis_client.delete(settings.queue_name)  # the message is lost
        # Beat runs inside this worker and sends "worker.sweep" every second.
        start_worker(WORDLIST_APP, beat=True, **FAST_SWEEPS)
        assert wait_for(lambda: decided(settings, comment_id), timeout=30) == "approved"
        assert decisions_of(settings, comment_id) == [(1, "approved", "model")]
