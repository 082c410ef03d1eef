"""Fixtures for the fault tests: private servers, a fresh database per test, workers, a CMS.

The private Redis and PostgreSQL are session-scoped and always stopped by their finalizers; a
test that breaks one gets it started again at its teardown, so the next test starts healthy.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis
from flask.testing import FlaskClient

from core.db import dispose_engines, session_scope
from core.migrate import upgrade
from core.settings import Settings, configure
from core.store import NewSource, create_source
from service import create_app
from tests.conftest import TEST_SECRET_KEY
from tests.faults.servers import PostgresServer, RedisServer
from tests.integration.workers import (
    WORDLIST_APP,
    StartWorker,
    worker_starter,
)
from tests.receiver import Receiver, running_receiver


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    try:
        server.start()
        yield server
    finally:
        server.cleanup()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = PostgresServer()
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def settings(
    postgres_server: PostgresServer, redis_server: RedisServer, tmp_path: Path
) -> Iterator[Settings]:
    """This test's own database on the private cluster, the private Redis, fast sweeps."""
    name = f"faults_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_server.url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    current = configure(
        var_dir=tmp_path / "var",
        database_url=postgres_server.url.rsplit("/", 1)[0] + f"/{name}",
        redis_url=redis_server.url,
        queue_name=f"faults-{uuid.uuid4().hex[:8]}",
        secret_key=TEST_SECRET_KEY,
        log_json=False,
        # Sweep every second; a comment pending for a second is queued again.
        sweep_interval_seconds=1.0,
        stale_pending_after_seconds=1.0,
    )
    upgrade(current)
    yield current
    dispose_engines()
    # A test that broke a server leaves it to us: the next test starts with both healthy.
    if redis_server.process is None:
        redis_server.start()
    if not (postgres_server.data / "postmaster.pid").exists():
        postgres_server.start()
    redis.Redis.from_url(redis_server.url).flushall()
    with psycopg.connect(postgres_server.url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def redis_client(settings: Settings) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(settings.redis_client_url, socket_connect_timeout=1)
    yield client
    client.close()


@pytest.fixture
def start_worker(
    settings: Settings, redis_client: redis.Redis, tmp_path: Path
) -> Iterator[StartWorker]:
    """Start real `celery worker` processes (word-list model) on this test's queue and servers."""
    with worker_starter(settings, redis_client, tmp_path, WORDLIST_APP, stop_timeout=10) as start:
        yield start


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """The CMS's callback endpoint."""
    with running_receiver() as running:
        yield running


@pytest.fixture
def source(settings: Settings, receiver: Receiver) -> NewSource:
    with session_scope(settings) as session:
        return create_source(session, "Faults CMS", callback_url=receiver.url)


@pytest.fixture
def client(settings: Settings) -> FlaskClient:
    """The API in this process, on the test's private servers."""
    return create_app({"TESTING": True}, settings=settings).test_client()
