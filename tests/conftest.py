"""Shared fixtures: real databases (a SQLite file, and a PostgreSQL database made for this run).

PostgreSQL comes from TEST_DATABASE_URL (default: the local server's `test` database); each test
run creates its own database beside it and drops it afterwards, so parallel runs never collide.
Each run also gets its own Celery queue name on the shared Redis.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from core.db import dispose_engines, session_scope
from core.migrate import upgrade
from core.settings import Settings, configure

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
RUN_ID = uuid.uuid4().hex[:10]
# Long and varied enough for create_app, which refuses short or published keys.
TEST_SECRET_KEY = f"test-secret-key-{uuid.uuid4().hex}"
BROWSER_TESTS = Path(__file__).parent / "browser"
# The benchmarks' smoke runs use the local PostgreSQL server (bench/_load.py).
BENCH_TESTS = Path(__file__).parent / "bench"
# Fixtures that reach a PostgreSQL server (the shared one, or the faults tests' own).
POSTGRES_FIXTURES = frozenset({"postgres_url", "postgres_server"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark what needs PostgreSQL or Chromium, so `-m "not browser and not postgres"` skips it."""
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        fixtures = set(getattr(item, "fixturenames", ()))
        on_postgres = params.get("backend") == "postgresql" or fixtures & POSTGRES_FIXTURES
        if on_postgres or item.path.is_relative_to(BENCH_TESTS):
            item.add_marker(pytest.mark.postgres)
        if item.path.is_relative_to(BROWSER_TESTS):
            item.add_marker(pytest.mark.browser)


def _pg_admin_url() -> str:
    return os.environ.get("TEST_DATABASE_URL", DEFAULT_PG_URL)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test run, migrated to head."""
    admin = make_url(_pg_admin_url().replace("postgresql+psycopg://", "postgresql://"))
    name = f"moderation_test_{RUN_ID}"
    conninfo = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    url = admin.set(database=name).render_as_string(hide_password=False)
    upgrade(Settings(database_url=url))
    yield url
    dispose_engines()
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    """Which database a test runs on; parametrize indirectly with ["sqlite", "postgresql"]."""
    return str(request.param)


@pytest.fixture
def settings(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Settings]:
    """Current settings for one test: its own var dir and queue, a migrated database."""
    if backend == "postgresql":
        database_url = request.getfixturevalue("postgres_url")
    else:
        database_url = f"sqlite:///{tmp_path / 'moderation.sqlite'}"
    current = configure(
        var_dir=tmp_path / "var",
        database_url=database_url,
        redis_url=os.environ.get("TEST_REDIS_URL", DEFAULT_REDIS_URL),
        queue_name=f"moderation-test-{RUN_ID}-{uuid.uuid4().hex[:6]}",
        secret_key=TEST_SECRET_KEY,
        log_json=False,
    )
    if backend == "sqlite":
        upgrade(current)
    yield current
    dispose_engines()


@pytest.fixture
def session(settings: Settings) -> Iterator[Session]:
    """A session on the test database; committed work stays for the test's other fixtures."""
    with session_scope(settings) as s:
        yield s


@pytest.fixture
def broker(settings: Settings) -> Iterator[redis.Redis]:
    """The real Redis the test queues to; the test's queues are deleted afterwards."""
    client = redis.Redis.from_url(settings.redis_client_url)
    yield client
    client.delete(settings.queue_name, settings.delivery_queue_name)
    client.close()


@pytest.fixture
def registry(settings: Settings) -> Iterator[None]:
    """An empty model registry for this test (seeded with the shipped model on first use)."""
    from tests.registry_support import empty_registry

    yield from empty_registry(settings)
