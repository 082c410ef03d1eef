"""Callbacks through a real worker, batched (DELIVERY_BATCH_SIZE > 0) and one task per event (0)."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient
from standardwebhooks import Webhook

from core.settings import Settings
from core.store import NewSource
from tests.integration.intake import post_comment
from tests.integration.stored import point_callbacks_at
from tests.integration.workers import WORDLIST_APP, StartWorker, WorkerProcess, wait_for
from tests.receiver import Reply, running_receiver

pytestmark = pytest.mark.integration

BENIGN = "Thanks for the clear reporting on the council budget."
COMMENTS = 15


def tasks_run(worker: WorkerProcess, name: str) -> int:
    """How many `name` tasks the worker logged as finished."""
    return len(re.findall(rf"Task {re.escape(name)}\[[^\]]+\] succeeded", worker.log_text()))


class TestBatchedCallbacks:
    @pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
    def test_batched_worker_sends_each_event_once_over_kept_connections(
        self,
        settings: Settings,
        client: FlaskClient,
        source: NewSource,
        start_worker: StartWorker,
    ) -> None:
        # A CMS taking 50 ms an answer: events decided meanwhile join the batch in flight.
        with running_receiver(default=Reply(200, delay=0.05), keep_alive=True) as receiver:
            point_callbacks_at(settings, source, receiver)
            worker = start_worker(WORDLIST_APP, concurrency=2, DELIVERY_BATCH_SIZE="50")
            ids = {post_comment(client, source, f"{BENIGN} ({n})")["id"] for n in range(COMMENTS)}

            wait_for(lambda: len(receiver.requests) >= COMMENTS, timeout=60)
            wait_for(lambda: tasks_run(worker, "worker.deliver_due") >= 1, timeout=10)
            requests = list(receiver.requests)
            connections = receiver.connections

        delivered = [Webhook(source.secret).verify(r.body, r.headers) for r in requests]
        assert sorted(p["data"]["id"] for p in delivered) == sorted(ids)
        assert len({r.headers["webhook-id"] for r in requests}) == COMMENTS
        assert connections < len(requests)
        assert tasks_run(worker, "worker.deliver_event") == 0
        # Many events per task: at least two on average.
        assert 1 <= tasks_run(worker, "worker.deliver_due") <= COMMENTS // 2

    def test_batch_size_zero_keeps_one_delivery_task_per_event(
        self,
        settings: Settings,
        client: FlaskClient,
        source: NewSource,
        start_worker: StartWorker,
    ) -> None:
        with running_receiver(keep_alive=True) as receiver:
            point_callbacks_at(settings, source, receiver)
            worker = start_worker(WORDLIST_APP, DELIVERY_BATCH_SIZE="0")
            for n in range(3):
                post_comment(client, source, f"{BENIGN} ({n})")

            wait_for(lambda: tasks_run(worker, "worker.deliver_event") >= 3, timeout=60)

        assert len(receiver.requests) == 3
        assert tasks_run(worker, "worker.deliver_due") == 0
