"""Callback delivery against a real HTTP receiver and a real database, with an explicit clock."""

from __future__ import annotations

import json
import random
import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from core.db import session_scope
from core.deliveries import (
    BREAKER_COOLDOWNS,
    BREAKER_THRESHOLD,
    MAX_ATTEMPTS,
    RETRY_DELAYS,
    RETRY_JITTER,
    Claim,
    RedeliveryRefused,
    Skip,
    Verdict,
    claim_delivery,
    due_event_ids,
    list_deliveries,
    parse_retry_after,
    redeliver,
    retry_delay,
)
from core.domain import Status
from core.reasons import ScoreReason
from core.settings import Settings
from core.sources import SourceChanges, rotate_secret, update_source
from core.store import NewSource, create_source, record_decision
from core.tables import DeliveryAttempt, Event, Source, User
from tests.comments import incoming, receive
from tests.receiver import Reply, running_receiver
from worker.delivery import budgeted_timeouts, post_event, run_delivery

BOTH = pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)


def new_source(session: Session, callback_url: str | None) -> NewSource:
    created = create_source(session, "Daily Bugle", callback_url=callback_url)
    session.commit()
    return created


def decide(
    session: Session,
    source: Source,
    external_id: str = "cms-1",
    status: Status = Status.FLAGGED,
    moderator_id: int | None = None,
) -> Event:
    comment = receive(
        session,
        source.id,
        incoming("The council should publish the budget before the vote.", external_id),
    )
    _, event = record_decision(
        session,
        comment,
        status,
        actor="moderator" if moderator_id is not None else "model",
        reasons=[ScoreReason(label="toxic", score=0.7, threshold=0.5, outcome=status.value)],
        scores={"toxic": 0.7, "identity_hate": 0.01, "threat": 0.01, "spam": 0.02},
        model_version=None if moderator_id is not None else "test-model-1",
        moderator_id=moderator_id,
    )
    session.commit()
    return event


def attempts(settings: Settings, event_id: str) -> list[DeliveryAttempt]:
    with session_scope(settings) as s:
        return list(
            s.scalars(
                select(DeliveryAttempt)
                .where(DeliveryAttempt.event_id == event_id)
                .order_by(DeliveryAttempt.number)
            )
        )


def event_row(settings: Settings, event_id: str) -> Event:
    with session_scope(settings) as s:
        event = s.get(Event, event_id)
        assert event is not None
        return event


def later(seconds: float = 0) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


