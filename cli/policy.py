"""`moderation policy history|restore|suggest`: a source's policy versions, rollback, targets."""

from __future__ import annotations

import getpass
import json
from typing import Any

import click

from cli.database import cli_session
from core.domain import LABELS
from core.drift import check_drift
from core.policies import PolicyInForce, PolicyVersionNotFound, policy_history
from core.settings import get_settings
from core.sources import (
    InvalidSourceChange,
    SourceChanges,
    SourceNotFound,
    find_source,
    restore_policy,
    update_source,
)
from core.suggest import TargetRefused, save_reason, suggest_target
from core.thresholds import live_model_thresholds
from core.whatif import DEFAULT_DAYS, MAX_DAYS, load_history, proposed_policy

REFUSALS = (SourceNotFound, InvalidSourceChange, PolicyVersionNotFound, PolicyInForce)


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


def _print_what_if(result: dict[str, Any], shown: int = 20) -> None:
    click.echo(f"what-if over {result['comments']} comments of the last {result['days']} days:")
    click.echo(f"  {'':10} {'now':>8} {'proposed':>9}")
    for band in ("approved", "flagged", "rejected"):
        click.echo(f"  {band:10} {result['current'][band]:>8} {result['proposed'][band]:>9}")
    changes = result["changes"]
    click.echo(f"labelled comments that change band: {len(changes)}")
    for change in changes[:shown]:
        click.echo(
            f"  {change['id']}  {change['current']} -> {change['proposed']}"
            f"  (moderator: {change['moderator']})"
        )
    if len(changes) > shown:
        click.echo(f"  ... and {len(changes) - shown} more (--json lists them all)")


@policy.command()
@click.option("--source", "source_name", required=True, help="The source's name or id.")
@click.option("--label", required=True, type=click.Choice(LABELS), help="The label to tune.")
@click.option(
    "--flag-capacity",
    type=click.FloatRange(min=0, min_open=True),
    metavar="N",
    help="Flagged comments a day the moderators can review.",
)
@click.option(
    "--reject-precision",
    type=click.FloatRange(min=0, max=1, min_open=True),
    metavar="P",
    help="Share of automatic rejections that must be right, in (0, 1].",
)
@click.option("--days", type=click.IntRange(1, MAX_DAYS), default=DEFAULT_DAYS, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print {thresholds, target, what_if}.")
@click.option("--save", is_flag=True, help="Apply the thresholds (a new policy version).")
def suggest(
    source_name: str,
    label: str,
    flag_capacity: float | None,
    reject_precision: float | None,
    days: int,
    as_json: bool,
    save: bool,
) -> None:
    """Thresholds for LABEL from a review capacity or a rejection precision, with their what-if
    over the source's last DAYS days; --save applies them."""
    if (flag_capacity is None) == (reject_precision is None):
        raise click.UsageError("give exactly one of --flag-capacity and --reject-precision")
    model = live_model_thresholds(get_settings())
    with cli_session(*REFUSALS, TargetRefused) as session:
        source = find_source(session, source_name)
        history = load_history(session, source.id, days)
        current = proposed_policy(source, model)
        target, value = (
            ("flag_capacity", flag_capacity)
            if flag_capacity is not None
            else ("reject_precision", reject_precision)
        )
        assert value is not None
        suggestion = suggest_target(history, current, label, target, value, source_name=source.name)
        why = save_reason(label, target, value)
        saved = None
        if save:
            changes = SourceChanges(thresholds=suggestion.thresholds)
            updated = update_source(session, source.id, changes, changed_by=cli_actor(), reason=why)
            saved = updated.policy_version
        before = current.for_label(label)
    body = suggestion.as_json()
    if as_json:
        click.echo(json.dumps({**body, "saved_version": saved}, indent=2))
        return
    after = suggestion.thresholds[label]

    def pair(flag: float | None, reject: float | None) -> str:
        return (
            f"flag {flag:g}, reject {reject:g}"
            if reject is not None
            else f"flag {flag:g}, reject -"
        )

    click.echo(
        f"{label}: {pair(after['flag'], after['reject'])}  (now {pair(before.flag, before.reject)})"
    )
    click.echo("target: " + ", ".join(f"{k} {v}" for k, v in body["target"].items()))
    _print_what_if(body["what_if"])
    if saved is not None:
        click.echo(f"Saved as policy version {saved}.")
    else:
        click.echo("Not saved: add --save to apply these thresholds.")


@policy.command()
@click.option("--source", "source_name", required=True, help="The source's name or id.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def drift(source_name: str, as_json: bool) -> None:
    """Score drift (PSI of the last 7 days against the reference) per label, and the moderators'
    override rate per day; alerts are logged too."""
    with cli_session(*REFUSALS) as session:
        found = check_drift(session, find_source(session, source_name))
    body = found.as_json()
    if as_json:
        click.echo(json.dumps(body, indent=2))
        return
    for label, value in body["psi"].items():
        shown = "n/a (too little history)" if value["psi"] is None else f"{value['psi']:.3f}"
        flag = "  ALERT (> 0.2)" if value["alert"] else ""
        click.echo(f"psi {label:14} {shown}{flag}")
    override = body["override"]
    ratio, mean = override["ratio"], override["mean_30_days"]
    click.echo(
        "override rate, last 24 h: "
        + ("n/a" if ratio is None else f"{ratio:.3f}")
        + " (30-day mean "
        + ("n/a" if mean is None else f"{mean:.3f}")
        + ")"
        + ("  ALERT (doubled)" if override["alert"] else "")
    )
