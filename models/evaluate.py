"""Measuring a classifier: per-label ranking and threshold metrics, held-out tables against
alt-profanity-check, and the SemEval-2021 character F1 of highlights."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import rankdata
from sklearn.metrics import average_precision_score, roc_auc_score

from models.spans import mean_span_f1

Span = tuple[int, int]
# Rows of a class needed on each side before an AUC is reported.
MIN_PER_CLASS = 5


class EvaluationDataError(Exception):
    """The labelled file cannot be evaluated (missing, unreadable, no text column)."""


def span_f1(predicted: Sequence[Sequence[Span]], gold: Sequence[Sequence[Span]]) -> float:
    """Mean per-post character F1 (the task's official score); NaN with no posts."""
    if not gold:
        return float("nan")
    return mean_span_f1(zip(predicted, gold, strict=True))


def ranking_metrics(
    y: np.ndarray, scores: np.ndarray, min_per_class: int = MIN_PER_CLASS
) -> dict[str, float | int]:
    """ROC-AUC and PR-AUC (average precision), or NaN when a class is too small."""
    y = np.asarray(y).astype(int)
    positives = int(y.sum())
    negatives = int(len(y) - positives)
    result: dict[str, float | int] = {"n": int(len(y)), "positives": positives}
    if positives < max(min_per_class, 1) or negatives < max(min_per_class, 1):
        result["roc_auc"] = float("nan")
        result["pr_auc"] = float("nan")
    else:
        result["roc_auc"] = float(roc_auc_score(y, scores))
        result["pr_auc"] = float(average_precision_score(y, scores))
    return result


def mean_set_roc_auc(y: np.ndarray, scores: np.ndarray, sets: np.ndarray) -> float | None:
    """ROC-AUC averaged over the sets with enough rows of both classes (None if no set has):
    each set counts once, so one large set cannot decide alone what generalises."""
    values = [
        float(ranking_metrics(y[sets == name], scores[sets == name])["roc_auc"])
        for name in np.unique(sets)
    ]
    scored = [value for value in values if not math.isnan(value)]
    return float(np.mean(scored)) if scored else None


# Resamples behind each interval of auc_difference_interval.
BOOTSTRAP_RESAMPLES = 1000


def _roc_auc(positives: np.ndarray, negatives: np.ndarray) -> float:
    """ROC-AUC as the Mann-Whitney statistic (ties count half), from ranks."""
    ranks = rankdata(np.concatenate([positives, negatives]))
    n_pos, n_neg = len(positives), len(negatives)
    return float((ranks[:n_pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def auc_difference_interval(
    y: np.ndarray,
    ours: np.ndarray,
    peer: np.ndarray,
    seed: int = 0,
    resamples: int = BOOTSTRAP_RESAMPLES,
) -> tuple[float, float]:
    """95% interval of ROC-AUC(ours) - ROC-AUC(peer), by a paired bootstrap of the rows that
    keeps each class's count. On a set with 42 positives a gap of 0.05 can be chance, and a
    reader of the card should be able to tell that from a real difference."""
    y = np.asarray(y).astype(int)
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    rng = np.random.default_rng(seed)
    differences = np.empty(resamples)
    for k in range(resamples):
        p, n = rng.choice(pos, len(pos)), rng.choice(neg, len(neg))
        differences[k] = _roc_auc(ours[p], ours[n]) - _roc_auc(peer[p], peer[n])
    low, high = np.percentile(differences, [2.5, 97.5])
    return float(low), float(high)


def threshold_metrics(y: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, float]:
    """Precision, recall, flag rate and the share of clean (0) rows flagged (the reviews a
    moderator spends for nothing) when flagging at ``threshold``."""
    y = np.asarray(y).astype(int)
    flagged = np.asarray(scores) >= threshold
    tp = float(np.sum(flagged & (y == 1)))
    clean = y == 0
    return {
        "threshold": float(threshold),
        "precision": tp / float(flagged.sum()) if flagged.any() else float("nan"),
        "recall": tp / float(y.sum()) if y.any() else float("nan"),
        "flag_rate": float(flagged.mean()) if len(y) else float("nan"),
        "clean_flagged": float(flagged[clean].mean()) if clean.any() else float("nan"),
    }


def profanity_check_scores(texts: Sequence[str]) -> np.ndarray:
    """alt-profanity-check's probability per text (the peer we compare against)."""
    from profanity_check import predict_prob

    return np.asarray(predict_prob(list(texts)), dtype=float)


@dataclass(frozen=True)
class HeldoutRow:
    """One set x label line of the held-out table."""

    set: str
    label: str
    n: int
    positives: int
    roc_auc: float
    pr_auc: float
    peer_roc_auc: float
    peer_pr_auc: float
    peer_trained_on_set: bool
    # 95% interval of roc_auc - peer_roc_auc (auc_difference_interval); NaN when no AUC.
    difference_low: float = float("nan")
    difference_high: float = float("nan")

    def as_dict(self) -> dict[str, Any]:
        return {k: json_number(v) for k, v in self.__dict__.items()}


# alt-profanity-check was trained on these (so beating it there is not the target).
PEER_TRAINING_SETS = frozenset(
    {"davidson-hate-offensive", "jigsaw-toxic-partial", "jigsaw-toxic-6label-partial"}
)


def heldout_table(
    frame: pd.DataFrame,
    ours: np.ndarray,
    peer: np.ndarray,
    labels: Sequence[str],
) -> list[HeldoutRow]:
    """Per set and label: our ROC-AUC / PR-AUC beside alt-profanity-check's on the same rows."""
    rows: list[HeldoutRow] = []
    for set_name in sorted(frame["set"].unique()):
        in_set = (frame["set"] == set_name).to_numpy()
        for column, label in enumerate(labels):
            known = in_set & frame[label].notna().to_numpy()
            if not known.any():
                continue
            y = frame[label].to_numpy()[known].astype(int)
            mine = ranking_metrics(y, ours[known, column])
            theirs = ranking_metrics(y, peer[known])
            low, high = (
                auc_difference_interval(y, ours[known, column], peer[known])
                if not math.isnan(float(mine["roc_auc"]))
                else (float("nan"), float("nan"))
            )
            rows.append(
                HeldoutRow(
                    set=set_name,
                    label=label,
                    n=int(mine["n"]),
                    positives=int(mine["positives"]),
                    roc_auc=float(mine["roc_auc"]),
                    pr_auc=float(mine["pr_auc"]),
                    peer_roc_auc=float(theirs["roc_auc"]),
                    peer_pr_auc=float(theirs["pr_auc"]),
                    peer_trained_on_set=set_name in PEER_TRAINING_SETS,
                    difference_low=low,
                    difference_high=high,
                )
            )
    return rows


def json_number(value: Any) -> Any:
    """NaN (a metric that is not defined) as JSON's null."""
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


# -- evaluating a labelled file (moderation evaluate) ---------------------------------------------
def read_labelled_file(path: Path) -> pd.DataFrame:
    """A CSV, TSV or JSONL file with a ``text`` column, read with readable errors."""
    if not path.is_file():
        raise EvaluationDataError(f"no such file: {path}")
    name = path.name.lower().removesuffix(".gz")
    try:
        if name.endswith(".jsonl") or name.endswith(".ndjson"):
            frame = pd.read_json(path, lines=True)
        elif name.endswith(".tsv"):
            frame = pd.read_csv(path, sep="\t")
        else:
            frame = pd.read_csv(path)
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise EvaluationDataError(f"cannot read {path}: {exc}") from exc
    if "text" not in frame.columns:
        raise EvaluationDataError(
            f"{path} has no 'text' column (columns: {', '.join(map(str, frame.columns))})"
        )
    frame["text"] = frame["text"].fillna("").astype(str)
    return frame


def evaluate_frame(
    frame: pd.DataFrame,
    labels: Sequence[str],
    thresholds: dict[str, float],
    predict: Callable[[Sequence[str]], np.ndarray],
) -> dict[str, dict[str, Any]]:
    """Per label that has a 0/1 column: ROC-AUC, PR-AUC, precision, recall, flag rate."""
    present = [label for label in labels if label in frame.columns]
    if not present:
        return {}
    scores = predict(list(frame["text"]))
    report: dict[str, dict[str, Any]] = {}
    for label in present:
        column = labels.index(label)
        values = pd.to_numeric(frame[label], errors="coerce")
        known = values.notna().to_numpy()
        y = values.to_numpy()[known].astype(int)
        s = scores[known, column]
        metrics: dict[str, Any] = ranking_metrics(y, s, min_per_class=1)
        metrics.update(threshold_metrics(y, s, thresholds.get(label, 0.5)))
        report[label] = {k: json_number(v) for k, v in metrics.items()}
    return report


def report_json(report: dict[str, dict[str, Any]]) -> str:
    return json.dumps(report, indent=2, sort_keys=True)


# The drift reference's bins (core.drift reads this manifest section in the same form).
REFERENCE_BINS = 10


def score_reference(scores: np.ndarray, labels: Sequence[str]) -> dict[str, Any]:
    """The manifest's `score_reference`: per label, the held-out scores as decile bins, `edges`
    from 0.0 to 1.0 (ties merged) and the share of scores in each bin [edges[i], edges[i+1])
    (the last closed at 1), with their `count`. After a promotion, drift is measured against
    it (core.drift)."""
    section: dict[str, Any] = {}
    for column, label in enumerate(labels):
        values = np.asarray(scores[:, column], dtype=np.float64)
        values = values[~np.isnan(values)]
        if not len(values):
            continue
        quantiles = np.quantile(values, np.linspace(0, 1, REFERENCE_BINS + 1)[1:-1])
        inner = sorted({round(float(q), 6) for q in quantiles if 0.0 < q < 1.0})
        edges = [0.0, *inner, 1.0]
        counts = np.bincount(
            np.searchsorted(np.asarray(inner), values, side="right"), minlength=len(edges) - 1
        )
        section[label] = {
            "edges": edges,
            "fractions": [float(c) / len(values) for c in counts],
            "count": int(len(values)),
        }
    return section
