"""The shipped classifier in a real worker: plainly toxic and plainly benign land on their sides."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from core.store import NewSource
from tests.integration.intake import decided_view, post_comment
from tests.integration.stored import BENIGN, TOXIC
from tests.integration.workers import WorkerProcess, wait_for

pytestmark = [
    pytest.mark.integration,
    pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True),
]


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
