"""`moderation deliveries list|show|redeliver` against a real database and the real Redis."""

from __future__ import annotations

import json

import redis
from click.testing import CliRunner, Result
from sqlalchemy.orm import Session

from cli.main import cli
from core.db import session_scope
from core.domain import Status
from core.settings import Settings
from core.store import IncomingComment, create_source, record_decision
from core.tables import Event
from tests.comments import receive
from tests.receiver import Reply, running_receiver
from worker.delivery import run_delivery


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def dead_event(settings: Settings, session: Session) -> str:
    with running_receiver([Reply(410)]) as receiver:
        source = create_source(session, "Bugle", callback_url=receiver.url).source
        comment = receive(
            session,
            source.id,
            IncomingComment("cms-1", "article-1", "Reader", "r@example.org", "Nice piece."),
        )
        _, event = record_decision(session, comment, Status.APPROVED, actor="model", reasons=[])
        session.commit()
        run_delivery(event.id, settings)
    return event.id


class TestDeliveriesList:
    def test_deliveries_list_dead_shows_the_dead_event_and_its_error(
        self, settings: Settings, session: Session
    ) -> None:
        event_id = dead_event(settings, session)
        result = run("deliveries", "list", "--dead")
        assert result.exit_code == 0
        assert event_id in result.output and "dead" in result.output
        assert "HTTP 410" in result.output

    def test_deliveries_list_json_filters_by_state(
        self, settings: Settings, session: Session
    ) -> None:
        event_id = dead_event(settings, session)
        dead = json.loads(run("deliveries", "list", "--dead", "--json").output)
        delivered = json.loads(run("deliveries", "list", "--state", "delivered", "--json").output)
        assert [d["id"] for d in dead] == [event_id]
        assert dead[0]["last_status_code"] == 410
        assert delivered == []

    def test_deliveries_show_lists_every_attempt(
        self, settings: Settings, session: Session
    ) -> None:
        event_id = dead_event(settings, session)
        (attempt,) = json.loads(run("deliveries", "show", event_id, "--json").output)
        assert attempt["number"] == 1 and attempt["status_code"] == 410


class TestDeliveriesRedeliver:
    def test_deliveries_redeliver_resets_the_event_and_queues_it(
        self, settings: Settings, session: Session, broker: redis.Redis
    ) -> None:
        event_id = dead_event(settings, session)
        result = run("deliveries", "redeliver", event_id)
        assert result.exit_code == 0, result.output
        with session_scope(settings) as s:
            event = s.get(Event, event_id)
            assert event is not None and event.state == "pending"
        (message,) = broker.lrange(settings.delivery_queue_name, 0, -1)
        body = json.loads(message)
        assert body["headers"]["task"] == "worker.deliver_event"
        assert event_id in body["headers"]["argsrepr"]

    def test_deliveries_redeliver_refuses_a_pending_event(
        self, settings: Settings, session: Session
    ) -> None:
        event_id = dead_event(settings, session)
        run("deliveries", "redeliver", event_id)
        result = run("deliveries", "redeliver", event_id)
        assert result.exit_code == 1
        assert "still pending" in result.output

    def test_deliveries_redeliver_names_an_unknown_event(self, settings: Settings) -> None:
        result = run("deliveries", "redeliver", "msg_nope")
        assert result.exit_code == 1
        assert "no event with id 'msg_nope'" in result.output
