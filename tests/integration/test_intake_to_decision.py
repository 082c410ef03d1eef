"""A signed comment posted to the API reaches a decision through a real worker and real Redis."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from core.store import NewSource
from tests.integration.intake import decided_view, post_comment
from tests.integration.stored import BENIGN, TOXIC
from tests.integration.workers import WORDLIST_APP, StartWorker, wait_for

pytestmark = [
    pytest.mark.integration,
    pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True),
]


class TestIntakeToDecision:
    def test_intake_comment_reaches_decision_through_worker(
        self, client: FlaskClient, source: NewSource, start_worker: StartWorker
    ) -> None:
        start_worker(WORDLIST_APP)
        accepted = post_comment(client, source, TOXIC)
        assert accepted["status"] == "pending"
        view = wait_for(decided_view(client, source, accepted["id"]))
        assert view["status"] == "flagged"
        assert view["decision"]["actor"] == "model"
        assert view["decision"]["model_version"] == "wordlist-1"
        assert {r["label"] for r in view["decision"]["reasons"]} == {"toxic", "threat"}
        assert [TOXIC[a:b] for a, b in view["highlights"]] == ["pathetic", "idiot", "die"]

    def test_intake_edit_after_decision_is_scored_again(
        self, client: FlaskClient, source: NewSource, start_worker: StartWorker
    ) -> None:
        start_worker(WORDLIST_APP)
        comment_id = post_comment(client, source, BENIGN, external_id="cms-edited")["id"]
        assert wait_for(decided_view(client, source, comment_id))["status"] == "approved"
        edited = post_comment(client, source, TOXIC, external_id="cms-edited")
        assert edited["id"] == comment_id
        view = wait_for(decided_view(client, source, comment_id))
        assert view["status"] == "flagged"
        assert view["revision"] == 2
        assert [(d["revision"], d["status"]) for d in view["decisions"]] == [
            (1, "approved"),
            (2, "flagged"),
        ]
