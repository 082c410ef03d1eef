"""The shipped classifier in a real worker: plainly toxic and plainly benign land on their sides."""

from __future__ import annotations

import os
import signal

import pytest
import redis
from flask.testing import FlaskClient

from core.db import session_scope
from core.settings import Settings
from core.store import NewSource
from core.tables import Comment
from tests.integration.intake import decided_view, post_comment
from tests.integration.stored import (
    BENIGN,
    TOXIC,
    decided,
    decisions_of,
    queue_scoring,
    store_comment,
)
from tests.integration.workers import WorkerProcess, wait_for

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
class TestShippedModel:
    def test_shipped_model_flags_toxic_and_approves_benign(
        self, client: FlaskClient, source: NewSource, celery_worker: WorkerProcess
    ) -> None:
        toxic = post_comment(client, source, TOXIC)["id"]
        benign = post_comment(client, source, BENIGN)["id"]
        toxic_view = wait_for(decided_view(client, source, toxic))
        benign_view = wait_for(decided_view(client, source, benign))
        assert toxic_view["status"] in {"flagged", "rejected"}
        assert "toxic" in {r.get("label") for r in toxic_view["decision"]["reasons"]}
        assert toxic_view["highlights"], "a moderator sees what made it toxic"
        assert benign_view["status"] == "approved"
        assert benign_view["decision"]["model_version"] == toxic_view["decision"]["model_version"]

    def test_worker_stores_why_it_flagged_and_nothing_for_approvals(
        self,
        client: FlaskClient,
        settings: Settings,
        source: NewSource,
        celery_worker: WorkerProcess,
    ) -> None:
        toxic = post_comment(client, source, TOXIC)["id"]
        benign = post_comment(client, source, BENIGN)["id"]
        wait_for(decided_view(client, source, toxic))
        wait_for(decided_view(client, source, benign))
        with session_scope(settings) as session:
            flagged = session.get_one(Comment, toxic)
            approved = session.get_one(Comment, benign)
            assert flagged.status in {"flagged", "rejected"}
            explanation, words_of = flagged.explanation, flagged.body
            assert approved.status == "approved"
            assert approved.explanation is None
        assert explanation is not None
        words = [words_of[start:end].lower() for start, end, _ in explanation["toxic"]]
        assert {"idiot", "pathetic"} <= set(words[:3]), words
        weights = [weight for _, _, weight in explanation["toxic"]]
        assert weights == sorted(weights, reverse=True) and weights[-1] > 0


class TestModelWorkerRecovery:
    @pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
    def test_replacement_pool_process_loads_model_and_decides(
        self, settings: Settings, celery_worker: WorkerProcess, redis_client: redis.Redis
    ) -> None:
        # The pool process dies holding the message; its replacement must survive its own
        # (slow) model load (Celery kills a process that is not "up" within its alive timeout).
        [child] = celery_worker.child_pids()
        os.kill(child, signal.SIGSTOP)
        comment_id = store_comment(settings, TOXIC)
        queue_scoring(settings, comment_id)
        wait_for(lambda: redis_client.llen(settings.queue_name) == 0)
        os.kill(child, signal.SIGKILL)
        assert wait_for(lambda: decided(settings, comment_id), timeout=120) in {
            "flagged",
            "rejected",
        }
        assert decisions_of(settings, comment_id)[0][2] == "model"
        assert len(decisions_of(settings, comment_id)) == 1
        assert "Timed out waiting for UP" not in celery_worker.log_text()
