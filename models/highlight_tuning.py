"""Tuning what a moderator sees highlighted: the two-stage span model fitted on the gold toxic
spans, its word threshold, gate and at-least-one rule chosen by grouped cross-validation over
the fit and calibration posts, and the surer bar of comments no label flags, set from clean
comments. Kept apart from train.py, which fits the classifier this builds on."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from models.classifier import Classifier, HighlightRule
from models.highlight import SpanModel, Unit
from models.highlighter import eligible_units
from models.splits import CALIBRATION, FIT

log = logging.getLogger(__name__)

# The span model's settings. C 0.1 with contributions beat C 0.3 and no contributions on
# calibration (0.656 vs 0.654) and in grouped 5-fold CV over fit + calibration (0.661 vs 0.659).
SPAN_C = 0.1
SPAN_FOLDS = 5
SPAN_GATES = (0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5)
SPAN_THRESHOLDS = np.round(np.arange(0.2, 0.701, 0.025), 3)


def _smoothed(curve: np.ndarray) -> np.ndarray:
    """Each threshold's F1 averaged with its two neighbours: a plateau beats a lone spike, which
    on ~1,300 posts is as likely noise as signal."""
    padded = np.concatenate([curve[:1], curve, curve[-1:]])
    return (padded[:-2] + padded[1:-1] + padded[2:]) / 3


def span_folds(groups: Sequence[str]) -> list[np.ndarray]:
    """Post indices of each held-out fold: grouped (near-duplicates stay together), seed-free."""
    from sklearn.model_selection import GroupKFold

    n_splits = min(SPAN_FOLDS, len(set(groups)))
    if n_splits < 2:
        return []
    splitter = GroupKFold(n_splits=n_splits)
    return [test for _, test in splitter.split(np.zeros(len(groups)), groups=list(groups))]


def _prior_rows(frame: pd.DataFrame, has_spans: np.ndarray) -> tuple[list[str], list[int]]:
    """Fit-part rows with a toxic label outside the span-labelled sets: the word prior's data."""
    rows = frame[(frame["part"] == FIT).to_numpy() & ~has_spans & frame["toxic"].notna().to_numpy()]
    return list(rows["normalised"]), [int(y) for y in rows["toxic"]]


def has_gold_spans(rows: pd.DataFrame) -> np.ndarray:
    """Which rows carry gold toxic spans (an empty list counts: raters marked no single span)."""
    return rows["spans"].map(lambda s: isinstance(s, list | tuple)).to_numpy()


# On comments no label flags and no rater found toxic, at most this share may show a highlighted
# word. The rule it replaced (a word must raise the toxic log-odds by 1 on its own) marked 8.4%
# of the calibration split's clean comments; the span model's own surety does better at that rate.
UNFLAGGED_MARK_BUDGET = 0.08
# How much less surety a word needs per unit of its comment's score; tuning picks one.
UNFLAGGED_SLOPES = (0.0, 0.5, 1.0, 1.5, 2.0)
# Up to 3: a word probability (< 1) plus 2 x an unflagged comment's score (< 1) stays below it,
# so every slope finds a threshold within the budget.
UNFLAGGED_THRESHOLDS = np.round(np.arange(0.35, 3.0001, 0.0125), 4)


@dataclass(frozen=True)
class UnflaggedRule:
    """On a comment no label flags, a word is marked from probability threshold - slope x the
    comment's score (SpanModel.word_threshold); ``marked``: the share of the calibration split's
    clean unflagged comments that then show a mark."""

    threshold: float
    slope: float
    marked: float | None

    def word_thresholds(self, scores: np.ndarray) -> np.ndarray:
        return self.threshold - self.slope * np.asarray(scores, dtype=np.float64)


def _clean_unflagged(
    classifier: Classifier, span_model: SpanModel, frame: pd.DataFrame
) -> np.ndarray:
    """(comments x 2): score and likeliest markable word of each calibration-split comment that
    no rater found toxic and no label flags."""
    clean = frame[(frame["part"] == CALIBRATION).to_numpy() & (frame["toxic"] == 0).to_numpy()]
    rows: list[tuple[float, float]] = []
    for text in clean["text"]:
        probabilities = classifier.predict_one(text)
        if classifier.flagged(probabilities):
            continue
        score = classifier.highlight_score(probabilities)
        units = classifier.words(text)
        allowed = eligible_units(units, flagged=False)
        if not allowed.any():
            rows.append((score, 0.0))
            continue
        word = span_model.word_probabilities(text, units, probabilities)
        rows.append((score, float(word[allowed].max())))
    return np.asarray(rows, dtype=np.float64).reshape(-1, 2)


