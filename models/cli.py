"""`moderation train`, `moderation evaluate` and `moderation score`: the classifier from a shell."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import click

# Lines scored per batch by `score --jsonl` (bounded memory, batch-path speed).
JSONL_BATCH = 2000

# Which model `evaluate` and `score` load.
MODEL_DIR = click.option(
    "--model",
    "model_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    envvar="MODEL_DIR",
    help="Artifact directory (default: MODEL_DIR or the shipped model).",
)
MODEL_SHA256 = click.option(
    "--sha256",
    "sha256",
    default=None,
    envvar="MODEL_SHA256",
    help="Expected sha256 of the model file, needed for any --model but the shipped one "
    "(default: MODEL_SHA256).",
)


def _load(model_dir: Path | None, sha256: str | None) -> Any:
    import models
    from models.artifact import ModelError

    try:
        return models.load(model_dir, sha256)
    except ModelError as exc:
        raise click.ClickException(str(exc)) from exc


@click.command()
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Artifact directory to write (default: the shipped models/artifacts/).",
)
@click.option("--sets", "sets", multiple=True, help="Train only on these sets (repeatable).")
@click.option(
    "--allow-restricted",
    is_flag=True,
    help="Also use sets whose licence is not open (for your own use only).",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the labelled sets live (default: ../shared/data).",
)
@click.option("--seed", type=int, default=13, show_default=True)
@click.option(
    "--embedding",
    "embedding_dir",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=None,
    help="Folder with the distilled embedding (embedding.npy, embedding_vocab.txt; "
    "default: the shipped artifact's).",
)
@click.option(
    "--sample",
    type=float,
    default=None,
    hidden=True,
    help="Train on this fraction of rows (quick runs and tests).",
)
def train(
    out: Path | None,
    sets: tuple[str, ...],
    allow_restricted: bool,
    data_dir: Path | None,
    seed: int,
    embedding_dir: Path | None,
    sample: float | None,
) -> None:
    """Train the classifier and write the artifact directory (model, manifest, card, plots)."""
    from models.reproducible import pin_blas

    pin_blas()  # before anything loads numpy: the same weights on every x86-64 CPU with AVX2
    from models.build import build_artifact
    from models.train import TrainingDataError

    with click.progressbar(length=100, label="training", show_eta=False) as bar:
        done = [0]

        def progress(step: str, fraction: float) -> None:
            target = int(fraction * 100)
            bar.label = f"training: {step:<24}"
            if target > done[0]:
                bar.update(target - done[0])
                done[0] = target

        try:
            result = build_artifact(
                out=out,
                set_names=list(sets) or None,
                allow_restricted=allow_restricted,
                data_dir=data_dir,
                seed=seed,
                sample=sample,
                progress=progress,
                embedding_dir=embedding_dir,
            )
        except (TrainingDataError, FileNotFoundError, ValueError) as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(
        f"wrote {result.directory} (model {result.version}, "
        f"{result.size_bytes / 1e6:.1f} MB, trained in {result.seconds:.0f} s)"
    )
    from models.artifact import is_shipped

    digest = result.manifest["sha256"]
    if is_shipped(result.directory):
        click.echo(f"sha256 {digest}: put it in SHIPPED_MODEL_SHA256 (models/artifact.py)")
    else:
        click.echo(f"sha256 {digest}: load it with MODEL_SHA256={digest}")


@click.command()
@MODEL_DIR
@MODEL_SHA256
@click.option("--data", "data", type=click.Path(path_type=Path), required=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def evaluate(model_dir: Path | None, sha256: str | None, data: Path, as_json: bool) -> None:
    """Per-label ROC-AUC, PR-AUC, precision, recall and flag rate on a labelled file."""
    from models.evaluate import EvaluationDataError, evaluate_frame, read_labelled_file

    try:
        frame = read_labelled_file(data)
    except EvaluationDataError as exc:
        raise click.ClickException(str(exc)) from exc
    classifier = _load(model_dir, sha256)
    report = evaluate_frame(
        frame, list(classifier.labels), classifier.thresholds, classifier.predict_proba
    )
    if not report:
        raise click.ClickException(
            f"{data} has no label column (expected one of: {', '.join(classifier.labels)})"
        )
    if as_json:
        click.echo(json.dumps(report, indent=2, sort_keys=True))
        return
    click.echo(
        f"{'label':<14} {'n':>7} {'pos':>6} {'ROC-AUC':>8} {'PR-AUC':>7} "
        f"{'thresh':>6} {'prec':>6} {'recall':>6} {'flag%':>6}"
    )
    for label, m in report.items():
        click.echo(
            f"{label:<14} {m['n']:>7} {m['positives']:>6} {_fmt(m['roc_auc']):>8} "
            f"{_fmt(m['pr_auc']):>7} {m['threshold']:>6.2f} {_fmt(m['precision']):>6} "
            f"{_fmt(m['recall']):>6} {_fmt(100 * m['flag_rate'], 1):>6}"
        )


def _fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _jsonl_texts(handle: IO[str]) -> Iterator[tuple[int, str]]:
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise click.ClickException(f"line {number}: not JSON ({exc.msg})") from exc
        if not isinstance(item, dict) or not isinstance(item.get("text"), str):
            raise click.ClickException(f'line {number}: expected an object with a "text" string')
        yield number, item["text"]


def _result(classifier: Any, text: str, probabilities: Any, explain: bool) -> dict[str, Any]:
    result: dict[str, Any] = {
        "scores": {
            label: round(float(p), 6)
            for label, p in zip(classifier.labels, probabilities, strict=True)
        },
        "highlights": [list(span) for span in classifier.highlights(text, probabilities)],
    }
    if explain:
        result["explanation"] = {
            label: [[s, e, w] for s, e, w in spans]
            for label, spans in classifier.explain(text).items()
        }
    return result


@click.command()
@click.argument("text", required=False)
@click.option(
    "--jsonl",
    "jsonl",
    type=click.File("r", encoding="utf-8"),
    default=None,
    help='Score objects {"text": ...}, one per line, from FILE or - (stdin).',
)
@click.option("--explain", is_flag=True, help="Add the per-label explanation.")
@MODEL_DIR
@MODEL_SHA256
def score(
    text: str | None,
    jsonl: IO[str] | None,
    explain: bool,
    model_dir: Path | None,
    sha256: str | None,
) -> None:
    """Score one TEXT (with its highlights), or every line of a JSONL file."""
    if (text is None) == (jsonl is None):
        raise click.UsageError("give either TEXT or --jsonl FILE (use - for stdin)")
    classifier = _load(model_dir, sha256)
    if text is not None:
        probabilities = classifier.predict_one(text)
        click.echo(json.dumps(_result(classifier, text, probabilities, explain)))
        return
    assert jsonl is not None
    started = time.perf_counter()
    count = 0
    batch: list[str] = []
    out = sys.stdout

    def flush() -> None:
        if not batch:
            return
        probabilities = classifier.predict_proba(batch)
        for item, row in zip(batch, probabilities, strict=True):
            out.write(json.dumps(_result(classifier, item, row, explain)) + "\n")
        batch.clear()

    for _, item in _jsonl_texts(jsonl):
        batch.append(item)
        count += 1
        if len(batch) >= JSONL_BATCH:
            flush()
    flush()
    out.flush()
    click.echo(f"scored {count} lines in {time.perf_counter() - started:.1f} s", err=True)