class TestRunDelivery:
    @BOTH
    def test_run_delivery_posts_payload_signed_per_standard_webhooks(
        self, settings: Settings, session: Session
    ) -> None:
        with running_receiver() as receiver:
            created = new_source(session, receiver.url)
            event = decide(session, created.source)

            run = run_delivery(event.id, settings)

        assert run.recorded is not None and run.recorded.verdict is Verdict.DELIVERED
        (request,) = receiver.requests
        assert request.headers["webhook-id"] == event.id
        payload = Webhook(created.secret).verify(request.body, request.headers)
        assert payload == event.payload
        assert payload["type"] == "comment.flagged"
        assert payload["data"]["external_id"] == "cms-1"
        assert payload["data"]["seq"] == 1
        assert event_row(settings, event.id).state == "delivered"

    @BOTH
    def test_run_delivery_fails_n_times_then_delivers_once(
        self, settings: Settings, session: Session
    ) -> None:
        failures = [Reply(500), Reply(502), Reply(503)]
        with running_receiver(failures) as receiver:
            event = decide(session, new_source(session, receiver.url).source)
            now = later()
            verdicts = []
            for _ in range(len(failures) + 1):
                run = run_delivery(event.id, settings, now=now)
                assert run.recorded is not None
                verdicts.append(run.recorded.verdict)
                if run.recorded.next_attempt_at is not None:
                    # Before it is due nothing is sent; once due, the next attempt goes.
                    early = run_delivery(event.id, settings, now=now + timedelta(seconds=1))
                    assert early.skipped is Skip.NOT_DUE
                    now = run.recorded.next_attempt_at + timedelta(seconds=1)
            again = run_delivery(event.id, settings, now=now + timedelta(days=2))

            assert verdicts == [Verdict.RETRY] * 3 + [Verdict.DELIVERED]
            assert again.skipped is Skip.FINISHED
            assert len(receiver.requests) == 4
        logged = attempts(settings, event.id)
        assert [a.number for a in logged] == [1, 2, 3, 4]
        assert [a.status_code for a in logged] == [500, 502, 503, 200]
        assert all(a.latency_ms is not None and a.latency_ms >= 0 for a in logged)
        assert logged[0].error == "HTTP 500"
        assert event_row(settings, event.id).state == "delivered"

    def test_run_delivery_backs_off_on_the_schedule(
        self, settings: Settings, session: Session
    ) -> None:
        with running_receiver(default=Reply(503)) as receiver:
            event = decide(session, new_source(session, receiver.url).source)
            now = later()
            gaps = []
            for _ in range(3):
                run = run_delivery(event.id, settings, now=now)
                assert run.recorded is not None and run.recorded.next_attempt_at is not None
                gaps.append(run.recorded.next_attempt_at - now)
                now = run.recorded.next_attempt_at
        for gap, base in zip(gaps, RETRY_DELAYS, strict=False):
            assert base * (1 - RETRY_JITTER) <= gap <= base * (1 + RETRY_JITTER)

    @BOTH
    def test_run_delivery_marks_gone_endpoint_dead_after_one_attempt(
        self, settings: Settings, session: Session
    ) -> None:
        with running_receiver(default=Reply(410)) as receiver:
            event = decide(session, new_source(session, receiver.url).source)
            first = run_delivery(event.id, settings)
            second = run_delivery(event.id, settings, now=later(86400 * 2))
            assert len(receiver.requests) == 1
        assert first.recorded is not None and first.recorded.verdict is Verdict.DEAD
        assert second.skipped is Skip.FINISHED
        assert event_row(settings, event.id).state == "dead"
        assert len(attempts(settings, event.id)) == 1

    @pytest.mark.parametrize(
        ("status", "verdict"),
        [
            (408, Verdict.RETRY),
            (409, Verdict.RETRY),
            (425, Verdict.RETRY),
            (429, Verdict.RETRY),
            (500, Verdict.RETRY),
            (503, Verdict.RETRY),
            (400, Verdict.DEAD),
            (401, Verdict.DEAD),
            (404, Verdict.DEAD),
            (422, Verdict.DEAD),
            (204, Verdict.DELIVERED),
        ],
    )
    def test_run_delivery_classifies_status(
        self, settings: Settings, session: Session, status: int, verdict: Verdict
    ) -> None:
        with running_receiver([Reply(status)]) as receiver:
            event = decide(session, new_source(session, receiver.url).source)
            run = run_delivery(event.id, settings)
        assert run.recorded is not None and run.recorded.verdict is verdict

    @pytest.mark.parametrize("header", ["120", "http-date"])
    def test_run_delivery_honours_retry_after(
        self, settings: Settings, session: Session, header: str
    ) -> None:
        with running_receiver() as receiver:
            event = decide(session, new_source(session, receiver.url).source)
            # The clock starts once the event exists (and is due), however slow the machine.
            now = later(1).replace(microsecond=0)
            value = (
                header
                if header != "http-date"
                else format_datetime(now + timedelta(seconds=120), usegmt=True)
            )
            receiver.replies.append(Reply(429, {"Retry-After": value}))
            run = run_delivery(event.id, settings, now=now)
        assert run.recorded is not None and run.recorded.verdict is Verdict.RETRY
        assert run.recorded.next_attempt_at is not None
        wait = (run.recorded.next_attempt_at - now).total_seconds()
        # The HTTP-date form is read against the real clock when the answer arrives, so a slow
        # run shortens the wait; either way it is the header's two minutes, not the schedule's 5 s.
        assert 60 <= wait <= 121
        assert attempts(settings, event.id)[0].status_code == 429

    def test_run_delivery_treats_refused_connection_as_retryable(
        self, settings: Settings, session: Session
    ) -> None:
        with running_receiver() as receiver:
            closed_url = receiver.url
        event = decide(session, new_source(session, closed_url).source)
        run = run_delivery(event.id, settings)
        assert run.recorded is not None and run.recorded.verdict is Verdict.RETRY
        (attempt,) = attempts(settings, event.id)
        assert attempt.status_code is None
        assert attempt.error is not None and "ConnectError" in attempt.error

    def test_run_delivery_is_dead_after_the_last_scheduled_attempt(
        self, settings: Settings, session: Session
    ) -> None:
        with running_receiver(default=Reply(500)) as receiver:
            event = decide(session, new_source(session, receiver.url).source)
            now = later()
            verdicts = []
            for _ in range(MAX_ATTEMPTS):
                run = run_delivery(event.id, settings, now=now)
                assert run.recorded is not None
                verdicts.append(run.recorded.verdict)
                now = (run.recorded.next_attempt_at or now) + timedelta(seconds=1)
            after = run_delivery(event.id, settings, now=now + timedelta(days=3))
            assert len(receiver.requests) == MAX_ATTEMPTS
        assert verdicts == [Verdict.RETRY] * (MAX_ATTEMPTS - 1) + [Verdict.DEAD]
        assert after.skipped is Skip.FINISHED
        dead = list_deliveries(session, state="dead")
        assert [d.id for d in dead] == [event.id]
        assert dead[0].attempts == MAX_ATTEMPTS and dead[0].last_status_code == 500

    def test_run_delivery_skips_event_of_source_without_callback_url(
        self, settings: Settings, session: Session
    ) -> None:
        created = new_source(session, None)
        event = decide(session, created.source)
        run = run_delivery(event.id, settings)
        assert run.skipped is Skip.NO_CALLBACK_URL
        assert event.id not in due_event_ids(session, later(3600))
        with running_receiver() as receiver:
            update_source(session, created.source.id, SourceChanges(callback_url=receiver.url))
            session.commit()
            assert event.id in due_event_ids(session, later(1))
            delivered = run_delivery(event.id, settings, now=later(1))
            assert len(receiver.requests) == 1
        assert delivered.recorded is not None and delivered.recorded.verdict is Verdict.DELIVERED


