"""`moderation policy history|restore|suggest`: a source's policy versions, rollback, targets."""

from __future__ import annotations

import getpass
import json

import click

from cli.database import cli_session
from core.policies import PolicyVersionNotFound, policy_history
from core.sources import InvalidSourceChange, SourceNotFound, find_source, restore_policy

REFUSALS = (SourceNotFound, InvalidSourceChange, PolicyVersionNotFound)


def cli_actor() -> str:
    """Who a CLI change is recorded as: the operating-system user running it."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name in a bare container
        return "cli"


@click.group()
def policy() -> None:
    """A source's policy: its versions, rollback, and thresholds from a target."""


@policy.command()
@click.option("--source", "source_name", required=True, help="The source's name or id.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array, oldest first.")
def history(source_name: str, as_json: bool) -> None:
    """Every version of a source's policy: when, who, why, and what changed."""
    with cli_session(*REFUSALS) as session:
        source = find_source(session, source_name)
        views = policy_history(session, source)
    if as_json:
        click.echo(json.dumps([view.as_json() for view in views], indent=2))
        return
    for view in views:
        stamp = view.created_at.strftime("%Y-%m-%d %H:%M:%SZ")
        marker = "  (in force)" if view.current else ""
        restored = f", restores v{view.restored_from}" if view.restored_from else ""
        click.echo(f"v{view.version}  {stamp}  by {view.changed_by or '(unknown)'}{marker}")
        click.echo(f"  why: {view.reason or '(no reason given)'}{restored}")
        for line in view.changes:
            click.echo(f"  {line}")


@policy.command()
@click.option("--source", "source_name", required=True, help="The source's name or id.")
@click.argument("version", type=click.IntRange(min=1))
@click.option("--reason", required=True, help="Why the policy goes back (kept in the history).")
def restore(source_name: str, version: int, reason: str) -> None:
    """Roll a source's policy back to VERSION: a new version that copies it."""
    with cli_session(*REFUSALS) as session:
        source = find_source(session, source_name)
        restored = restore_policy(
            session, source.id, version, changed_by=cli_actor(), reason=reason
        )
        number = restored.version
    click.echo(f"Policy of {source_name} restored from v{version} as v{number}.")
