"""Which words a moderator sees highlighted: a small per-word model learnt from gold toxic spans.

The classifier's own word contributions say what pushed a score up, but annotators mark the
offending words themselves (an insult, not the "you" before it). This model scores each word from
its form (word and char n-grams), its neighbours, and its contribution to the toxic margin, and is
fitted on the training part of the toxic-spans set only.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np

_EDGE = re.compile(r"^\W+|\W+$")
FORM_NGRAMS = (3, 4, 5)

# One word of a text: original span, normalised form, toxic contribution.
Unit = tuple[tuple[int, int], str, float]


def word_form(piece: str) -> str:
    """A normalised piece without the punctuation around it, lowercased."""
    return _EDGE.sub("", piece.lower())


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
        features["share"] = contribution / top if top > 0 else 0.0
        features["positive"] = 1.0 if contribution > 0 else 0.0
    padded = f" {form} "
    for n in FORM_NGRAMS:
        for start in range(len(padded) - n + 1):
            features[f"c={padded[start:start + n]}"] = 1.0
    return features


class SpanModel:
    """Logistic per-word model: P(word is inside a toxic span)."""

    def __init__(
        self,
        weights: dict[str, float],
        intercept: float,
        threshold: float = 0.5,
        use_contribution: bool = True,
    ) -> None:
        self.weights = weights
        self.intercept = intercept
        self.threshold = threshold
        self.use_contribution = use_contribution

    def probabilities(self, units: Sequence[Unit]) -> np.ndarray:
        """Per word, the probability that it belongs to a toxic span."""
        weights = self.weights
        out = np.empty(len(units))
        for index in range(len(units)):
            z = self.intercept + sum(
                weights.get(name, 0.0) * value
                for name, value in unit_features(units, index, self.use_contribution).items()
            )
            out[index] = 1.0 / (1.0 + math.exp(-z))
        return out

    def select(
        self, units: Sequence[Unit], threshold: float | None = None
    ) -> list[tuple[int, int]]:
        """Original spans of the words at or above the threshold."""
        cut = self.threshold if threshold is None else threshold
        probabilities = self.probabilities(units)
        return [units[i][0] for i in np.flatnonzero(probabilities >= cut)]


def fit_span_model(
    texts_units: Sequence[Sequence[Unit]],
    gold: Sequence[Sequence[tuple[int, int]]],
    c: float = 0.3,
    seed: int = 13,
    use_contribution: bool = True,
) -> SpanModel:
    """Fits the per-word model; a word is positive when most of its characters are gold."""
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LogisticRegression

    rows: list[dict[str, float]] = []
    labels: list[int] = []
    for units, spans in zip(texts_units, gold, strict=True):
        gold_chars = {i for start, end in spans for i in range(start, end)}
        for index, ((start, end), _, _) in enumerate(units):
            inside = sum(1 for i in range(start, end) if i in gold_chars)
            rows.append(unit_features(units, index, use_contribution))
            labels.append(1 if inside * 2 > end - start else 0)
    vectorizer = DictVectorizer()
    matrix = vectorizer.fit_transform(rows)
    model = LogisticRegression(C=c, max_iter=2000, random_state=seed)
    model.fit(matrix, np.asarray(labels))
    weights = {
        name: float(w)
        for name, w in zip(vectorizer.feature_names_, model.coef_[0], strict=True)
        if abs(w) > 1e-4
    }
    return SpanModel(weights, float(model.intercept_[0]), use_contribution=use_contribution)
