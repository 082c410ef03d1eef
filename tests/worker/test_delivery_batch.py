"""Batched callback delivery (DELIVERY_BATCH_SIZE > 0) against a real receiver and database."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import redis
from celery import Celery
from sqlalchemy.orm import Session
from standardwebhooks import Webhook

import core.deliveries
import worker.delivery
from core.db import session_scope
from core.deliveries import (
    BREAKER_THRESHOLD,
    RETRY_DELAYS,
    RETRY_JITTER,
    Claim,
    HttpOutcome,
    Skip,
    claim_delivery,
    claim_due,
    record_outcome,
    record_outcomes,
)
from core.settings import Settings, configure
from core.tables import Event, User
from core.tasks import DELIVER_DUE, DELIVER_EVENT
from tests.integration.workers import forget_queues
from tests.receiver import Reply, running_receiver
from tests.worker.test_delivery import attempts, decide, event_row, new_source
from tests.worker.test_sweeper import queued
from worker.app import create_celery
from worker.delivery import BatchRun, armed_key, queue_delivery, run_batch

BOTH = pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture(autouse=True)
def close_kept_connections() -> Iterator[None]:
    """This process's kept-alive callback connections end with each test (as at shutdown)."""
    yield
    worker.delivery.close_http_clients()


def drain(settings: Settings, source_id: str, now: datetime | None = None) -> list[BatchRun]:
    """Rounds of run_batch until one claims nothing (what the deliver_due task does)."""
    runs = []
    while True:
        run = run_batch(source_id, settings, now=now)
        runs.append(run)
        if not run.claimed:
            return runs


