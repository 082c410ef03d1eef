"""kill -9 of a worker in the middle of a delivery batch: every event still delivered, none lost.

Delivery is at least once: the events the batch had POSTed but not yet recorded are sent again,
each with its own webhook-id and the same payload, so a CMS that deduplicates on webhook-id
(docs/cms-integration.md) applies each exactly once.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from core.db import session_scope
from core.settings import Settings
from core.store import create_source
from core.tables import DeliveryAttempt, Event
from tests.faults.pipeline import (
    Ledger,
    assert_nothing_lost_nothing_twice,
    post,
    signed_comment,
    undelivered_count,
    wait_until_settled,
)
from tests.integration.workers import StartWorker, wait_for
from tests.receiver import Reply, running_receiver

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SHORT_LEASE_APP = "tests.faults.short_lease_worker"
COMMENTS = 20


def claimed_unrecorded(settings: Settings) -> int:
    """Events a batch claimed (an attempt counted) whose attempt was never recorded."""
    with session_scope(settings) as session:
        recorded = select(func.count(DeliveryAttempt.id)).where(
            DeliveryAttempt.event_id == Event.id
        )
        query = select(func.count()).where(
            Event.state == "pending", Event.attempts > recorded.scalar_subquery()
        )
        return int(session.scalar(query) or 0)


class TestWorkerKilledMidBatch:
    def test_worker_killed_mid_batch_loses_nothing_and_repeats_only_webhook_ids(
        self, settings: Settings, client: FlaskClient, start_worker: StartWorker
    ) -> None:
        # A slow CMS (150 ms an answer) keeps one batch of 20 in flight for about 3 s.
        with running_receiver(default=Reply(200, delay=0.15), keep_alive=True) as receiver:
            with session_scope(settings) as session:
                source = create_source(session, "Batch CMS", callback_url=receiver.url)
            first = start_worker(SHORT_LEASE_APP, DELIVERY_BATCH_SIZE="50")
            ledger = Ledger()
            for _ in range(COMMENTS):
                hook = signed_comment()
                ledger.record(hook, post(client, source, hook))
            assert len(ledger.accepted) == COMMENTS, ledger.refused
            wait_for(lambda: len(receiver.requests) >= 3, timeout=30)
            first.kill()
            in_flight = claimed_unrecorded(settings)
            assert undelivered_count(settings) > 0 and in_flight > 0

            # The claims' lease runs out; the new worker's sweeper queues the source again.
            start_worker(SHORT_LEASE_APP, beat=True, DELIVERY_BATCH_SIZE="50")
            wait_until_settled(settings, receiver, ledger.accepted, timeout=60)
            counts = assert_nothing_lost_nothing_twice(
                settings, source, receiver, ledger.accepted, redelivery_allowed=True
            )

        assert counts == {"accepted": COMMENTS, "decided": COMMENTS, "delivered": COMMENTS}
        payloads: dict[str, list[Any]] = defaultdict(list)
        for request in receiver.requests:
            payloads[request.headers["webhook-id"]].append(json.loads(request.body))
        repeated = {k: v for k, v in payloads.items() if len(v) > 1}
        assert all(all(p == v[0] for p in v) for v in repeated.values())
        # Only what was in flight at the kill can have been sent twice.
        assert len(repeated) <= in_flight