def _unflagged_rules(clean: np.ndarray) -> list[UnflaggedRule]:
    """Per slope of UNFLAGGED_SLOPES, the lowest threshold of UNFLAGGED_THRESHOLDS at which at
    most UNFLAGGED_MARK_BUDGET of the clean unflagged comments (_clean_unflagged) show a mark.
    Chosen from clean comments alone, never from gold spans: they say how sure the span model
    must be before it marks a comment nobody flagged; tuning on the span posts then picks the
    slope."""
    if not len(clean):
        return [UnflaggedRule(float(UNFLAGGED_THRESHOLDS[-1]), 0.0, None)]
    rules = []
    for slope in UNFLAGGED_SLOPES:
        reach = clean[:, 1] + slope * clean[:, 0]  # marked where reach >= threshold
        shares = [(float(t), float((reach >= t).mean())) for t in UNFLAGGED_THRESHOLDS]
        threshold, marked = next(s for s in shares if s[1] <= UNFLAGGED_MARK_BUDGET)
        rules.append(UnflaggedRule(threshold, slope, round(marked, 4)))
    return rules


def fit_highlights(
    classifier: Classifier,
    frame: pd.DataFrame,
    seed: int,
    unseen: dict[int, tuple[np.ndarray, list[Unit]]] | None = None,
) -> dict[str, Any]:
    """Fits the two-stage span model on the fit and calibration parts of the sets with gold
    spans, derives from clean comments one unflagged-comment rule per slope (_unflagged_rules),
    then chooses that rule, its word threshold, at-least-one rule and score gate by grouped
    cross-validation over those same posts (never on held-out rows).

    The second stage learns from out-of-fold first-stage probabilities, as it will see them on
    new comments; both stages are then refitted on every fit and calibration post (6.9k instead
    of the 5.6k fit posts alone). ``unseen`` holds, by frame index, the scores and words of the
    fit-part posts as a classifier that never saw them gives them (_unseen_span_scores); other
    posts are scored by ``classifier``."""
    has_spans = has_gold_spans(frame)
    in_parts = frame["part"].isin([FIT, CALIBRATION]).to_numpy()
    rows = frame[has_spans & in_parts]
    groups = [str(g) for g in rows["group"]]
    folds = span_folds(groups)
    if not folds:
        return {}
    from models.highlight import f1_by_threshold, fit_span_model, word_labels
    from models.span_stage import dense_features, fit_tree_stage, word_prior

    texts = list(rows["text"])
    gold = [[(int(a), int(b)) for a, b in spans] for spans in rows["spans"]]
    unseen = unseen or {}
    scored = [
        unseen[index] if index in unseen else classifier.highlight_units(text)
        for index, text in zip(rows.index, texts, strict=True)
    ]
    units = [u for _, u in scored]
    labels = [word_labels(u, g) for u, g in zip(units, gold, strict=True)]
    prior = word_prior(*_prior_rows(frame, has_spans))

    def dense(index: int, first: np.ndarray) -> np.ndarray:
        return dense_features(texts[index], units[index], first, scored[index][0], prior)

    def out_of_fold(
        fit: Callable[[np.ndarray], Any], predict: Callable[[Any, int], np.ndarray]
    ) -> list[np.ndarray]:
        """Each post's prediction from the model fitted on the other folds."""
        predictions: list[np.ndarray] = [np.zeros(0)] * len(rows)
        for test in folds:
            fitted = fit(np.setdiff1d(np.arange(len(rows)), test))
            for i in test:
                predictions[i] = predict(fitted, i)
        return predictions

    # Out-of-fold first stage, then out-of-fold second stage over it.
    first_oof = out_of_fold(
        lambda train: fit_span_model(
            [units[i] for i in train], [gold[i] for i in train], c=SPAN_C, seed=seed
        ),
        lambda model, i: model.probabilities(units[i]),
    )
    features = [dense(i, first_oof[i]) for i in range(len(rows))]
    final_oof = out_of_fold(
        lambda train: fit_tree_stage(
            np.vstack([features[i] for i in train]),
            np.concatenate([labels[i] for i in train]),
            seed,
        ),
        lambda stage, i: stage.probabilities(features[i]) if len(units[i]) else np.zeros(0),
    )

    final = fit_span_model(units, gold, c=SPAN_C, seed=seed)
    final.stage = fit_tree_stage(np.vstack(features), np.concatenate(labels), seed)
    final.prior = prior
    rules = _unflagged_rules(_clean_unflagged(classifier, final, frame))

    top = np.array([classifier.highlight_score(probabilities) for probabilities, _ in scored])
    # A gated post marks nothing: F1 1 if its gold is empty too, else 0.
    gated_score = np.array([0.0 if spans else 1.0 for spans in gold])
    # Tuned with the rules highlights() applies to a comment no label flags.
    flags = [classifier.flagged(probabilities) for probabilities, _ in scored]
    eligible = [eligible_units(u, f) for u, f in zip(units, flags, strict=True)]
    is_cal = (rows["part"] == CALIBRATION).to_numpy()
    best: dict[str, Any] = {"smoothed": -1.0}
    by_slope: dict[float, float] = {}
    for rule, at_least_one in itertools.product(rules, (False, True)):
        per_post = np.vstack(
            [
                f1_by_threshold(text, u, p, ok, f, spans, SPAN_THRESHOLDS, at_least_one, reach)
                for text, u, p, ok, f, spans, reach in zip(
                    texts,
                    units,
                    final_oof,
                    eligible,
                    flags,
                    gold,
                    rule.word_thresholds(top),
                    strict=True,
                )
            ]
        )
        for gate in SPAN_GATES:
            shown = np.where((top >= gate)[:, None], per_post, gated_score[:, None])
            curve = shown.mean(axis=0)
            smooth = _smoothed(curve)
            k = int(np.argmax(smooth))
            by_slope[rule.slope] = max(by_slope.get(rule.slope, 0.0), float(smooth[k]))
            if smooth[k] > best["smoothed"] + 1e-9:
                best = {
                    "smoothed": float(smooth[k]),
                    "score": float(curve[k]),
                    "gate": gate,
                    "threshold": float(SPAN_THRESHOLDS[k]),
                    "at_least_one": at_least_one,
                    "rule": rule,
                    "calibration_posts": (
                        round(float(shown[is_cal, k].mean()), 4) if is_cal.any() else None
                    ),
                }

    final.threshold = best["threshold"]
    final.at_least_one = best["at_least_one"]
    final.unflagged_threshold = best["rule"].threshold
    final.unflagged_slope = best["rule"].slope
    classifier.span_model = final
    classifier.highlight = HighlightRule(gate=best["gate"])
    log.info(
        "span model: gate %.2f, word threshold %.3f, cross-validated F1 %.3f",
        best["gate"],
        best["threshold"],
        best["score"],
    )
    return {
        "gate": best["gate"],
        "word_threshold": best["threshold"],
        "tuning_char_f1": round(best["score"], 4),
        "tuning_char_f1_smoothed": round(best["smoothed"], 4),
        "tuning_char_f1_calibration_posts": best["calibration_posts"],
        "tuning": f"grouped {len(folds)}-fold cross-validation over fit + calibration posts",
        "uses_contributions": final.use_contribution,
        "second_stage_trees": len(final.stage.roots),
        "prior_words": len(prior),
        "at_least_one_on_flagged": best["at_least_one"],
        "unflagged_word_threshold": final.unflagged_threshold,
        "unflagged_slope": final.unflagged_slope,
        "unflagged_mark_budget": UNFLAGGED_MARK_BUDGET,
        "unflagged_clean_marked_calibration": best["rule"].marked,
        "unflagged_rules": [
            {
                "slope": rule.slope,
                "threshold": rule.threshold,
                "clean_marked": rule.marked,
                "tuning_char_f1_smoothed": round(by_slope[rule.slope], 4),
            }
            for rule in rules
        ],
        "regularisation_c": SPAN_C,
        "fit_posts": len(rows),
        "tuning_posts": len(rows),
    }
