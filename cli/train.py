"""`moderation train`: models.cli's public training, plus `--with-decisions`, which retrains the
live model with the site's moderator labels (read here from the database, handed to models/ as
plain rows) and registers the result as a `candidate`."""

from __future__ import annotations

import shlex
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from cli.database import cli_session
from core.labels import LabelFilters, UnknownSource, count_decided_comments, iter_labels
from core.registry import RegistryError
from models.cli import train as public_train


def _progress_bar(label: str) -> Any:
    return click.progressbar(length=100, label=label, show_eta=False, file=sys.stderr)


def _site_rows(source: str | None) -> list[dict[str, Any]]:
    filters = LabelFilters(source=source)
    with cli_session(UnknownSource) as session:
        total = count_decided_comments(session, filters)
        with click.progressbar(length=total, label="reading site labels", file=sys.stderr) as bar:
            return [label.as_json() for label in iter_labels(session, filters, bar.update)]


def _live() -> tuple[Path, str, str]:
    """The live model's folder, registered sha256 and version (the registry seeded if empty)."""
    from core import registry
    from core.settings import get_settings

    with cli_session(RegistryError) as session:
        registry.ensure_seeded(session, get_settings())
        live = registry.live_model(session)
        if live is None:
            raise click.ClickException("the registry has no live model to retrain")
        directory = registry.artifact_directory(live)
        if directory is None:
            raise click.ClickException(f"the live model {live.version} has no folder here")
        return directory, live.sha256, live.version


def _register(directory: Path) -> str:
    from cli.models import _by
    from core import registry

    with cli_session(RegistryError) as session:
        return registry.register(session, directory, _by()).version


def train_with_decisions(
    source: str | None, out: Path | None, data_dir: Path | None, sample: float | None
) -> None:
    from models.reproducible import pin_blas

    pin_blas()
    import models
    from models.artifact import ModelError, read_manifest
    from models.datasets import load_sets
    from models.site_build import build_site_candidate

    rows = _site_rows(source)
    if not rows:
        raise click.ClickException("no moderator labels to train with (see `moderation labels`)")
    directory, sha256, version = _live()
    try:
        live = models.load(directory, sha256)
        manifest = read_manifest(directory)
    except ModelError as exc:
        raise click.ClickException(f"cannot load the live model {version}: {exc}") from exc
    names = [entry["name"] for entry in manifest.get("training_sets") or []]
    try:
        public = load_sets(names, data_dir)
    except (FileNotFoundError, ValueError) as exc:
        raise click.ClickException(f"cannot read the live model's public sets: {exc}") from exc
    if sample is not None and 0 < sample < 1:
        public = public.sample(frac=sample, random_state=13).reset_index(drop=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = out or Path(f"model-site-{stamp}")
    command = "moderation " + shlex.join(sys.argv[1:]) if sys.argv[1:] else "moderation train"
    with _progress_bar("retraining") as bar:
        done = [0]

        def progress(step: str, fraction: float) -> None:
            bar.label = f"retraining: {step:<28}"
            target = int(fraction * 100)
            if target > done[0]:
                bar.update(target - done[0])
                done[0] = target

        try:
            built = build_site_candidate(
                live=live,
                live_manifest=manifest,
                public=public,
                site_rows=rows,
                out=out,
                command=command,
                source=source,
                progress=progress,
            )
        except ValueError as exc:
            raise click.ClickException(str(exc)) from exc
    registered = _register(out)
    site = built["site_labels"]
    click.echo(
        f"wrote {out} (model {registered}, from live {version}, site weight {site['weight']:g}, "
        f"{site['rows']['train']}/{site['rows']['validation']}/{site['rows']['heldout']} site "
        f"labels train/validation/held out, {built['training_seconds']:.0f} s)"
    )
    for label, m in built["site_heldout"]["labels"].items():
        click.echo(
            f"  held out {label}: live ROC-AUC {m['live_roc_auc']:.3f}, candidate "
            f"{m['roc_auc']:.3f} (difference {m['difference_low']:+.3f} to "
            f"{m['difference_high']:+.3f})"
        )
    click.echo(f"registered {registered} as a candidate: `moderation models shadow {registered}`")


@click.pass_context
def _train(ctx: click.Context, with_decisions: bool, source: str | None, **options: Any) -> None:
    if not with_decisions:
        if source is not None:
            raise click.UsageError("--source needs --with-decisions")
        ctx.invoke(public_train, **options)
        return
    if options.get("sets") or options.get("allow_restricted"):
        raise click.UsageError(
            "--with-decisions retrains on the live model's own public sets: no --sets"
        )
    train_with_decisions(source, options.get("out"), options.get("data_dir"), options.get("sample"))


train = click.Command(
    name="train",
    callback=_train,
    params=[
        *public_train.params,
        click.Option(
            ["--with-decisions"],
            is_flag=True,
            help="Retrain the live model with the site's moderator labels; register a candidate.",
        ),
        click.Option(
            ["--source"], help="With --with-decisions: only this source's labels (name or id)."
        ),
    ],
    help=(public_train.help or "")
    + "\n\nWith --with-decisions: the live model retrained with the moderators' labels (the"
    " newest 20% held out), registered as a candidate.",
)
