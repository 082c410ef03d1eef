"""Retraining with the site's own labels (`moderation train --with-decisions`).

The site's labels come in as plain rows (the objects of `moderation labels export`; the CLI layer
reads them from the database). They are

- de-duplicated: a text the public sets hold already is left out (its public label stands), and
  of one text decided several times only the newest decision is kept;
- split by time: the newest HELDOUT_SHARE are held out (never trained on, never tuned on: only
  the card and the registry's `site_heldout` gate see them), the newest VALIDATION_SHARE of the
  rest choose the weight, the older ones train;
- weighted by the factor of WEIGHT_GRID that gives the best mean ROC-AUC on the validation
  rows, among those that keep the public calibration rows' mean ROC-AUC within
  PUBLIC_TOLERANCE of the live model's.

What is retrained: the public part is reused, not refitted. The live model's vocabulary and
IDF stay; per label a new head is fitted on the public fit rows (at most PUBLIC_ROWS of them)
plus the weighted site rows, with the live model's margin as one more feature. The head folds
back into one linear model (coef = a * live coef + delta), so the candidate is an ordinary
artifact, as fast as the live one, with the live model's highlight rule; its calibration (Platt,
or the embedding stage's stacker) is refitted on public calibration and site validation rows.
A full public retrain takes about 11 minutes here before any site row is added, times the
weights tried; this one takes a few minutes with 20,000 site labels.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression

from models.classifier import Classifier
from models.evaluate import auc_difference_interval, mean_set_roc_auc, ranking_metrics
from models.splits import CALIBRATION, FIT, assign_parts
from models.textnorm import normalised_text
from models.train import FALLBACK_C, _best_threshold, _platt, set_balanced_weights

log = logging.getLogger(__name__)

SITE_SET = "site"
HELDOUT_SHARE = 0.2
VALIDATION_SHARE = 0.2
WEIGHT_GRID = (1.0, 3.0, 10.0, 30.0)
PUBLIC_TOLERANCE = 0.005
# Public fit rows each head is fitted on, at most (a random sample, the same for every weight).
PUBLIC_ROWS = 40_000
# The live margin enters the head scaled up, so the head's L2 penalty barely touches it.
MARGIN_SCALE = 10.0
# Site label rows a label needs in the held-out part (of each class) to be compared.
MIN_CLASS_ROWS = 5

Progress = Callable[[str, float], None]


def _quiet(step: str, fraction: float) -> None:
    log.info("site retrain %.0f%%: %s", 100 * fraction, step)


def site_frame(rows: Sequence[Mapping[str, Any]], labels: Sequence[str]) -> pd.DataFrame:
    """Export rows as a frame: text, one column per label (NaN where the decision says nothing),
    decided_at (UTC), reason_code, source, comment_id."""
    records = []
    for row in rows:
        decided = row["decided_at"]
        if isinstance(decided, str):
            decided = datetime.fromisoformat(decided.replace("Z", "+00:00"))
        if decided.tzinfo is None:
            decided = decided.replace(tzinfo=UTC)
        records.append(
            {
                "text": str(row["text"]),
                **{label: float(row[label]) if label in row else np.nan for label in labels},
                "decided_at": decided.astimezone(UTC),
                "reason_code": row.get("reason_code"),
                "source": row.get("source"),
                "comment_id": str(row.get("comment_id", "")),
            }
        )
    columns = ["text", *labels, "decided_at", "reason_code", "source", "comment_id"]
    return pd.DataFrame.from_records(records, columns=columns)


@dataclass
class SiteSplit:
    """The site's rows after de-duplication, in their three parts (each oldest first)."""

    train: pd.DataFrame
    validation: pd.DataFrame
    heldout: pd.DataFrame
    received: int
    public_duplicates: int
    repeated: int

    def parts(self) -> dict[str, pd.DataFrame]:
        return {"train": self.train, "validation": self.validation, "heldout": self.heldout}


def split_site(frame: pd.DataFrame, public_normalised: set[str]) -> SiteSplit:
    """De-duplicate against the public texts and within the site, then split by decision time."""
    frame = frame.copy()
    frame["normalised"] = [normalised_text(text) for text in frame["text"]]
    received = len(frame)
    in_public = frame["normalised"].isin(public_normalised).to_numpy()
    frame = frame[~in_public]
    frame = frame.sort_values(["decided_at", "comment_id"], kind="stable")
    before = len(frame)
    frame = frame.drop_duplicates("normalised", keep="last").reset_index(drop=True)
    n = len(frame)
    n_heldout = math.ceil(HELDOUT_SHARE * n)
    rest = n - n_heldout
    n_validation = math.ceil(VALIDATION_SHARE * rest)
    n_train = rest - n_validation
    return SiteSplit(
        train=frame.iloc[:n_train].reset_index(drop=True),
        validation=frame.iloc[n_train:rest].reset_index(drop=True),
        heldout=frame.iloc[rest:].reset_index(drop=True),
        received=received,
        public_duplicates=int(in_public.sum()),
        repeated=before - n,
    )


