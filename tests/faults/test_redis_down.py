"""Redis stopped during intake: every comment answered 202 is kept, and decided once it is back."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from core.settings import Settings
from core.store import NewSource
from tests.faults.pipeline import (
    Ledger,
    assert_nothing_lost_nothing_twice,
    post,
    signed_comment,
    stored_comment_ids,
    wait_until_settled,
)
from tests.faults.servers import RedisServer
from tests.integration.workers import StartWorker
from tests.receiver import Receiver

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BEFORE, DURING = 3, 5


class TestRedisDown:
    def test_redis_down_during_intake_loses_no_accepted_comment(
        self,
        settings: Settings,
        source: NewSource,
        client: FlaskClient,
        receiver: Receiver,
        start_worker: StartWorker,
        redis_server: RedisServer,
    ) -> None:
        start_worker(beat=True)
        ledger = Ledger()
        for _ in range(BEFORE):
            hook = signed_comment()
            ledger.record(hook, post(client, source, hook))

        redis_server.stop()
        during = []
        for _ in range(DURING):
            hook = signed_comment()
            response = post(client, source, hook)
            ledger.record(hook, response)
            during.append(response)
        # Stored, so accepted (202); or refused as a whole with a hint when to retry (503).
        assert {r.status_code for r in during} <= {202, 503}, [r.status_code for r in during]
        for response in during:
            if response.status_code == 503:
                assert response.mimetype == "application/problem+json"
                assert int(response.headers["Retry-After"]) > 0
        assert stored_comment_ids(settings, source) == set(ledger.accepted)

        # Back empty (no persistence): what was queued before the outage is gone too; the
        # worker reconnects and its sweeper queues every comment still pending.
        redis_server.start()
        wait_until_settled(settings, receiver, ledger.accepted, timeout=90)
        counts = assert_nothing_lost_nothing_twice(settings, source, receiver, ledger.accepted)
        assert counts["accepted"] == len(ledger.accepted) >= BEFORE
