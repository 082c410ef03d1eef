"""`moderation deliveries list|show|redeliver`: see what reached the CMSs and resend what died."""

from __future__ import annotations

import json

import click

from cli.database import cli_session
from core.deliveries import (
    EventNotFound,
    RedeliveryRefused,
    attempts_of,
    list_deliveries,
    redeliver,
)
from core.domain import DeliveryState
from core.settings import get_settings


@click.group()
def deliveries() -> None:
    """Decision events sent to the CMSs' callback URLs."""


@deliveries.command(name="list")
@click.option("--dead", is_flag=True, help="Only events that gave up (redeliverable).")
@click.option("--state", type=click.Choice([s.value for s in DeliveryState]), help="Filter.")
@click.option("--source", "source_id", help="Only this source's events.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
def list_command(
    dead: bool, state: str | None, source_id: str | None, limit: int, as_json: bool
) -> None:
    """Events newest first, with their state, attempts and last error."""
    if dead:
        state = DeliveryState.DEAD.value
    with cli_session(EventNotFound, RedeliveryRefused) as session:
        rows = list_deliveries(session, state=state, source_id=source_id, limit=limit)
    if as_json:
        click.echo(json.dumps([row.as_json() for row in rows], indent=2))
        return
    if not rows:
        click.echo("No deliveries match.")
        return
    for row in rows:
        item = row.as_json()
        last = row.last_error or (str(row.last_status_code) if row.last_status_code else "")
        when = item["delivered_at"] or item["next_attempt_at"] or item["created_at"]
        click.echo(
            f"{row.id}  {row.state:<9} {row.type:<17} seq {row.seq}  "
            f"attempts {row.attempts}  {when}  {last}".rstrip()
        )


@deliveries.command()
@click.argument("event_id")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of attempts.")
def show(event_id: str, as_json: bool) -> None:
    """Every attempt of one event: when, where, status, latency and error."""
    with cli_session(EventNotFound, RedeliveryRefused) as session:
        attempts = [
            {
                "number": a.number,
                "started_at": a.started_at.isoformat().replace("+00:00", "Z"),
                "url": a.url,
                "status_code": a.status_code,
                "latency_ms": a.latency_ms,
                "error": a.error,
            }
            for a in attempts_of(session, event_id)
        ]
    if as_json:
        click.echo(json.dumps(attempts, indent=2))
        return
    if not attempts:
        click.echo(f"{event_id}: no attempt yet.")
    for a in attempts:
        click.echo(
            f"#{a['number']}  {a['started_at']}  {a['status_code'] or '-'}  "
            f"{a['latency_ms']} ms  {a['error'] or ''}".rstrip()
        )


@deliveries.command(name="redeliver")
@click.argument("event_id")
def redeliver_command(event_id: str) -> None:
    """Send a dead (or delivered) event again, with a fresh retry schedule."""
    settings = get_settings()
    with cli_session(EventNotFound, RedeliveryRefused) as session:
        redeliver(session, event_id)
    click.echo(f"{event_id} is pending again.")
    # Queue it now; if Redis is down the sweeper sends it once it is due (it is due now).
    from core.logging import configure_logging
    from core.tasks import DELIVER_EVENT, queue_task
    from service.queue import create_client

    configure_logging(settings)  # the queueing warning goes to stderr, the line below to stdout
    if not queue_task(create_client(settings), DELIVER_EVENT, event_id):
        click.echo("Redis is unreachable: the sweeper will send it when the worker runs.")