class TestRedeliver:
    @BOTH
    def test_redeliver_sends_dead_event_again_and_appends_attempts(
        self, settings: Settings, session: Session
    ) -> None:
        with running_receiver([Reply(410)]) as receiver:
            event = decide(session, new_source(session, receiver.url).source)
            run_delivery(event.id, settings)
            with session_scope(settings) as s:
                redeliver(s, event.id)
            run = run_delivery(event.id, settings)
            assert len(receiver.requests) == 2
        assert run.recorded is not None and run.recorded.verdict is Verdict.DELIVERED
        assert [(a.number, a.status_code) for a in attempts(settings, event.id)] == [
            (1, 410),
            (2, 200),
        ]

    def test_redeliver_restarts_the_retry_budget(
        self, settings: Settings, session: Session
    ) -> None:
        with running_receiver(default=Reply(500)) as receiver:
            event = decide(session, new_source(session, receiver.url).source)
            now = later()
            for _ in range(MAX_ATTEMPTS):
                run = run_delivery(event.id, settings, now=now)
                assert run.recorded is not None
                now = (run.recorded.next_attempt_at or now) + timedelta(seconds=1)
            with session_scope(settings) as s:
                redeliver(s, event.id, now=now)
            run = run_delivery(event.id, settings, now=now)
        assert run.recorded is not None and run.recorded.verdict is Verdict.RETRY

    def test_redeliver_refuses_pending_event(self, settings: Settings, session: Session) -> None:
        event = decide(session, new_source(session, "http://127.0.0.1:9/cb").source)
        with pytest.raises(RedeliveryRefused):
            redeliver(session, event.id)