@dataclass
class SiteRetrain:
    """The candidate and what choosing it found."""

    classifier: Classifier
    weight: float
    # Per weight tried: site validation mean ROC-AUC and public calibration mean ROC-AUC.
    tried: list[dict[str, Any]]
    live_public_calibration: float | None
    split: SiteSplit
    public: pd.DataFrame  # the public frame with "normalised" and "part"
    seconds: dict[str, float] = field(default_factory=dict)


def _margin_columns(
    live: Classifier, normalised: Sequence[str]
) -> tuple[sp.csr_matrix, np.ndarray]:
    """The live model's TF-IDF rows and raw margins of normalised texts."""
    if not normalised:
        return sp.csr_matrix((0, len(live.idf))), np.zeros((0, len(live.labels)))
    return live._matrix(list(normalised)), live.decision_function_normalised(list(normalised))


def _head_design(x: sp.csr_matrix, margins: np.ndarray, column: int) -> sp.csr_matrix:
    return sp.hstack([sp.csr_matrix(margins[:, column : column + 1] * MARGIN_SCALE), x]).tocsr()


@dataclass
class _Rows:
    x: sp.csr_matrix
    margins: np.ndarray
    frame: pd.DataFrame
    sets: np.ndarray


def _rows(live: Classifier, frame: pd.DataFrame, sets: np.ndarray) -> _Rows:
    x, margins = _margin_columns(live, list(frame["normalised"]))
    return _Rows(x=x, margins=margins, frame=frame.reset_index(drop=True), sets=sets)


def _fold(live: Classifier, heads: Mapping[str, tuple[np.ndarray, float]]) -> Classifier:
    """One linear model from the live one and each label's head (weights on [margin, x])."""
    candidate = copy.copy(live)
    coef = live.coef.copy()
    intercept = live.intercept.copy()
    for column, label in enumerate(live.labels):
        if label not in heads:
            continue
        weights, bias = heads[label]
        scale = float(weights[0]) * MARGIN_SCALE
        coef[:, column] = scale * live.coef[:, column] + weights[1:]
        intercept[column] = scale * live.intercept[column] + bias
    candidate.coef = coef
    candidate.intercept = intercept
    candidate.calib_slope = live.calib_slope.copy()
    candidate.calib_offset = live.calib_offset.copy()
    candidate.thresholds = dict(live.thresholds)
    candidate._blocks = None  # the batch path's cached weights belong to the old coef
    return candidate


def _fit_heads(
    live: Classifier, public: _Rows, site: _Rows, weight: float, c_of: Mapping[str, float]
) -> dict[str, tuple[np.ndarray, float]]:
    heads: dict[str, tuple[np.ndarray, float]] = {}
    for column, label in enumerate(live.labels):
        parts_x, parts_y, parts_sets = [], [], []
        for rows in (public, site):
            known = rows.frame[label].notna().to_numpy()
            parts_x.append(_head_design(rows.x[known], rows.margins[known], column))
            parts_y.append(rows.frame[label].to_numpy()[known].astype(int))
            parts_sets.append(rows.sets[known])
        y = np.concatenate(parts_y)
        if len(np.unique(y)) < 2:
            continue
        sets = np.concatenate(parts_sets)
        weights = set_balanced_weights(sets, y)
        weights[sets == SITE_SET] *= weight
        model = LogisticRegression(
            C=c_of.get(label, FALLBACK_C), solver="liblinear", random_state=0, max_iter=200
        ).fit(sp.vstack(parts_x).tocsr(), y, sample_weight=weights)
        heads[label] = (model.coef_[0], float(model.intercept_[0]))
    return heads


def _site_auc(classifier: Classifier, rows: _Rows) -> float | None:
    """Mean over labels of the ROC-AUC on site rows (labels with both classes only)."""
    if not len(rows.frame):
        return None
    scores = classifier.probabilities_normalised(rows.frame["normalised"])
    values = []
    for column, label in enumerate(classifier.labels):
        known = rows.frame[label].notna().to_numpy()
        y = rows.frame[label].to_numpy()[known].astype(int)
        if len(np.unique(y)) == 2:
            values.append(float(ranking_metrics(y, scores[known, column])["roc_auc"]))
    return float(np.mean(values)) if values else None


