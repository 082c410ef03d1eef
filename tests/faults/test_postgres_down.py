"""PostgreSQL unavailable, even crashing under load: 503 + Retry-After, and nothing half-written."""

from __future__ import annotations

import threading
import time

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from core.settings import Settings
from core.store import NewSource
from tests.faults.pipeline import (
    Ledger,
    SignedComment,
    assert_nothing_lost_nothing_twice,
    orphans,
    post,
    signed_comment,
    stored_comment_ids,
    wait_until_settled,
)
from tests.faults.servers import PostgresServer
from tests.integration.workers import StartWorker, wait_for
from tests.receiver import Receiver

pytestmark = [pytest.mark.integration, pytest.mark.slow]

POSTERS = 3


def assert_retry_later(response: TestResponse) -> None:
    assert response.status_code == 503, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["status"] == 503
    assert int(response.headers["Retry-After"]) > 0


class TestPostgresDown:
    def test_postgres_down_answers_503_with_retry_after_and_stores_nothing(
        self,
        settings: Settings,
        source: NewSource,
        client: FlaskClient,
        receiver: Receiver,
        start_worker: StartWorker,
        postgres_server: PostgresServer,
    ) -> None:
        postgres_server.stop("immediate")
        hooks = [signed_comment() for _ in range(4)]
        for hook in hooks:
            assert_retry_later(post(client, source, hook))
        postgres_server.start()
        assert stored_comment_ids(settings, source) == set()
        assert orphans(settings, source) == (0, 0)

        # The CMS retries the very same webhooks: not replays, since none was remembered.
        ledger = Ledger()
        for hook in hooks:
            ledger.record(hook, post(client, source, hook))
        assert len(ledger.accepted) == len(hooks), ledger.refused
        start_worker(beat=True)
        wait_until_settled(settings, receiver, ledger.accepted)
        assert_nothing_lost_nothing_twice(settings, source, receiver, ledger.accepted)

    def test_postgres_crash_under_intake_load_leaves_nothing_half_written(
        self,
        settings: Settings,
        source: NewSource,
        client: FlaskClient,
        receiver: Receiver,
        start_worker: StartWorker,
        postgres_server: PostgresServer,
    ) -> None:
        ledger = Ledger()
        refused: list[SignedComment] = []
        answers: list[int] = []
        lock = threading.Lock()
        stop = threading.Event()

        def keep_posting() -> None:
            own_client = client.application.test_client()
            while not stop.is_set():
                hook = signed_comment()
                response = post(own_client, source, hook)
                with lock:
                    answers.append(response.status_code)
                    ledger.record(hook, response)
                    if response.status_code != 202:
                        refused.append(hook)
                if response.status_code == 503:
                    time.sleep(0.05)

        posters = [threading.Thread(target=keep_posting) for _ in range(POSTERS)]
        for thread in posters:
            thread.start()
        try:
            wait_for(lambda: len(ledger.accepted) >= 10, timeout=30)
            # A crash (no shutdown checkpoint) while requests are mid-transaction.
            postgres_server.stop("immediate")
            wait_for(lambda: ledger.refused[503] >= 5, timeout=30)
            postgres_server.start()
            accepted_before = len(ledger.accepted)
            wait_for(lambda: len(ledger.accepted) >= accepted_before + 5, timeout=30)
        finally:
            stop.set()
            for thread in posters:
                thread.join(timeout=30)

        assert set(answers) <= {202, 503}, sorted(set(answers))
        assert stored_comment_ids(settings, source) == set(ledger.accepted)
        assert orphans(settings, source) == (0, 0)

        # Every refused webhook goes through when the CMS sends it again.
        for hook in refused:
            response = post(client, source, hook)
            assert response.status_code == 202, response.get_data(as_text=True)
            ledger.record(hook, response)
        start_worker(beat=True)
        wait_until_settled(settings, receiver, ledger.accepted, timeout=90)
        assert_nothing_lost_nothing_twice(settings, source, receiver, ledger.accepted)


class TestPostgresRestarted:
    def test_postgres_restart_between_requests_costs_no_refusal(
        self,
        settings: Settings,
        source: NewSource,
        client: FlaskClient,
        postgres_server: PostgresServer,
    ) -> None:
        # The intake's connections are lent without a ping: a restart leaves every pooled
        # connection stale, and the first request after it must still be stored, not refused.
        ledger = Ledger()
        for _ in range(3):
            hook = signed_comment()
            ledger.record(hook, post(client, source, hook))
        postgres_server.stop("fast")
        postgres_server.start()
        for _ in range(3):
            hook = signed_comment()
            ledger.record(hook, post(client, source, hook))
        assert len(ledger.accepted) == 6, ledger.refused
        assert stored_comment_ids(settings, source) == set(ledger.accepted)
