"""Entry point of the `moderation` console script.

Subcommands live in their own modules and are imported only when called, so `moderation score`
does not pay for Flask and `moderation api` never imports scikit-learn.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

# name -> "module:attribute" of a click command or group.
COMMANDS: dict[str, str] = {
    "up": "cli.up:up",
    "api": "cli.processes:api",
    "worker": "cli.processes:worker",
    "deliverer": "cli.processes:deliverer",
    "db": "cli.db:db",
    "sources": "cli.sources:sources",
    "users": "cli.users:users",
    "train": "cli.train:train",
    "evaluate": "models.cli:evaluate",
    "score": "models.cli:score",
    "simulate": "cli.simulate:simulate",
    "deliveries": "cli.deliveries:deliveries",
    "labels": "cli.labels:labels",
    "models": "cli.models:models",
    "policy": "cli.policy:policy",
    "authors": "cli.authors:authors_group",
    "reports": "cli.readers:reports_group",
    "appeals": "cli.readers:appeals_group",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                raise click.ClickException(f"'{cmd_name}' is not available in this build") from exc
            raise
        command: click.Command = getattr(module, attribute)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="moderation")
def cli() -> None:
    """Self-hosted comment moderation: intake, scoring, review and callbacks."""


def main(argv: list[str] | None = None) -> Any:
    try:
        return cli.main(args=argv, prog_name="moderation", standalone_mode=True)
    except KeyboardInterrupt:  # pragma: no cover - interactive
        sys.exit(130)