def _public_auc(classifier: Classifier, rows: _Rows) -> float | None:
    """Mean over labels of the per-set mean ROC-AUC on public calibration rows."""
    scores = classifier.probabilities_normalised(rows.frame["normalised"])
    values = []
    for column, label in enumerate(classifier.labels):
        known = rows.frame[label].notna().to_numpy()
        value = mean_set_roc_auc(
            rows.frame[label].to_numpy()[known].astype(int), scores[known, column], rows.sets[known]
        )
        if value is not None:
            values.append(value)
    return float(np.mean(values)) if values else None


def _calibrate(classifier: Classifier, rows: list[_Rows]) -> None:
    """Per label, on the calibration rows given (public calibration and site validation: never
    the held-out ones): Platt scaling, or for a label the embedding stage re-scores its stacker
    over (new n-gram margin, embedding margin), as training fits it; then the flag threshold."""
    frame = pd.concat([r.frame for r in rows], ignore_index=True)
    normalised = list(frame["normalised"])
    margins = classifier.decision_function_normalised(normalised)
    stage = classifier.embedding_stage
    if stage is not None:
        stage = copy.copy(stage)  # the live model's stage stays as it is
        stage.stack, stage.stack_bias = stage.stack.copy(), stage.stack_bias.copy()
        classifier.embedding_stage = stage
        embedded = stage.embedding_margins(stage.embedding.embed(normalised))
    for column, label in enumerate(classifier.labels):
        known = frame[label].notna().to_numpy()
        y = frame[label].to_numpy()[known].astype(int)
        if len(np.unique(y)) < 2:
            continue
        if stage is not None and label in stage.labels:
            k = stage.labels.index(label)
            inputs = np.column_stack([margins[known, column], embedded[known, k]])
            stacker = LogisticRegression(C=1.0, max_iter=1000).fit(inputs, y)
            stage.stack[k], stage.stack_bias[k] = stacker.coef_[0], stacker.intercept_[0]
        else:
            slope, offset = _platt(margins[known, column], y)
            classifier.calib_slope[column], classifier.calib_offset[column] = slope, offset
    probabilities = classifier.probabilities_normalised(normalised)
    for column, label in enumerate(classifier.labels):
        known = frame[label].notna().to_numpy()
        y = frame[label].to_numpy()[known].astype(int)
        if len(np.unique(y)) == 2:
            classifier.thresholds[label] = _best_threshold(probabilities[known, column], y)


def retrain_with_site(
    live: Classifier,
    live_manifest: Mapping[str, Any],
    public: pd.DataFrame,
    site: pd.DataFrame,
    *,
    seed: int = 13,
    progress: Progress = _quiet,
) -> SiteRetrain:
    """The candidate from the live model, the public frame (load_sets' columns) and the site
    frame (site_frame's)."""
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(step: str, fraction: float) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[step] = round(now - clock, 2)
        clock = now
        progress(step, fraction)

    public = public.reset_index(drop=True).copy()
    public["normalised"] = [normalised_text(text) for text in public["text"]]
    # The live model's own split, so its public held-out rows stay unseen here too.
    public["part"] = assign_parts(
        public["group"], int(live_manifest.get("seed", seed)), public["set"]
    )
    split = split_site(site, set(public["normalised"]))
    if not len(split.train):
        raise ValueError(
            f"no site labels left to train on: {split.received} received, "
            f"{split.public_duplicates} are public texts, {split.repeated} repeats"
        )
    lap("split site labels", 0.15)

    fit_public = public[public["part"] == FIT]
    if len(fit_public) > PUBLIC_ROWS:
        fit_public = fit_public.sample(n=PUBLIC_ROWS, random_state=seed)
    cal_public = public[public["part"] == CALIBRATION]
    public_fit = _rows(live, fit_public, fit_public["set"].to_numpy())
    public_cal = _rows(live, cal_public, cal_public["set"].to_numpy())
    site_train = _rows(live, split.train, np.full(len(split.train), SITE_SET))
    site_val = _rows(live, split.validation, np.full(len(split.validation), SITE_SET))
    lap("features", 0.3)

    regularisation = live_manifest.get("regularisation") or {}
    c_of = {label: float(v.get("c", FALLBACK_C)) for label, v in regularisation.items()}
    live_public = _public_auc(live, public_cal)
    tried: list[dict[str, Any]] = []
    best: tuple[float, float, Classifier] | None = None
    for index, weight in enumerate(WEIGHT_GRID):
        candidate = _fold(live, _fit_heads(live, public_fit, site_train, weight, c_of))
        site_auc = _site_auc(candidate, site_val)
        public_auc = _public_auc(candidate, public_cal)
        within = (
            live_public is None
            or public_auc is None
            or public_auc >= live_public - PUBLIC_TOLERANCE
        )
        tried.append(
            {
                "weight": weight,
                "site_validation_roc_auc": site_auc,
                "public_calibration_roc_auc": public_auc,
                "within_public_tolerance": within,
            }
        )
        score = site_auc if site_auc is not None else (public_auc or 0.0)
        if within and (best is None or score > best[0] + 1e-9):
            best = (score, weight, candidate)
        lap(f"fit heads, weight {weight:g}", 0.3 + 0.45 * (index + 1) / len(WEIGHT_GRID))
    if best is None:  # no weight keeps the public figures: the gentlest one
        weight = WEIGHT_GRID[0]
        chosen = _fold(live, _fit_heads(live, public_fit, site_train, weight, c_of))
    else:
        _, weight, chosen = best
    _calibrate(chosen, [public_cal, site_val])
    chosen.version = site_version(live.version, split, weight)
    lap("calibrate", 0.78)
    return SiteRetrain(
        classifier=chosen,
        weight=weight,
        tried=tried,
        live_public_calibration=live_public,
        split=split,
        public=public,
        seconds=seconds,
    )


