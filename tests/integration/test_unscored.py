"""The scorer down for real: a worker stopped, a comment posted, the sweeper run without any
worker, then a worker started again (fail-open and fail-closed, issue 21 item 5)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import redis
from flask.testing import FlaskClient
from standardwebhooks import Webhook

from core.db import session_scope
from core.review import QueueFilters, list_queue
from core.settings import Settings
from core.sources import SourceChanges, update_source
from core.store import NewSource
from tests.integration.intake import post_comment
from tests.integration.stored import BENIGN, TOXIC, decisions_of, point_callbacks_at, status_of
from tests.integration.workers import WORDLIST_APP, StartWorker, wait_for
from tests.receiver import Receiver, running_receiver
from worker.app import create_celery
from worker.sweeper import lease_key, sweep_once

pytestmark = pytest.mark.integration

WAIT_SECONDS = 1


def unscored_source(settings: Settings, source: NewSource, mode: str) -> None:
    with session_scope(settings) as session:
        update_source(
            session,
            source.source.id,
            SourceChanges(unscored_mode=mode, unscored_wait_seconds=WAIT_SECONDS),
        )


def sweep_without_workers(settings: Settings, client: redis.Redis) -> None:
    """One sweep from this process (no worker up), as the beat runs it."""
    client.delete(lease_key(settings))
    assert sweep_once(settings, create_celery(settings), client) is not None


def callbacks_for(receiver: Receiver, source: NewSource, comment_id: str) -> list[dict[str, Any]]:
    """The verified callback payloads about one comment, in the order they arrived."""
    payloads = [Webhook(source.secret).verify(r.body, r.headers) for r in receiver.requests]
    return [p for p in payloads if p["data"].get("id") == comment_id]


def unscored_tab(settings: Settings) -> list[str]:
    """Comment ids in the moderators' Unscored tab (as a moderator holding no claim sees it)."""
    with session_scope(settings) as session:
        page = list_queue(session, QueueFilters(unscored=True, per_page=100), viewer_id=0)
        return [c.id for c in page.items]


@dataclass(frozen=True)
class Outage:
    """What one comment went through while the scorer was down and after it came back."""

    comment_id: str
    status_while_down: str
    listed_while_down: bool
    payloads: list[dict[str, Any]]


@pytest.fixture
def outage(
    settings: Settings,
    client: FlaskClient,
    source: NewSource,
    start_worker: StartWorker,
    redis_client: redis.Redis,
) -> Callable[[str], Outage]:
    """Run a scorer outage at a source in `mode`: a worker decides one comment and stops; a
    toxic comment is posted, the wait passes, the sweeper runs with no worker up; a worker
    starts again, and both callbacks about the comment arrive (then one more sweep, to see
    that nothing else does)."""

    def run(mode: str) -> Outage:
        unscored_source(settings, source, mode)
        with running_receiver() as receiver:
            point_callbacks_at(settings, source, receiver)
            worker = start_worker(WORDLIST_APP)
            first = post_comment(client, source, BENIGN)["id"]
            wait_for(lambda: status_of(settings, first) != "pending", timeout=30)
            worker.stop()

            comment_id = post_comment(client, source, TOXIC)["id"]
            time.sleep(WAIT_SECONDS + 0.5)
            sweep_without_workers(settings, redis_client)
            status_while_down = status_of(settings, comment_id)
            listed_while_down = comment_id in unscored_tab(settings)

            start_worker(WORDLIST_APP)
            wait_for(lambda: len(callbacks_for(receiver, source, comment_id)) >= 2, timeout=60)
            sweep_without_workers(settings, redis_client)
            time.sleep(1)
            payloads = callbacks_for(receiver, source, comment_id)
        return Outage(comment_id, status_while_down, listed_while_down, payloads)

    return run


class TestScorerDown:
    @pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
    def test_fail_open_approves_provisionally_then_the_model_decides_again(
        self, settings: Settings, outage: Callable[[str], Outage]
    ) -> None:
        seen = outage("fail-open")
        assert (seen.status_while_down, seen.listed_while_down) == ("approved", True)
        final = status_of(settings, seen.comment_id)
        assert final in ("flagged", "rejected")
        # The model decided this revision once, after the provisional approval.
        assert decisions_of(settings, seen.comment_id) == [
            (1, "approved", "system"),
            (1, final, "model"),
        ]
        payloads = seen.payloads
        assert [(p["type"], p["data"]["seq"], p["data"]["provisional"]) for p in payloads] == [
            ("comment.approved", 1, True),
            (f"comment.{final}", 2, False),
        ]
        assert payloads[0]["data"]["reasons"] == [
            {"kind": "unscored", "wait_seconds": WAIT_SECONDS, "outcome": "approved"}
        ]
        assert payloads[1]["data"]["reasons"][-1]["kind"] == "replaces_provisional"
        assert seen.comment_id not in unscored_tab(settings)

    @pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
    def test_fail_closed_holds_pending_until_a_worker_is_back(
        self, settings: Settings, outage: Callable[[str], Outage]
    ) -> None:
        seen = outage("fail-closed")
        assert (seen.status_while_down, seen.listed_while_down) == ("pending", True)
        final = status_of(settings, seen.comment_id)
        assert final in ("flagged", "rejected")
        assert decisions_of(settings, seen.comment_id) == [
            (1, "pending", "system"),
            (1, final, "model"),
        ]
        assert [(p["type"], p["data"]["seq"], p["data"]["status"]) for p in seen.payloads] == [
            ("comment.unscored", 1, "pending"),
            (f"comment.{final}", 2, final),
        ]
        assert seen.comment_id not in unscored_tab(settings)
