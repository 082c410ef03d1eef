"""Transient and permanent failures in a real worker: retried with backoff, or dropped once."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy.engine import make_url

from core.settings import Settings
from core.tasks import SCORE_COMMENT
from service.queue import create_client
from tests.integration.stored import TOXIC, decided, decisions_of, store_comment
from tests.integration.workers import WORDLIST_APP, StartWorker, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def refuse_connections(settings: Settings) -> Iterator[psycopg.Connection]:
    """An admin connection that can close the test database to new connections (and reopens it)."""
    url = make_url(settings.database_url)
    admin = url.set(database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as connection:
        yield connection
        connection.execute(f'ALTER DATABASE "{url.database}" WITH ALLOW_CONNECTIONS true')


class TestScoreCommentFaults:
    @pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
    def test_score_comment_retries_while_database_refuses_connections(
        self,
        settings: Settings,
        start_worker: StartWorker,
        refuse_connections: psycopg.Connection,
    ) -> None:
        database = make_url(settings.database_url).database
        comment_id = store_comment(settings, TOXIC)
        # A fresh worker has not connected to the database yet; now it cannot.
        worker = start_worker(WORDLIST_APP)
        refuse_connections.execute(f'ALTER DATABASE "{database}" WITH ALLOW_CONNECTIONS false')
        create_client(settings).send_task(SCORE_COMMENT, args=[comment_id])
        wait_for(lambda: "Retry in" in worker.log_text())
        refuse_connections.execute(f'ALTER DATABASE "{database}" WITH ALLOW_CONNECTIONS true')
        assert wait_for(lambda: decided(settings, comment_id), timeout=30) == "flagged"
        assert decisions_of(settings, comment_id) == [(1, "flagged", "model")]
        assert "OperationalError" in worker.log_text()

    @pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
    def test_score_comment_missing_comment_is_not_retried(
        self, settings: Settings, start_worker: StartWorker
    ) -> None:
        worker = start_worker(WORDLIST_APP)
        create_client(settings).send_task(SCORE_COMMENT, args=["cmt_missing"])
        wait_for(lambda: "succeeded in" in worker.log_text())
        log = worker.log_text()
        assert "comment not found" in log and "cmt_missing" in log
        assert "Retry in" not in log
