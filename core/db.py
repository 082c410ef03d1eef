"""Engine and sessions: one engine per process, built lazily (never carried across fork)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, CursorResult, Engine, Executable, create_engine, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from core.settings import Settings, get_settings

_engines: dict[tuple[int, str], Engine] = {}
_autocommit_engines: dict[tuple[int, str], Engine] = {}


def make_engine(url: str) -> Engine:
    """An engine for url; SQLite gets WAL, a busy timeout and foreign keys."""
    if url.startswith("sqlite"):
        # "sqlite://" alone is an in-memory database: no file to make private.
        path = url[len("sqlite:///") :] if url.startswith("sqlite:///") else ""
        if path and path != ":memory:" and not path.startswith("file:"):
            _private_sqlite_file(Path(path))
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            # Reads through a memory map rather than a read() per page: a quarter off a query
            # over 100,000 comments (the what-if); the file stays the only copy.
            cursor.execute("PRAGMA mmap_size=268435456")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def _private_sqlite_file(path: Path) -> None:
    """The file holds accounts and (encrypted) signing secrets: owner-only, 0600 in a 0700
    folder when we create it. SQLite gives its -wal and -shm files the database file's mode."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        status = path.stat()
        # An older file left readable by others is tightened (only its owner may chmod it).
        if status.st_mode & 0o077 and status.st_uid == os.getuid():
            os.chmod(path, 0o600)


def get_engine(settings: Settings | None = None) -> Engine:
    """This process's engine for the configured database (a forked child builds its own)."""
    settings = settings or get_settings()
    key = (os.getpid(), settings.sqlalchemy_url)
    engine = _engines.get(key)
    if engine is None:
        engine = _engines[key] = make_engine(settings.sqlalchemy_url)
    return engine


def supports_autocommit(settings: Settings | None = None) -> bool:
    """Whether autocommit_connection serves this database (PostgreSQL)."""
    return (settings or get_settings()).sqlalchemy_url.startswith("postgresql")


@contextmanager
def autocommit_connection(settings: Settings | None = None) -> Iterator[Connection]:
    """A PostgreSQL connection on which every statement commits on its own (no BEGIN, no
    COMMIT round trips), for a hot path whose writes fit in one statement.

    Its pool does not ping a connection before lending it (one round trip less per use): run
    the first statement through execute_retrying_stale, which tries a connection the server
    dropped meanwhile (a restart) once more on a fresh one.
    """
    settings = settings or get_settings()
    key = (os.getpid(), settings.sqlalchemy_url)
    engine = _autocommit_engines.get(key)
    if engine is None:
        engine = _autocommit_engines[key] = create_engine(
            settings.sqlalchemy_url, isolation_level="AUTOCOMMIT", pool_size=10, max_overflow=20
        )
    with engine.connect() as connection:
        yield connection


def execute_retrying_stale(
    connection: Connection, statement: Executable, parameters: dict[str, Any]
) -> CursorResult[Any]:
    """Run a statement that changes nothing, once more if the connection turned out stale."""
    try:
        return connection.execute(statement, parameters)
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
        # SQLAlchemy invalidated the pool's older connections too; this one reconnects.
        connection.rollback()
        return connection.execute(statement, parameters)


def sessionmaker_for(settings: Settings | None = None) -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(settings), expire_on_commit=False)


@contextmanager
def session_scope(settings: Settings | None = None) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    session = sessionmaker_for(settings)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def dispose_engines() -> None:
    for engine in [*_engines.values(), *_autocommit_engines.values()]:
        engine.dispose()
    _engines.clear()
    _autocommit_engines.clear()
