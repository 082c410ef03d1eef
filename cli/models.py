"""`moderation models list|add|shadow|promote|rollback|history`: the model registry."""

from __future__ import annotations

import getpass
import json
from pathlib import Path

import click

from cli.database import cli_session
from core import registry
from core.registry import GatesRefused, RegistryError
from core.settings import get_settings


def _by() -> str:
    """Who made a change from the command line, for the audit log."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no name for this uid (containers)
        return "cli"


@click.group()
def models() -> None:
    """The artifacts the service knows, and which one the workers score with."""
    from core.logging import configure_logging

    configure_logging(get_settings())  # log lines go to stderr; stdout stays the answer


@models.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON array of models.")
def list_(as_json: bool) -> None:
    """Every registered model with its state (the shipped one is registered on first use)."""
    with cli_session(RegistryError) as session:
        registry.ensure_seeded(session, get_settings())
        described = [registry.describe(model) for model in registry.list_models(session)]
    if as_json:
        click.echo(json.dumps(described))
        return
    for model in described:
        mean = model["metrics"].get("public_mean_roc_auc")
        auc = f"public ROC-AUC {mean:.4f}" if mean is not None else "no public figures"
        click.echo(
            f"{model['version']:<28} {model['state']:<9} {model['sha256'][:12]}  {auc}  "
            f"{model['changed_at'][:19]} by {model['changed_by']}"
        )


@models.command()
@click.argument("directory", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--sha256", help="The model file's expected sha256 (refused if it differs).")
def add(directory: Path, sha256: str | None) -> None:
    """Register the artifact in DIRECTORY as a candidate; its file's sha256 is taken now."""
    with cli_session(RegistryError) as session:
        registry.ensure_seeded(session, get_settings())
        model = registry.register(session, directory, _by(), expected_sha256=sha256)
        version, digest = model.version, model.sha256
    click.echo(f"Registered {version} as a candidate (sha256 {digest}).")


@models.command()
@click.argument("version")
def shadow(version: str) -> None:
    """Score every comment with VERSION too, beside the live model (it decides nothing)."""
    with cli_session(RegistryError) as session:
        registry.ensure_seeded(session, get_settings())
        registry.shadow(session, version, _by())
    click.echo(f"{version} runs in shadow.")


@models.command()
@click.argument("version")
@click.option("--force", is_flag=True, help="Promote even if a gate refuses (needs --reason).")
@click.option("--reason", help="Why; written to the registry's audit log.")
def promote(version: str, force: bool, reason: str | None) -> None:
    """Make VERSION the live model if the gates pass; workers switch to it within the interval."""
    if force and not (reason and reason.strip()):
        raise click.ClickException(
            "--force needs --reason TEXT: the override goes into the audit log"
        )
    try:
        with cli_session(RegistryError) as session:
            registry.ensure_seeded(session, get_settings())
            _, results = registry.promote(session, version, _by(), force=force, reason=reason)
    except click.ClickException as exc:
        if isinstance(exc.__cause__, GatesRefused):
            raise click.ClickException(f"{exc.message} (--force --reason TEXT overrides)") from exc
        raise
    overridden = [result.gate for result in results if not result.passed]
    note = f" over the {', '.join(overridden)} gate(s)" if overridden else ""
    click.echo(f"{version} is live{note}.")


@models.command()
@click.option("--reason", help="Why; written to the registry's audit log.")
def rollback(reason: str | None) -> None:
    """Retire the live model and make live again the one it replaced."""
    with cli_session(RegistryError) as session:
        registry.ensure_seeded(session, get_settings())
        restored = registry.rollback(session, _by(), reason).version
    click.echo(f"Rolled back: {restored} is live.")


@models.command()
@click.argument("version", required=False)
@click.option("--json", "as_json", is_flag=True, help="One JSON array of changes.")
def history(version: str | None, as_json: bool) -> None:
    """The registry's audit log: every state change, who made it, why, and the gates."""
    with cli_session(RegistryError) as session:
        changes = [
            registry.describe_change(change) for change in registry.history(session, version)
        ]
    if as_json:
        click.echo(json.dumps(changes))
        return
    for change in changes:
        forced = " FORCED" if change["forced"] else ""
        why = f": {change['reason']}" if change["reason"] else ""
        click.echo(
            f"{change['changed_at'][:19]} {change['version']} {change['from_state'] or '-'} -> "
            f"{change['to_state']} ({change['action']}{forced}) by {change['changed_by']}{why}"
        )
