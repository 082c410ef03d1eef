"""`moderation authors suspend|ban|reinstate|sanctions`: an author's standing at one source."""

from __future__ import annotations

import getpass
import json
from collections.abc import Callable
from datetime import timedelta

import click
from sqlalchemy.orm import Session

from cli.database import cli_session
from core import authors
from core.settings import get_settings
from core.sources import SourceNotFound

SOURCE = click.option("--source", required=True, help="The source's name or id.")
AUTHOR = click.option(
    "--author", "author_id", required=True, help="The author's id at the CMS (or e-mail)."
)
REASON = click.option("--reason", required=True, help="Why; the CMS is told.")
AS_JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON.")
REFUSALS = (authors.AuthorError, SourceNotFound)


def _by() -> str:
    return f"cli:{getpass.getuser()}"


def _queue(event_id: str) -> None:
    """Queue the CMS's event now; with Redis away the sweeper sends it (it is due now)."""
    from core.tasks import DELIVER_EVENT, queue_task
    from service.queue import create_client

    if not queue_task(create_client(get_settings()), DELIVER_EVENT, event_id):
        click.echo("Redis is unreachable: the sweeper will tell the CMS when the worker runs.")


def _describe(sanction: dict[str, object]) -> str:
    until = f" until {sanction['ends_at']}" if sanction["ends_at"] else ""
    lifted = (
        f"; lifted {sanction['lifted_at']} by {sanction['lifted_by']}"
        if sanction["lifted_at"]
        else ""
    )
    state = "in force" if sanction["active"] else "over"
    return (
        f"#{sanction['id']} {sanction['kind']}{until} ({state}) by {sanction['created_by']}: "
        f"{sanction['reason']}{lifted}"
    )


def _change(as_json: bool, act: Callable[[Session], authors.SanctionChange]) -> None:
    with cli_session(*REFUSALS) as session:
        change = act(session)
        shown = {**authors.sanction_json(change.sanction), "event_id": change.event.id}
    click.echo(json.dumps(shown, indent=2) if as_json else _describe(shown))
    _queue(change.event.id)


@click.group(name="authors")
def authors_group() -> None:
    """Authors at one source: suspend, ban, reinstate; export and erase their data."""
    from core.logging import configure_logging

    # Log lines go to stderr, so stdout holds only what the command prints (--json).
    configure_logging(get_settings())


@authors_group.command()
@SOURCE
@AUTHOR
@click.option("--days", type=click.IntRange(1, 3650), required=True, help="How long.")
@REASON
@AS_JSON
def suspend(source: str, author_id: str, days: int, reason: str, as_json: bool) -> None:
    """Suspend an author for some days: their new comments are rejected or held meanwhile."""
    _change(
        as_json,
        lambda session: authors.sanction_author(
            session,
            authors.source_named(session, source),
            author_id,
            authors.SanctionKind.SUSPENSION,
            reason,
            by=_by(),
            duration=timedelta(days=days),
        ),
    )


@authors_group.command()
@SOURCE
@AUTHOR
@REASON
@AS_JSON
def ban(source: str, author_id: str, reason: str, as_json: bool) -> None:
    """Ban an author for good (until reinstated by hand)."""
    _change(
        as_json,
        lambda session: authors.sanction_author(
            session,
            authors.source_named(session, source),
            author_id,
            authors.SanctionKind.BAN,
            reason,
            by=_by(),
        ),
    )


@authors_group.command()
@SOURCE
@AUTHOR
@REASON
@AS_JSON
def reinstate(source: str, author_id: str, reason: str, as_json: bool) -> None:
    """Lift an author's suspension or ban."""
    _change(
        as_json,
        lambda session: authors.reinstate_author(
            session, authors.source_named(session, source), author_id, by=_by(), reason=reason
        ),
    )


@authors_group.command()
@SOURCE
@AUTHOR
@AS_JSON
def sanctions(source: str, author_id: str, as_json: bool) -> None:
    """Every suspension and ban of an author, newest first."""
    with cli_session(*REFUSALS) as session:
        rows = [
            authors.sanction_json(s)
            for s in authors.sanctions_of(session, authors.source_named(session, source), author_id)
        ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo(f"{author_id} has never been suspended or banned.")
    for row in rows:
        click.echo(_describe(row))
