"""The CMS's callback endpoint down for a while: deliveries retried, then delivered once each."""

from __future__ import annotations

from http.server import ThreadingHTTPServer

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from core.db import session_scope
from core.settings import Settings
from core.store import NewSource, create_source
from core.tables import DeliveryAttempt, Event
from tests.faults.pipeline import (
    Ledger,
    assert_nothing_lost_nothing_twice,
    post,
    signed_comment,
    wait_until_settled,
)
from tests.integration.workers import StartWorker, wait_for
from tests.receiver import Receiver

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FAST_RETRY_APP = "tests.faults.fast_retry_worker"
COMMENTS = 4


def bring_up(receiver: Receiver) -> None:
    """Listen again on the same address the source calls back (a CMS back from an outage)."""
    address = receiver.server.server_address
    handler = receiver.server.RequestHandlerClass
    receiver.server = ThreadingHTTPServer(address[:2], handler)
    receiver.server.daemon_threads = False  # joined on stop, as in tests.receiver
    receiver.start()


def failed_attempts_per_event(settings: Settings) -> dict[str, int]:
    with session_scope(settings) as session:
        rows = session.execute(
            select(Event.id, func.count(DeliveryAttempt.id))
            .outerjoin(DeliveryAttempt, DeliveryAttempt.event_id == Event.id)
            .where(DeliveryAttempt.status_code.is_(None))
            .group_by(Event.id)
        )
        return {event_id: int(count) for event_id, count in rows}


class TestReceiverDown:
    def test_receiver_down_for_a_while_gets_every_event_once_it_returns(
        self, settings: Settings, client: FlaskClient, start_worker: StartWorker
    ) -> None:
        down = Receiver()
        down.server.server_close()  # nothing listens there: connections are refused
        with session_scope(settings) as session:
            source = create_source(session, "Offline CMS", callback_url=down.url)
        try:
            self._scenario(settings, client, start_worker, source, down)
        finally:
            if down.server.socket.fileno() != -1:
                down.stop()

    def _scenario(
        self,
        settings: Settings,
        client: FlaskClient,
        start_worker: StartWorker,
        source: NewSource,
        receiver: Receiver,
    ) -> None:
        start_worker(FAST_RETRY_APP, beat=True)
        ledger = Ledger()
        for _ in range(COMMENTS):
            hook = signed_comment()
            ledger.record(hook, post(client, source, hook))
        assert len(ledger.accepted) == COMMENTS

        # Every event fails, and the endpoint stays down while retries fail too (the breaker
        # lets one probe through at a time), but not long enough to exhaust an event's budget.
        def retried() -> dict[str, int]:
            seen = failed_attempts_per_event(settings)
            return seen if len(seen) == COMMENTS and sum(seen.values()) >= 2 * COMMENTS else {}

        wait_for(retried, timeout=60)
        assert receiver.requests == []

        bring_up(receiver)
        wait_until_settled(settings, receiver, ledger.accepted, timeout=60)
        assert_nothing_lost_nothing_twice(settings, source, receiver, ledger.accepted)