def site_version(live_version: str, split: SiteSplit, weight: float) -> str:
    """A version naming the site retrain: the live one, the site rows trained on and the weight."""
    digest = hashlib.sha256(f"{live_version}|{weight:g}".encode())
    for part in (split.train, split.validation):
        for text, decided in zip(part["normalised"], part["decided_at"], strict=True):
            digest.update(text.encode("utf-8", "surrogatepass"))
            digest.update(str(decided).encode())
    return f"site-{digest.hexdigest()[:12]}"


def site_heldout(
    live: Classifier, candidate: Classifier, heldout: pd.DataFrame, compared_with: str
) -> dict[str, Any]:
    """The manifest's `site_heldout` section (the registry's site gate reads it): per label with
    enough rows of both classes, both models' ROC-AUC and the 95% bootstrap interval of the
    difference (candidate minus live)."""
    section: dict[str, Any] = {"compared_with": compared_with, "n": int(len(heldout)), "labels": {}}
    if not len(heldout):
        return section
    normalised = list(heldout["normalised"])
    ours = candidate.probabilities_normalised(normalised)
    theirs = live.probabilities_normalised(normalised)
    for column, label in enumerate(candidate.labels):
        known = heldout[label].notna().to_numpy()
        y = heldout[label].to_numpy()[known].astype(int)
        positives = int(y.sum())
        if positives < MIN_CLASS_ROWS or len(y) - positives < MIN_CLASS_ROWS:
            continue
        low, high = auc_difference_interval(y, ours[known, column], theirs[known, column])
        section["labels"][label] = {
            "n": int(len(y)),
            "positives": positives,
            "roc_auc": round(float(ranking_metrics(y, ours[known, column])["roc_auc"]), 4),
            "live_roc_auc": round(float(ranking_metrics(y, theirs[known, column])["roc_auc"]), 4),
            "difference_low": round(low, 4),
            "difference_high": round(high, 4),
        }
    return section


def site_counts(split: SiteSplit, labels: Sequence[str]) -> dict[str, Any]:
    """The manifest's `site_labels` section: rows per part, per label (positives, negatives) and
    per reason code, and what de-duplication left out."""
    parts = split.parts()
    counts: dict[str, Any] = {
        "received": split.received,
        "public_duplicates": split.public_duplicates,
        "repeated": split.repeated,
        "rows": {name: int(len(frame)) for name, frame in parts.items()},
        "labels": {},
        "reasons": {},
    }
    for label in labels:
        counts["labels"][label] = {
            name: {
                "positives": int((frame[label] == 1).sum()),
                "negatives": int((frame[label] == 0).sum()),
            }
            for name, frame in parts.items()
        }
    for name, frame in parts.items():
        for reason, n in frame["reason_code"].fillna("none").value_counts().sort_index().items():
            counts["reasons"].setdefault(str(reason), {})[name] = int(n)
    if len(split.heldout):
        counts["heldout_from"] = split.heldout["decided_at"].min().isoformat()
    return counts
