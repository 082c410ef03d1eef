"""A database session for CLI commands: every expected failure becomes one readable line."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from core.db import session_scope
from core.settings import get_settings


@contextmanager
def cli_session(*refusals: type[Exception]) -> Iterator[Session]:
    """A committed session; `refusals` (domain errors with readable messages) and database errors
    end the command with one line and a non-zero exit."""
    try:
        with session_scope(get_settings()) as session:
            yield session
    except refusals as exc:
        raise click.ClickException(str(exc)) from exc
    except SQLAlchemyError as exc:
        raise click.ClickException(
            f"cannot use the database ({type(exc).__name__}); is it up, and migrated with "
            "`moderation db upgrade`?"
        ) from exc