class TestClaimDelivery:
    @BOTH
    def test_claim_delivery_lets_only_one_run_post(
        self, settings: Settings, session: Session
    ) -> None:
        event = decide(session, new_source(session, "http://127.0.0.1:9/cb").source)
        with session_scope(settings) as s:
            first = claim_delivery(s, event.id)
        with session_scope(settings) as s:
            second = claim_delivery(s, event.id)
        assert isinstance(first, Claim) and first.number == 1
        assert second is Skip.NOT_DUE

    @pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
    def test_run_delivery_concurrent_runs_post_once(
        self, settings: Settings, session: Session
    ) -> None:
        with running_receiver() as receiver:
            event = decide(session, new_source(session, receiver.url).source)
            start = threading.Barrier(4)
            runs = []

            def run() -> None:
                start.wait()
                runs.append(run_delivery(event.id, settings))

            threads = [threading.Thread(target=run) for _ in range(4)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert len(receiver.requests) == 1
        assert sum(1 for r in runs if r.recorded is not None) == 1
        assert len(attempts(settings, event.id)) == 1


class TestOrdering:
    @BOTH
    def test_model_flag_then_moderator_approve_arrive_in_seq_order(
        self, settings: Settings, session: Session
    ) -> None:
        with running_receiver() as receiver:
            source = new_source(session, receiver.url).source
            moderator = User(email="mod@example.org", password_hash="x", role="moderator")
            session.add(moderator)
            session.flush()
            flagged = decide(session, source, status=Status.FLAGGED)
            approved = decide(session, source, status=Status.APPROVED, moderator_id=moderator.id)
            # The moderator's event is picked up first: it waits for the model's.
            waiting = run_delivery(approved.id, settings)
            first = run_delivery(flagged.id, settings)
            assert first.recorded is not None
            assert first.recorded.follow_up_ids == (approved.id,)
            second = run_delivery(approved.id, settings)
            bodies = [json.loads(r.body) for r in receiver.requests]
        assert waiting.skipped is Skip.WAITING_FOR_EARLIER
        assert second.recorded is not None and second.recorded.verdict is Verdict.DELIVERED
        assert [(b["type"], b["data"]["seq"], b["data"]["decided_by"]["kind"]) for b in bodies] == [
            ("comment.flagged", 1, "model"),
            ("comment.approved", 2, "moderator"),
        ]

    @pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
    def test_an_earlier_event_settled_while_a_later_one_is_claimed_does_not_park_it(
        self, settings: Settings, session: Session, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The later event's claim read the earlier one as pending; that one is delivered (its
        re-arming finds nothing deferred) before the later claim writes: the later event must
        go now, not wait CLAIM_LEASE for a sweep. (SQLite reads outside the write lock; on
        PostgreSQL the claim locks the earlier event, so this interleaving cannot happen.)"""
        import core.deliveries as deliveries

        with running_receiver() as receiver:
            source = new_source(session, receiver.url).source
            moderator = User(email="mod@example.org", password_hash="x", role="moderator")
            session.add(moderator)
            session.flush()
            flagged = decide(session, source, status=Status.FLAGGED)
            approved = decide(session, source, status=Status.APPROVED, moderator_id=moderator.id)
            read_earlier = deliveries._earlier_pending
            settled: list[object] = []

            def earlier_then_settled(s: Session, event: Event) -> Event | None:
                found = read_earlier(s, event)
                if event.id == approved.id and not settled:
                    settled.append(run_delivery(flagged.id, settings).recorded)
                return found

            monkeypatch.setattr(deliveries, "_earlier_pending", earlier_then_settled)
            with session_scope(settings) as s:
                claim = claim_delivery(s, approved.id)
        assert settled and settled[0] is not None
        assert isinstance(claim, Claim), claim
        assert claim.seq == 2


class TestSecretRotation:
    def test_rotation_signs_with_both_secrets_during_overlap_only(
        self, settings: Settings, session: Session
    ) -> None:
        with running_receiver() as receiver:
            created = new_source(session, receiver.url)
            rotation = rotate_secret(session, created.source.id, timedelta(hours=24))
            session.commit()
            during = decide(session, created.source, external_id="during")
            run_delivery(during.id, settings)
            after = decide(session, created.source, external_id="after")
            run_delivery(after.id, settings, now=later(25 * 3600))
            during_request, after_request = receiver.requests
        assert rotation.secret != created.secret
        for secret in (created.secret, rotation.secret):
            Webhook(secret).verify(during_request.body, during_request.headers)
        Webhook(rotation.secret).verify(after_request.body, after_request.headers)
        with pytest.raises(WebhookVerificationError):
            Webhook(created.secret).verify(after_request.body, after_request.headers)


class TestCircuitBreaker:
    @BOTH
    def test_circuit_breaker_parks_failing_source_and_spares_others(
        self, settings: Settings, session: Session
    ) -> None:
        with (
            running_receiver(default=Reply(503)) as failing,
            running_receiver() as healthy,
        ):
            bad = new_source(session, failing.url).source
            good = new_source(session, healthy.url).source
            bad_events = [decide(session, bad, external_id=f"b{i}") for i in range(8)]
            good_events = [decide(session, good, external_id=f"g{i}") for i in range(3)]
            now = later()
            bad_runs = [run_delivery(e.id, settings, now=now) for e in bad_events]
            good_runs = [run_delivery(e.id, settings, now=now) for e in good_events]

            assert len(failing.requests) == BREAKER_THRESHOLD
            assert [r.skipped for r in bad_runs[BREAKER_THRESHOLD:]] == [Skip.CIRCUIT_OPEN] * 3
            assert all(
                r.recorded is not None and r.recorded.verdict is Verdict.DELIVERED
                for r in good_runs
            )
            parked = event_row(settings, bad_events[-1].id)
            assert parked.attempts == 0
            assert parked.next_attempt_at is not None and parked.next_attempt_at > now

            # After the cooldown one probe goes; it succeeds and the breaker closes.
            failing.default = Reply(200)
            reopen = now + BREAKER_COOLDOWNS[0] + timedelta(seconds=RETRY_DELAYS[0].seconds * 2)
            probe = run_delivery(bad_events[-1].id, settings, now=reopen)
            rest = [run_delivery(e.id, settings, now=reopen) for e in bad_events[5:7]]
        assert probe.recorded is not None and probe.recorded.verdict is Verdict.DELIVERED
        assert all(r.recorded is not None for r in rest)
        with session_scope(settings) as s:
            refreshed = s.get(Source, bad.id)
            assert refreshed is not None and refreshed.consecutive_failures == 0

    def test_circuit_breaker_lets_one_probe_through_at_a_time(
        self, settings: Settings, session: Session
    ) -> None:
        with running_receiver(default=Reply(503)) as failing:
            source = new_source(session, failing.url).source
            events = [decide(session, source, external_id=f"e{i}") for i in range(7)]
            now = later()
            for event in events[:BREAKER_THRESHOLD]:
                run_delivery(event.id, settings, now=now)
            reopen = now + timedelta(hours=1)
            with session_scope(settings) as s:
                probe = claim_delivery(s, events[5].id, now=reopen)
            with session_scope(settings) as s:
                other = claim_delivery(s, events[6].id, now=reopen)
        assert isinstance(probe, Claim)
        assert other is Skip.CIRCUIT_OPEN


def claim_for(url: str) -> Claim:
    return Claim(
        event_id="msg_x",
        source_id="src_x",
        comment_id="cmt_x",
        seq=1,
        number=1,
        url=url,
        secrets=("whsec_" + "A" * 44,),
        payload={"type": "comment.approved"},
        claimed_at=later(),
    )


class TestPostEvent:
    def test_post_event_reports_refused_connection_without_raising(self) -> None:
        with running_receiver() as receiver:
            url = receiver.url
        outcome = post_event(claim_for(url))
        assert outcome.status_code is None and outcome.retryable

    def test_post_event_gives_up_on_an_endpoint_slower_than_the_budget(self) -> None:
        with running_receiver([Reply(200, delay=2.0)]) as receiver:
            outcome = post_event(claim_for(receiver.url), total_timeout=0.5)
        assert outcome.status_code is None and outcome.retryable
        assert outcome.error is not None and "Timeout" in outcome.error

    def test_budgeted_timeouts_shrink_to_the_time_left(self) -> None:
        timeouts, trace = budgeted_timeouts(total=0.05, connect=5.0)
        assert timeouts == {"connect": 5.0, "write": 0.05, "read": 0.05, "pool": 5.0}
        time.sleep(0.1)
        trace("http11.receive_response_headers.started", {})
        assert set(timeouts.values()) == {0.001}


class TestRetrySchedule:
    def test_retry_delay_stays_within_jitter_of_the_schedule(self) -> None:
        rng = random.Random(7)
        for failures, base in enumerate(RETRY_DELAYS, start=1):
            delay = retry_delay(failures, rng)
            assert base * (1 - RETRY_JITTER) <= delay <= base * (1 + RETRY_JITTER)

    def test_retry_schedule_spans_about_a_day(self) -> None:
        assert timedelta(hours=20) <= sum(RETRY_DELAYS, timedelta()) <= timedelta(hours=30)

    @pytest.mark.parametrize(
        ("value", "seconds"),
        [("30", 30), ("0", 0), (None, None), ("soon", None), ("", None)],
    )
    def test_parse_retry_after_reads_seconds(self, value: str | None, seconds: int | None) -> None:
        parsed = parse_retry_after(value)
        assert (parsed.total_seconds() if parsed is not None else None) == seconds

    def test_parse_retry_after_reads_http_date(self) -> None:
        now = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)
        parsed = parse_retry_after("Wed, 25 Nov 2026 12:02:00 GMT", now=now)
        assert parsed == timedelta(minutes=2)
