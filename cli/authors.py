"""`moderation authors suspend|ban|reinstate|sanctions|export|erase`: authors at one source."""

from __future__ import annotations

import getpass
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import click
from sqlalchemy.orm import Session

from cli.database import cli_session
from core import author_data, authors
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


@contextmanager
def _at_source(source: str) -> Iterator[tuple[Session, str]]:
    """A CLI session and the id of the source named by its name or id."""
    with cli_session(*REFUSALS) as session:
        yield session, authors.source_named(session, source)


def _change(
    source: str, as_json: bool, act: Callable[[Session, str], authors.SanctionChange]
) -> None:
    with _at_source(source) as (session, source_id):
        change = act(session, source_id)
        shown = {**authors.sanction_json(change.sanction), "event_id": change.event.id}
    click.echo(json.dumps(shown, indent=2) if as_json else _describe(shown))
    _queue(change.event.id)


def _sanction(
    source: str,
    author_id: str,
    kind: authors.SanctionKind,
    reason: str,
    as_json: bool,
    duration: timedelta | None = None,
) -> None:
    _change(
        source,
        as_json,
        lambda session, source_id: authors.sanction_author(
            session, source_id, author_id, kind, reason, by=_by(), duration=duration
        ),
    )


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
    _sanction(
        source,
        author_id,
        authors.SanctionKind.SUSPENSION,
        reason,
        as_json,
        duration=timedelta(days=days),
    )


@authors_group.command()
@SOURCE
@AUTHOR
@REASON
@AS_JSON
def ban(source: str, author_id: str, reason: str, as_json: bool) -> None:
    """Ban an author for good (until reinstated by hand)."""
    _sanction(source, author_id, authors.SanctionKind.BAN, reason, as_json)


@authors_group.command()
@SOURCE
@AUTHOR
@REASON
@AS_JSON
def reinstate(source: str, author_id: str, reason: str, as_json: bool) -> None:
    """Lift an author's suspension or ban."""
    _change(
        source,
        as_json,
        lambda session, source_id: authors.reinstate_author(
            session, source_id, author_id, by=_by(), reason=reason
        ),
    )


@authors_group.command()
@SOURCE
@AUTHOR
@AS_JSON
def sanctions(source: str, author_id: str, as_json: bool) -> None:
    """Every suspension and ban of an author, newest first."""
    with _at_source(source) as (session, source_id):
        rows = [
            authors.sanction_json(s) for s in authors.sanctions_of(session, source_id, author_id)
        ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo(f"{author_id} has never been suspended or banned.")
    for row in rows:
        click.echo(_describe(row))


@authors_group.command()
@SOURCE
@AUTHOR
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write the JSON here (private to you) instead of printing it.",
)
def export(source: str, author_id: str, out: Path | None) -> None:
    """Everything stored about an author at a source, as one JSON object (by table)."""
    with _at_source(source) as (session, source_id):
        exported = author_data.export_author(session, source_id, author_id)
    text = json.dumps(exported, indent=2, ensure_ascii=False)
    if out is None:
        click.echo(text)
        return
    # Personal data: readable by its owner only.
    out.touch(mode=0o600, exist_ok=True)
    out.chmod(0o600)
    out.write_text(text + "\n", encoding="utf-8")
    counts = ", ".join(f"{len(rows)} {table}" for table, rows in exported["tables"].items() if rows)
    click.echo(f"Wrote {out}: {counts}.", err=True)


@authors_group.command()
@SOURCE
@AUTHOR
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@AS_JSON
def erase(source: str, author_id: str, yes: bool, as_json: bool) -> None:
    """Erase an author's personal data at a source for good; decisions stay, without it."""
    if not yes:
        click.confirm(
            f"Erase the bodies, names, e-mail and IP addresses and user agents of {author_id!r} "
            f"at {source!r}? This cannot be undone",
            abort=True,
        )
    with _at_source(source) as (session, source_id):
        erasure = author_data.erase_author(session, source_id, author_id, by=_by())
        event_id = erasure.event.id
        result = {"author_id": author_id, "counts": erasure.counts, "event_id": event_id}
    if as_json:
        click.echo(json.dumps(result, indent=2))
    else:
        counts = ", ".join(f"{n} {table}" for table, n in erasure.counts.items())
        click.echo(f"Erased {author_id}: {counts}. The CMS is told (author.erased).")
    _queue(event_id)
