"""The whole `moderation train` run: read sets, train, measure on held-out rows, write the
artifact directory (model, manifest, card, plots). Kept apart from train.py so the fitting code
stays free of reporting and file layout."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from models.artifact import EMBEDDING_VOCAB_FILE, SHIPPED_DIR, save
from models.classifier import Classifier
from models.embedding import EMBEDDING_FILE, StaticEmbedding
from models.evaluate import (
    HeldoutRow,
    heldout_table,
    json_number,
    profanity_check_scores,
    score_reference,
    span_f1,
    threshold_metrics,
)
from models.splits import HELDOUT
from models.textnorm import normalised_text
from models.train import TrainConfig, TrainingRun, choose_sets, describe_sets, train

log = logging.getLogger(__name__)

BuildProgress = Callable[[str, float], None]


def _quiet(step: str, fraction: float) -> None:
    log.info("build %.0f%%: %s", 100 * fraction, step)


@dataclass(frozen=True)
class BuildResult:
    """What `moderation train` reports when it is done."""

    directory: Path
    version: str
    size_bytes: int
    seconds: float
    manifest: dict[str, Any]


# Share of the progress bar reached after each training step.
_TRAIN_STEPS = {
    "normalise": 0.12,
    "features": 0.35,
    "fit toxic": 0.45,
    "fit identity_hate": 0.52,
    "fit threat": 0.56,
    "fit spam": 0.58,
    "prune": 0.6,
    "calibrate": 0.64,
    "embedding stage": 0.66,
    "cross-fit toxic": 0.68,
    "tune highlights": 0.72,
}


def build_artifact(
    *,
    out: Path | None,
    set_names: Sequence[str] | None,
    allow_restricted: bool,
    data_dir: Path | None,
    seed: int,
    sample: float | None = None,
    progress: BuildProgress = _quiet,
    command: str | None = None,
    embedding_dir: Path | None = None,
) -> BuildResult:
    """Trains from the chosen sets and writes a complete artifact directory to ``out``; the
    embedding stage reads the distilled embedding in ``embedding_dir`` (default: the shipped
    artifact's, if it has one; none: no embedding stage)."""
    from models.datasets import DEFAULT_DATA_DIR, load_sets

    started = time.perf_counter()
    directory = out or SHIPPED_DIR
    root = Path(data_dir) if data_dir is not None else DEFAULT_DATA_DIR
    names = choose_sets(set_names, allow_restricted)
    progress("reading sets", 0.0)
    frame = load_sets(names, root)
    if sample is not None and 0 < sample < 1:
        frame = frame.sample(frac=sample, random_state=seed).reset_index(drop=True)
    if frame.empty:
        raise ValueError("the chosen sets hold no rows")
    progress("reading sets", 0.05)
    config = TrainConfig(seed=seed)
    embedding = read_embedding(embedding_dir)
    run = train(
        frame,
        config,
        progress=lambda step: progress(step, _TRAIN_STEPS.get(step, 0.6)),
        embedding=embedding,
    )
    progress("held-out evaluation", 0.75)
    metrics = measure(run)
    progress("out-of-domain evaluation", 0.8)
    metrics["out_of_domain"] = out_of_domain(run, names, root)
    progress("identity audit", 0.85)
    audit = identity_audit(run.classifier)
    training_seconds = time.perf_counter() - started
    manifest: dict[str, Any] = {
        "seed": seed,
        "config": config.as_dict(),
        "training_sets": describe_sets(names, root),
        "rows": _row_counts(run.frame),
        "metrics": metrics,
        # The held-out scores' distribution: drift's reference once this model is live.
        "score_reference": score_reference(
            run.frame.attrs["heldout_scores"][1], run.classifier.labels
        ),
        "identity_audit": audit.get("summary") if audit else None,
        "regularisation": run.regularisation,
        "embedding_stage": run.stage or None,
        "highlight_rule": {"gate": run.classifier.highlight.gate, **run.highlight},
        "calibration": {
            label: {"slope": float(a), "offset": float(b)}
            for label, a, b in zip(
                run.classifier.labels,
                run.classifier.calib_slope,
                run.classifier.calib_offset,
                strict=True,
            )
        },
        "training_seconds": round(training_seconds, 1),
        "step_seconds": run.seconds,
        "command": command or rebuild_command(out, set_names, allow_restricted, seed, sample),
    }
    progress("writing artifact", 0.9)
    full = save(run.classifier, directory, manifest)
    from models.card import write_card

    write_card(directory, full, run, audit)
    progress("done", 1.0)
    return BuildResult(
        directory=directory,
        version=run.classifier.version,
        size_bytes=int(full["size_bytes"]),
        seconds=time.perf_counter() - started,
        manifest=full,
    )


def read_embedding(directory: Path | None) -> StaticEmbedding | None:
    """The distilled embedding training stacks on: ``directory``'s, else the shipped
    artifact's if it has one (a rebuild reuses the vectors it shipped with)."""
    if directory is None:
        if not (SHIPPED_DIR / EMBEDDING_FILE).is_file():
            log.warning("no embedding in %s: training without the embedding stage", SHIPPED_DIR)
            return None
        directory = SHIPPED_DIR
    return StaticEmbedding.from_directory(directory, EMBEDDING_VOCAB_FILE)


def rebuild_command(
    out: Path | None,
    set_names: Sequence[str] | None,
    allow_restricted: bool,
    seed: int,
    sample: float | None,
) -> str:
    """The exact command line that rebuilds this artifact."""
    parts = ["moderation", "train"]
    if out is not None:
        parts += ["--out", str(out)]
    for name in set_names or ():
        parts += ["--sets", name]
    if allow_restricted:
        parts.append("--allow-restricted")
    parts += ["--seed", str(seed)]
    if sample is not None:
        parts += ["--sample", str(sample)]
    return " ".join(parts)


def _row_counts(frame: pd.DataFrame) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {}
    for set_name, rows in frame.groupby("set"):
        counts[str(set_name)] = {
            str(part): int(n) for part, n in rows["part"].value_counts().sort_index().items()
        }
    return counts


def measure(run: TrainingRun) -> dict[str, Any]:
    """Held-out metrics: per set x label against alt-profanity-check, thresholds, highlight F1."""
    classifier = run.classifier
    heldout = run.frame[run.frame["part"] == HELDOUT].reset_index(drop=True)
    ours = _calibrated(classifier, list(heldout["normalised"]))
    peer = profanity_check_scores(list(heldout["text"]))
    table = heldout_table(heldout, ours, peer, classifier.labels)
    run.frame.attrs["heldout_scores"] = (heldout, ours, peer)
    per_label: dict[str, Any] = {}
    for column, label in enumerate(classifier.labels):
        known = heldout[label].notna().to_numpy()
        y = heldout[label].to_numpy()[known].astype(int)
        per_label[label] = threshold_metrics(
            y, ours[known, column], classifier.thresholds.get(label, 0.5)
        )
    spans = heldout[heldout["spans"].map(lambda s: isinstance(s, list | tuple))]
    highlight_f1 = (
        span_f1(
            [classifier.highlights(text) for text in spans["text"]],
            [[tuple(x) for x in s] for s in spans["spans"]],
        )
        if len(spans)
        else None
    )
    return {
        "heldout": [row.as_dict() for row in table],
        "stage_gain": stage_gain(classifier, heldout, ours),
        "thresholds": per_label,
        "highlight_char_f1": None if highlight_f1 is None else round(highlight_f1, 4),
        "highlight_posts": int(len(spans)),
        "highlight_clean": clean_highlights(classifier, heldout, ours),
    }


def stage_gain(classifier: Classifier, heldout: pd.DataFrame, ours: np.ndarray) -> list[Any]:
    """What the embedding stage adds, per stacked label and held-out set: the stacked ROC-AUC
    beside the n-gram model's alone (its Platt-calibrated margin), paired bootstrap interval of
    the difference (the held-out table's, with the n-gram model as the peer)."""
    stage = classifier.embedding_stage
    if stage is None:
        return []
    ngram = classifier._calibrate(
        classifier.decision_function_normalised(list(heldout["normalised"]))
    )
    rows = []
    for label, column in zip(stage.labels, stage.columns, strict=True):
        table = heldout_table(heldout, ours[:, [column]], ngram[:, column], [label])
        rows += [row for row in map(HeldoutRow.as_dict, table) if row["roc_auc"] is not None]
    return rows


def clean_highlights(
    classifier: Classifier, rows: pd.DataFrame, scores: np.ndarray
) -> dict[str, Any]:
    """How often comments no rater found toxic show a highlight: of all of them, and of those
    no label flags (where only the span model's surer words may be marked). ``scores``: the
    rows' probabilities, already computed."""
    is_clean = (rows["toxic"] == 0).to_numpy()
    clean = rows[is_clean]
    marked = unflagged = unflagged_marked = 0
    for text, probabilities in zip(clean["text"], scores[is_clean], strict=True):
        shown = bool(classifier.highlights(text, probabilities))
        marked += shown
        if not classifier.flagged(probabilities):
            unflagged += 1
            unflagged_marked += shown
    return {
        "comments": int(len(clean)),
        "marked": round(marked / len(clean), 4) if len(clean) else None,
        "unflagged": unflagged,
        "unflagged_marked": round(unflagged_marked / unflagged, 4) if unflagged else None,
    }


def out_of_domain(run: TrainingRun, trained: Sequence[str], root: Path) -> list[dict[str, Any]]:
    """Every restricted set the model was not trained on, scored in full beside
    alt-profanity-check (evaluation only: these sets never train the shipped model).
    Texts also present in the training sets are left out."""
    from models.datasets import ADAPTERS, load_sets

    names = [
        name
        for name, adapter in ADAPTERS.items()
        if adapter.info.licence_class != "open" and name not in trained
    ]
    available = [name for name in names if (root / name).is_dir()]
    if not available:
        return []
    frame = load_sets(available, root).reset_index(drop=True)
    seen = set(run.frame["normalised"])
    normalised = [normalised_text(text) for text in frame["text"]]
    keep = np.fromiter((text not in seen for text in normalised), dtype=bool, count=len(frame))
    frame = frame[keep].reset_index(drop=True)
    normalised = [text for text, kept in zip(normalised, keep, strict=True) if kept]
    ours = _calibrated(run.classifier, normalised)
    peer = profanity_check_scores(list(frame["text"]))
    rows = [row.as_dict() for row in heldout_table(frame, ours, peer, run.classifier.labels)]
    for row in rows:
        row.update(_flagging(run.classifier, frame, ours, row["set"], row["label"]))
    return rows


def _flagging(
    classifier: Classifier, frame: pd.DataFrame, scores: np.ndarray, set_name: str, label: str
) -> dict[str, float | None]:
    """What the shipped threshold does on one set: the share of its clean rows flagged and of
    its positive rows (recall)."""
    rows = (frame["set"] == set_name).to_numpy() & frame[label].notna().to_numpy()
    metrics = threshold_metrics(
        frame[label].to_numpy()[rows],
        scores[rows, classifier.labels.index(label)],
        classifier.thresholds[label],
    )
    return {key: json_number(metrics[key]) for key in ("clean_flagged", "recall")}


def _calibrated(classifier: Classifier, normalised: list[str]) -> np.ndarray:
    return np.asarray(classifier.probabilities_normalised(normalised))


def identity_audit(classifier: Classifier) -> dict[str, Any] | None:
    """The identity-term audit (models.audit) of this classifier, if that module is present."""
    try:
        from models.audit import run_audit
    except ImportError:
        log.warning("models.audit is not available: no identity audit in the card")
        return None
    threshold = classifier.thresholds.get("toxic", 0.5)
    toxic = classifier.labels.index("toxic")
    report = run_audit(lambda texts: classifier.predict_proba(list(texts))[:, toxic], threshold)
    summary = {k: v for k, v in report.to_dict().items() if k != "terms"}
    summary["worst_terms"] = [term.term for term in report.worst_terms()]
    return {"report": report, "markdown": report.to_markdown(), "summary": summary}
