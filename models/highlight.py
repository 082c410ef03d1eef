"""Which words a moderator sees highlighted: a small per-word model learnt from gold toxic spans.

The classifier's own word contributions say what pushed a score up, but annotators mark the
offending words themselves (an insult, not the "you" before it). This model scores each word from
its form (word and char n-grams), its neighbours, and its contribution to the toxic margin, and is
fitted on the training part of the toxic-spans set only.

Its gold spans cover the spaces between consecutive toxic words ("disgusting cretin" is one
span), so marked words separated only by spaces are shown as one span (join_spaced).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.special import expit

from models.span_stage import TreeStage, dense_features
from models.words import Unit, word_form

__all__ = [
    "FORM_NGRAMS",
    "SpanModel",
    "Unit",
    "f1_by_threshold",
    "fit_span_model",
    "join_spaced",
    "unit_features",
    "word_form",
    "word_labels",
]

FORM_NGRAMS = (3, 4, 5)


def unit_features(
    units: Sequence[Unit], index: int, use_contribution: bool = True
) -> dict[str, float]:
    """Sparse features of one word in its text."""
    _, form, contribution = units[index]
    features: dict[str, float] = {
        f"w={form}": 1.0,
        f"prev={units[index - 1][1] if index > 0 else '<s>'}": 1.0,
        f"next={units[index + 1][1] if index + 1 < len(units) else '</s>'}": 1.0,
    }
    if use_contribution:
        top = max((u[2] for u in units), default=0.0)
        features["contribution"] = contribution
        # Bounded: beside a tiny top contribution the ratio runs to -1000 and beyond.
        features["share"] = min(max(contribution / top, -1.0), 1.0) if top > 0 else 0.0
        features["positive"] = 1.0 if contribution > 0 else 0.0
    padded = f" {form} "
    for n in FORM_NGRAMS:
        for start in range(len(padded) - n + 1):
            features[f"c={padded[start : start + n]}"] = 1.0
    return features


class SpanModel:
    """Logistic per-word model: P(word is inside a toxic span)."""

    # On a flagged comment, mark the likeliest word even when none reaches the threshold, so a
    # moderator always sees what to look at (tuning decides; models saved before had no such rule).
    at_least_one: bool = False
    # The second stage (models.span_stage) and its word prior; models saved before had neither.
    stage: TreeStage | None = None
    prior: dict[str, float] | None = None
    # On a comment no label flags, a word is marked only from this probability up: training
    # sets it from clean comments (models.highlight_tuning.UNFLAGGED_MARK_BUDGET). Models saved
    # before it existed mark nothing there.
    unflagged_threshold: float = 1.0
    # ... less this much per unit of the comment's score (its likeliest highlighted label): a
    # comment just below the flag threshold needs less surety than one nobody would suspect.
    # Models saved before it existed use one threshold for every unflagged comment.
    unflagged_slope: float = 0.0

    def __init__(
        self,
        weights: dict[str, float],
        intercept: float,
        threshold: float = 0.5,
        use_contribution: bool = True,
        at_least_one: bool = False,
    ) -> None:
        self.weights = weights
        self.intercept = intercept
        self.threshold = threshold
        self.use_contribution = use_contribution
        self.at_least_one = at_least_one

    def probabilities(self, units: Sequence[Unit]) -> np.ndarray:
        """Per word, the probability that it belongs to a toxic span."""
        weights = self.weights
        margins = np.fromiter(
            (
                self.intercept
                + sum(
                    weights.get(name, 0.0) * value
                    for name, value in unit_features(units, index, self.use_contribution).items()
                )
                for index in range(len(units))
            ),
            dtype=np.float64,
            count=len(units),
        )
        return expit(margins)  # no overflow however negative a margin is

    def word_probabilities(
        self, text: str, units: Sequence[Unit], scores: np.ndarray
    ) -> np.ndarray:
        """Per word, the final probability: the logistic one, re-scored in its post's context
        by the second stage when there is one (``scores``: the post's label probabilities)."""
        first = self.probabilities(units)
        if self.stage is None:
            return first
        features = dense_features(text, units, first, scores, self.prior or {})
        return self.stage.probabilities(features)

    def word_threshold(self, flagged: bool, score: float = 0.0) -> float:
        """The probability from which a word is marked: surer on a comment no label flags, the
        more so the lower that comment's ``score`` (its likeliest highlighted label)."""
        if flagged:
            return self.threshold
        return max(self.threshold, self.unflagged_threshold - self.unflagged_slope * score)

    def choose(self, probabilities: np.ndarray, flagged: bool, score: float = 0.0) -> np.ndarray:
        """Which words to mark: those at or above word_threshold, or on a flagged comment with
        none there (and at_least_one), the likeliest."""
        chosen = probabilities >= self.word_threshold(flagged, score)
        if self.at_least_one and flagged and len(chosen) and not chosen.any():
            chosen[int(np.argmax(probabilities))] = True
        return chosen


def join_spaced(text: str, spans: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted spans, where spans separated only by spaces (or touching) become one."""
    joined: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if joined and (start <= joined[-1][1] or not text[joined[-1][1] : start].strip(" ")):
            joined[-1] = (joined[-1][0], max(joined[-1][1], end))
        else:
            joined.append((start, end))
    return joined


def word_labels(units: Sequence[Unit], spans: Sequence[tuple[int, int]]) -> np.ndarray:
    """Per word, 1 when most of its characters are gold (what both stages learn)."""
    gold_chars = {i for start, end in spans for i in range(start, end)}
    return np.array(
        [
            1 if 2 * sum(1 for i in range(start, end) if i in gold_chars) > end - start else 0
            for (start, end), _, _ in units
        ],
        dtype=np.int64,
    )


def fit_span_model(
    texts_units: Sequence[Sequence[Unit]],
    gold: Sequence[Sequence[tuple[int, int]]],
    c: float = 0.1,
    seed: int = 13,
    use_contribution: bool = True,
) -> SpanModel:
    """Fits the per-word model; a word is positive when most of its characters are gold."""
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LogisticRegression

    rows = [
        unit_features(units, index, use_contribution)
        for units in texts_units
        for index in range(len(units))
    ]
    labels = np.concatenate(
        [word_labels(units, spans) for units, spans in zip(texts_units, gold, strict=True)]
        + [np.zeros(0, dtype=np.int64)]
    )
    vectorizer = DictVectorizer()
    matrix = vectorizer.fit_transform(rows)
    model = LogisticRegression(C=c, max_iter=2000, random_state=seed)
    model.fit(matrix, labels)
    weights = {
        name: float(w)
        for name, w in zip(vectorizer.feature_names_, model.coef_[0], strict=True)
        if abs(w) > 1e-4
    }
    return SpanModel(weights, float(model.intercept_[0]), use_contribution=use_contribution)


def f1_by_threshold(
    text: str,
    units: Sequence[Unit],
    probabilities: np.ndarray,
    eligible: np.ndarray,
    flagged: bool,
    gold: Sequence[tuple[int, int]],
    thresholds: np.ndarray,
    at_least_one: bool,
    unflagged_threshold: float,
) -> np.ndarray:
    """SemEval-2021 Task 5 F1 of one post at each threshold, for tuning: the marks of
    SpanModel.choose (``unflagged_threshold`` as its own), then marked_units (the ``eligible``
    words) and join_spaced, counted from each word's and each gap's characters rather than built
    as spans once per threshold."""
    spans = [span for span, _, _ in units]
    gold_chars = {i for start, end in gold for i in range(start, end)}
    if not flagged:
        thresholds = np.maximum(thresholds, unflagged_threshold)
    chosen = (probabilities[None, :] >= thresholds[:, None]) & eligible[None, :]
    if at_least_one and flagged and len(spans):
        # On a flagged comment every word is eligible (marked_units), as in SpanModel.choose.
        chosen[~chosen.any(axis=1), int(np.argmax(probabilities))] = True
    if any(a[1] > b[0] for a, b in zip(spans, spans[1:], strict=False)):
        # Words out of order or overlapping (rare normalisation maps): count the plain way.
        return np.array(
            [
                _post_f1(
                    join_spaced(text, [s for s, c in zip(spans, row, strict=True) if c]), gold_chars
                )
                for row in chosen
            ]
        )

    def chars(start: int, end: int) -> list[int]:
        return [end - start, sum(i in gold_chars for i in range(start, end))]

    words = np.array([chars(*span) for span in spans], dtype=np.float64).reshape(-1, 2)
    # Characters between neighbours: counted when both are marked and only spaces part them.
    gaps = np.array(
        [
            chars(a[1], b[0]) if not text[a[1] : b[0]].strip(" ") else [0, 0]
            for a, b in zip(spans, spans[1:], strict=False)
        ],
        dtype=np.float64,
    ).reshape(-1, 2)
    marked = chosen @ words + (chosen[:, :-1] & chosen[:, 1:]) @ gaps
    size, overlap = marked[:, 0], marked[:, 1]
    if not gold_chars:
        return (size == 0).astype(np.float64)
    return np.where(overlap > 0, 2 * overlap / (size + len(gold_chars)), 0.0)


def _post_f1(spans: Sequence[tuple[int, int]], gold_chars: set[int]) -> float:
    marked = {i for start, end in spans for i in range(start, end)}
    if not gold_chars:
        return float(not marked)
    overlap = len(marked & gold_chars)
    return 2 * overlap / (len(marked) + len(gold_chars)) if overlap else 0.0
