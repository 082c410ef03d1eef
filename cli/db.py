"""`moderation db upgrade`: apply the Alembic migrations to DATABASE_URL."""

from __future__ import annotations

import click
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from core.migrate import upgrade as apply_migrations
from core.settings import get_settings


@click.group()
def db() -> None:
    """Database maintenance."""


@db.command()
@click.option("--revision", default="head", show_default=True, help="Alembic revision.")
def upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (the embedded SQLite file when DATABASE_URL is unset)."""
    settings = get_settings()
    safe_url = make_url(settings.sqlalchemy_url).render_as_string(hide_password=True)
    try:
        apply_migrations(settings, revision)
    except (SQLAlchemyError, OSError) as exc:
        lines = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        reason = lines[0] if lines else type(exc).__name__
        raise click.ClickException(f"cannot migrate the database at {safe_url}: {reason}") from exc
    click.echo(f"Database at {safe_url} is at revision {revision}.")