class TestRunBatch:
    @BOTH
    def test_run_batch_sends_one_signed_request_per_event(
        self, settings: Settings, session: Session
    ) -> None:
        with running_receiver(keep_alive=True) as receiver:
            created = new_source(session, receiver.url)
            events = [decide(session, created.source, f"cms-{n}") for n in range(6)]

            run = run_batch(created.source.id, settings)

        assert (run.claimed, run.posted, run.delivered, run.released) == (6, 6, 6, 0)
        assert sorted(r.headers["webhook-id"] for r in receiver.requests) == sorted(
            e.id for e in events
        )
        by_id = {e.id: e for e in events}
        for request in receiver.requests:
            payload = Webhook(created.secret).verify(request.body, request.headers)
            assert payload == by_id[request.headers["webhook-id"]].payload
        for event in events:
            assert event_row(settings, event.id).state == "delivered"
            assert [a.status_code for a in attempts(settings, event.id)] == [200]

    @BOTH
    def test_run_batch_keeps_each_comments_seq_order(
        self, settings: Settings, session: Session
    ) -> None:
        with running_receiver(keep_alive=True) as receiver:
            source = new_source(session, receiver.url).source
            email = f"mod-{uuid.uuid4().hex[:8]}@example.org"  # the PostgreSQL database is shared
            moderator = User(email=email, password_hash="x", role="moderator")
            session.add(moderator)
            session.flush()
            # Comment A is decided three times (seq 1, 2, 3) among other comments' events.
            decide(session, source, "cms-a")
            decide(session, source, "cms-b")
            decide(session, source, "cms-a", moderator_id=moderator.id)
            decide(session, source, "cms-c")
            decide(session, source, "cms-a")

            runs = drain(settings, source.id)

        arrived = [json.loads(r.body)["data"] for r in receiver.requests]
        assert [d["seq"] for d in arrived if d["external_id"] == "cms-a"] == [1, 2, 3]
        assert len(arrived) == 5
        # One round never holds two events of one comment: A's later seqs wait for rounds after.
        assert [r.delivered for r in runs] == [3, 1, 1, 0]

    @BOTH
    def test_run_batch_retries_a_failing_event_on_schedule_alone(
        self, settings: Settings, session: Session
    ) -> None:
        with running_receiver([Reply(200), Reply(503), Reply(200), Reply(200)]) as receiver:
            source = new_source(session, receiver.url).source
            events = [decide(session, source, f"cms-{n}") for n in range(4)]
            now = datetime.now(UTC) + timedelta(seconds=1)

            first = run_batch(source.id, settings, now=now)
            failed = receiver.requests[1].headers["webhook-id"]
            neighbours = [e.id for e in events if e.id != failed]
            retry_at = event_row(settings, failed).next_attempt_at
            early = run_batch(source.id, settings, now=now + timedelta(seconds=2))
            sent_before_due = len(receiver.requests)
            assert retry_at is not None
            due = run_batch(source.id, settings, now=retry_at.replace(tzinfo=UTC))

        assert (first.posted, first.delivered) == (4, 3)
        assert [event_row(settings, e).state for e in neighbours] == ["delivered"] * 3
        # The schedule's first wait (5 s, +-20%), as with one task per event.
        waited = retry_at.replace(tzinfo=UTC) - now
        first_wait = RETRY_DELAYS[0]
        assert first_wait * (1 - RETRY_JITTER) <= waited <= first_wait * (1 + RETRY_JITTER)
        assert early.claimed == 0 and sent_before_due == 4
        assert (due.claimed, due.delivered) == (1, 1)
        ids = [r.headers["webhook-id"] for r in receiver.requests]
        assert ids.count(failed) == 2 and all(ids.count(e) == 1 for e in neighbours)
        assert [a.status_code for a in attempts(settings, failed)] == [503, 200]

    @BOTH
    def test_run_batch_reuses_kept_alive_connections(
        self, settings: Settings, session: Session
    ) -> None:
        with running_receiver(keep_alive=True) as receiver:
            source = new_source(session, receiver.url).source
            for n in range(20):
                decide(session, source, f"cms-{n}")

            run = run_batch(source.id, settings)

        assert run.delivered == 20 and len(receiver.requests) == 20
        # One kept connection per request in flight at once (DELIVERY_PARALLEL_REQUESTS).
        assert receiver.connections <= settings.delivery_parallel_requests < 20

    @pytest.mark.parametrize("parallel", [1, 4])
    def test_run_batch_has_up_to_parallel_requests_in_flight(
        self, settings: Settings, session: Session, parallel: int
    ) -> None:
        settings = configure(**{**settings.model_dump(), "delivery_parallel_requests": parallel})
        with running_receiver(default=Reply(200, delay=0.2), keep_alive=True) as receiver:
            source = new_source(session, receiver.url).source
            for n in range(8):
                decide(session, source, f"cms-{n}")

            run = run_batch(source.id, settings)

        assert run.delivered == 8 and len(receiver.requests) == 8
        # Overlapping requests only when allowed, never more than allowed.
        assert receiver.most_in_flight <= parallel
        assert (receiver.most_in_flight > 1) == (parallel > 1)
        assert receiver.connections <= parallel

    @pytest.mark.parametrize("parallel", [1, 4])
    def test_run_batch_stops_at_the_breaker_threshold_and_gives_back_the_rest(
        self, settings: Settings, session: Session, parallel: int
    ) -> None:
        settings = configure(**{**settings.model_dump(), "delivery_parallel_requests": parallel})
        with running_receiver(default=Reply(503)) as receiver:
            source = new_source(session, receiver.url).source
            events = [decide(session, source, f"cms-{n}") for n in range(BREAKER_THRESHOLD + 3)]

            run = run_batch(source.id, settings)
            parked = run_batch(source.id, settings)

        assert (run.claimed, run.posted, run.released) == (len(events), BREAKER_THRESHOLD, 3)
        assert len(receiver.requests) == BREAKER_THRESHOLD
        untried = {e.id for e in events} - {r.headers["webhook-id"] for r in receiver.requests}
        for event_id in untried:
            row = event_row(settings, event_id)
            assert row.state == "pending" and row.attempts == 0 and not attempts(settings, event_id)
        assert parked.claimed == 0 and parked.skipped is Skip.CIRCUIT_OPEN

    def test_run_batch_gives_back_claims_its_lease_cannot_cover(
        self, settings: Settings, session: Session, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # A 3 s lease, 1 s per attempt and a 0.5 s margin leave room for about 1.5 s of POSTs.
        monkeypatch.setattr(core.deliveries, "CLAIM_LEASE", timedelta(seconds=3))
        monkeypatch.setattr(worker.delivery, "TOTAL_TIMEOUT_SECONDS", 1.0)
        monkeypatch.setattr(worker.delivery, "LEASE_MARGIN_SECONDS", 0.5)
        settings = configure(**{**settings.model_dump(), "delivery_parallel_requests": 1})
        with running_receiver(default=Reply(200, delay=0.4), keep_alive=True) as receiver:
            source = new_source(session, receiver.url).source
            events = [decide(session, source, f"cms-{n}") for n in range(10)]

            run = run_batch(source.id, settings)
            sent = {r.headers["webhook-id"] for r in receiver.requests}

        assert 1 <= run.posted < len(events) and run.released == len(events) - run.posted
        for event in events:
            row = event_row(settings, event.id)
            if event.id in sent:
                assert row.state == "delivered"
            else:  # given back: due at once, its attempt count unchanged
                assert row.state == "pending" and row.attempts == 0
                assert row.next_attempt_at is not None
                assert row.next_attempt_at.replace(tzinfo=UTC) <= datetime.now(UTC)

    def test_run_batch_parks_events_of_a_source_without_callback_url(
        self, settings: Settings, session: Session
    ) -> None:
        source = new_source(session, None).source
        event = decide(session, source)

        run = run_batch(source.id, settings)

        assert run.claimed == 0 and run.skipped is Skip.NO_CALLBACK_URL
        row = event_row(settings, event.id)
        assert row.state == "pending" and row.next_attempt_at is None


class TestOrderRace:
    """A claim that finds the earlier seq of its comment pending, while that one's recorder has
    not committed yet (the web process commits comment.rejected and comment.reported at once
    and queues both): the claim must not defer its event after the recorder looked at it, or
    no one re-arms it and it waits for the sweeper."""

    @pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
    @pytest.mark.parametrize("recorder", ["record_outcome", "record_outcomes"])
    @pytest.mark.parametrize("claimer", ["claim_delivery", "claim_due"])
    def test_claim_racing_the_earlier_events_record_still_claims_the_next_seq(
        self, settings: Settings, session: Session, recorder: str, claimer: str
    ) -> None:
        source = new_source(session, "http://127.0.0.1:9/callbacks").source
        email = f"mod-{uuid.uuid4().hex[:8]}@example.org"  # the PostgreSQL database is shared
        moderator = User(email=email, password_hash="x", role="moderator")
        session.add(moderator)
        session.flush()
        first = decide(session, source, "cms-a")
        second = decide(session, source, "cms-a", moderator_id=moderator.id)
        with session_scope(settings) as s:
            claim = claim_delivery(s, first.id)
        assert isinstance(claim, Claim)
        results: list[object] = []

        def claim_second() -> None:
            with session_scope(settings) as s:
                if claimer == "claim_delivery":
                    results.append(claim_delivery(s, second.id))
                else:
                    batch = claim_due(s, source.id, 10)
                    results.append([c.event_id for c in batch.claims])

        with session_scope(settings) as recording:
            delivered = HttpOutcome(status_code=200, latency_ms=1.0)
            if recorder == "record_outcome":
                fate = record_outcome(recording, claim, delivered)
            else:
                (fate,) = record_outcomes(recording, [(claim, delivered)])
            assert fate.follow_up_ids == (second.id,)
            other = threading.Thread(target=claim_second)
            other.start()
            other.join(timeout=2)  # a claim that does not wait for the recorder is done by now
            recording.commit()
        other.join(timeout=30)

        assert not other.is_alive()
        (result,) = results
        if claimer == "claim_delivery":
            assert isinstance(result, Claim) and result.event_id == second.id
        else:
            assert result == [second.id]


@pytest.fixture
def sender(settings: Settings) -> Iterator[Celery]:
    yield create_celery(settings)
    client = redis.Redis.from_url(settings.redis_client_url)
    forget_queues(client, settings)
    client.close()


class TestQueueDelivery:
    def test_queue_delivery_queues_one_batch_per_source_while_armed(
        self, settings: Settings, session: Session, sender: Celery
    ) -> None:
        client = redis.Redis.from_url(settings.redis_client_url)
        source = new_source(session, "http://127.0.0.1:9/callbacks").source
        events = [decide(session, source, f"cms-{n}") for n in range(3)]
        try:
            sent = [queue_delivery(sender, e.id, source.id, settings) for e in events]
            while_armed = queued(client, settings.delivery_queue_name)
            client.delete(armed_key(settings, source.id))  # what the batch does when done
            queue_delivery(sender, events[0].id, source.id, settings)
            after = queued(client, settings.delivery_queue_name)
        finally:
            client.delete(armed_key(settings, source.id))
            client.close()

        assert sent == [True] * 3
        assert while_armed == [(DELIVER_DUE, [source.id])]
        assert after == [(DELIVER_DUE, [source.id])] * 2

    def test_queue_delivery_with_batch_size_zero_queues_one_task_per_event(
        self, settings: Settings, session: Session, sender: Celery
    ) -> None:
        settings = configure(**{**settings.model_dump(), "delivery_batch_size": 0})
        client = redis.Redis.from_url(settings.redis_client_url)
        source = new_source(session, "http://127.0.0.1:9/callbacks").source
        events: list[Event] = [decide(session, source, f"cms-{n}") for n in range(3)]

        for event in events:
            queue_delivery(sender, event.id, source.id, settings)

        assert queued(client, settings.delivery_queue_name) == [
            (DELIVER_EVENT, [e.id]) for e in events
        ]
        client.close()
