"""Signed comment in, signed decision out: intake -> real Celery worker -> CMS callback receiver."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from standardwebhooks import Webhook

from core.db import session_scope
from core.settings import Settings
from core.sources import rotate_secret
from core.store import NewSource
from core.tables import DeliveryAttempt, Event, Source
from tests.integration.intake import post_comment
from tests.integration.stored import point_callbacks_at
from tests.integration.workers import WORDLIST_APP, StartWorker, wait_for
from tests.receiver import Reply, running_receiver

pytestmark = pytest.mark.integration

BENIGN = "Thanks for the clear reporting on the council budget."
TOXIC = "You are a pathetic idiot, shut up and die"


def events_of(settings: Settings, comment_id: str) -> list[Event]:
    with session_scope(settings) as session:
        return list(
            session.scalars(select(Event).where(Event.comment_id == comment_id).order_by(Event.seq))
        )


def attempts_of(settings: Settings, event_id: str) -> list[DeliveryAttempt]:
    with session_scope(settings) as session:
        return list(
            session.scalars(
                select(DeliveryAttempt)
                .where(DeliveryAttempt.event_id == event_id)
                .order_by(DeliveryAttempt.number)
            )
        )


class TestCallbacksThroughWorker:
    @pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
    def test_callbacks_deliver_signed_decisions_through_a_real_worker(
        self,
        settings: Settings,
        client: FlaskClient,
        source: NewSource,
        start_worker: StartWorker,
    ) -> None:
        with running_receiver() as receiver:
            point_callbacks_at(settings, source, receiver)
            start_worker(WORDLIST_APP)
            benign = post_comment(client, source, BENIGN)["id"]
            toxic = post_comment(client, source, TOXIC)["id"]

            wait_for(lambda: len(receiver.requests) >= 2, timeout=60)
            payloads = {}
            for request in receiver.requests:
                payload = Webhook(source.secret).verify(request.body, request.headers)
                payloads[payload["data"]["id"]] = payload

        assert payloads[benign]["type"] == "comment.approved"
        assert payloads[toxic]["type"] in ("comment.flagged", "comment.rejected")
        assert payloads[toxic]["data"]["decided_by"]["kind"] == "model"
        assert payloads[toxic]["data"]["decided_by"]["model_version"]
        for comment_id in (benign, toxic):
            (event,) = events_of(settings, comment_id)
            assert event.state == "delivered"
            assert [a.status_code for a in attempts_of(settings, event.id)] == [200]

    def test_callbacks_retry_a_failed_delivery_through_the_worker(
        self,
        settings: Settings,
        client: FlaskClient,
        source: NewSource,
        start_worker: StartWorker,
    ) -> None:
        with running_receiver([Reply(503)]) as receiver:
            point_callbacks_at(settings, source, receiver)
            start_worker(WORDLIST_APP)
            comment_id = post_comment(client, source, BENIGN)["id"]

            # The first retry is due about 5 s later, queued by the task itself (countdown).
            wait_for(lambda: len(receiver.requests) >= 2, timeout=60)
            first, second = receiver.requests[:2]

        assert first.headers["webhook-id"] == second.headers["webhook-id"]
        (event,) = events_of(settings, comment_id)
        wait_for(lambda: events_of(settings, comment_id)[0].state == "delivered", timeout=10)
        assert [a.status_code for a in attempts_of(settings, event.id)] == [503, 200]
        assert json.loads(second.body)["data"]["id"] == comment_id


class TestSecretRotationAtIntake:
    def test_intake_accepts_the_old_secret_only_during_the_overlap(
        self, settings: Settings, client: FlaskClient, source: NewSource
    ) -> None:
        with session_scope(settings) as session:
            rotation = rotate_secret(session, source.source.id, timedelta(hours=1))
        new = NewSource(source=source.source, secret=rotation.secret, token=source.token)

        assert post_comment(client, source, "Signed with the old secret.")["status"] == "pending"
        assert post_comment(client, new, "Signed with the new secret.")["status"] == "pending"

        with session_scope(settings) as session:
            row = session.get_one(Source, source.source.id)
            row.previous_secret_expires_at = datetime.now(UTC) - timedelta(seconds=1)
        with pytest.raises(AssertionError, match="401"):
            post_comment(client, source, "The overlap is over.")
