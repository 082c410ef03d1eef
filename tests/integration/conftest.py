"""Real Celery workers for integration tests: subprocesses consuming this test's own Redis queue.

No eager mode and no in-process worker: each worker is `python -m celery ... worker --pool
prefork`, started with the test's settings in its environment and stopped (SIGTERM, then
SIGKILL of its whole process group) at teardown.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from flask.testing import FlaskClient

from core.db import session_scope
from core.settings import Settings
from core.store import NewSource, create_source
from service import create_app
from tests.integration.workers import (
    MODEL_APP,
    StartWorker,
    WorkerProcess,
    forget_queues,
    worker_starter,
)


@pytest.fixture
def redis_client(settings: Settings) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(settings.redis_client_url)
    yield client
    forget_queues(client, settings)
    client.close()


@pytest.fixture
def start_worker(
    settings: Settings, redis_client: redis.Redis, tmp_path: Path
) -> Iterator[StartWorker]:
    """Start real workers on this test's queue; each is stopped at teardown."""
    with worker_starter(settings, redis_client, tmp_path, MODEL_APP) as start:
        yield start


@pytest.fixture
def celery_worker(start_worker: StartWorker) -> WorkerProcess:
    """One ready worker with the shipped model, consuming this test's queue."""
    return start_worker(MODEL_APP)


@pytest.fixture
def client(settings: Settings) -> FlaskClient:
    """The API on the test's database and queue (it queues to the real Redis)."""
    return create_app({"TESTING": True}, settings=settings).test_client()


@pytest.fixture
def source(settings: Settings) -> NewSource:
    with session_scope(settings) as session:
        return create_source(session, "Daily Planet")
