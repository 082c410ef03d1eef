"""`moderation labels export`: the moderators' decisions as labelled text, one JSON line each."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import click

from cli.database import cli_session
from core.labels import LabelFilters, UnknownSource, count_decided_comments, iter_labels


def _since(value: str | None) -> datetime | None:
    """A date (2026-11-01) or an ISO time; without a zone it is UTC."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise click.BadParameter(
            f"not a date: {value!r} (use e.g. 2026-11-01 or 2026-11-01T12:00:00Z)",
            param_hint="--since",
        ) from exc
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


@click.group()
def labels() -> None:
    """Labels the moderators' decisions give the comments they decided."""


@labels.command()
@click.option("--source", help="Only this source (its name or id).")
@click.option("--since", "since_text", metavar="DATE", help="Only decisions from DATE on.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    required=True,
    help="The JSONL file to write (what `moderation evaluate --data` reads).",
)
def export(source: str | None, since_text: str | None, out: Path) -> None:
    """Write every labelled revision as a JSON line: text, the labels the decision gives (a label
    it says nothing about is absent), source, comment_id, revision, decided_at, reason_code."""
    filters = LabelFilters(source=source, since=_since(since_text))
    partial = out.with_name(out.name + ".partial")
    written = 0
    try:
        with cli_session(UnknownSource) as session, partial.open("w", encoding="utf-8") as handle:
            total = count_decided_comments(session, filters)
            with click.progressbar(length=total, label="Reading decisions") as bar:
                for label in iter_labels(session, filters, progress=bar.update):
                    handle.write(json.dumps(label.as_json(), ensure_ascii=False) + "\n")
                    written += 1
        os.replace(partial, out)
    except OSError as exc:
        raise click.ClickException(f"cannot write {out}: {exc.strerror or exc}") from exc
    finally:
        partial.unlink(missing_ok=True)
    click.echo(f"{written} labelled revisions written to {out}")
