"""The shipped classifier: calibrated linear scores per label from precomputed feature weights,
with a one-text fast path, a batch path and word-level explanations in original offsets.

It holds only plain dicts and numpy arrays (no scikit-learn objects), so loading it is quick,
small in memory and free of scikit-learn version drift; training (models.train) builds it from
fitted scikit-learn estimators.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from models.features import char_features, piece_char_ngrams, pieces, word_features, word_tokens
from models.textnorm import NormalisedText, normalise_text

# Per-instance cache bound: whitespace pieces -> their char n-gram feature ids.
PIECE_CACHE_SIZE = 300_000
_WORD_CHAR = re.compile(r"\w", re.UNICODE)


@dataclass(frozen=True)
class HighlightRule:
    """When a label's words are shown to a moderator (tuned on training data only).

    A label is highlighted when its probability reaches ``gate``; inside it, a word is marked when
    its contribution to the score is at least ``share`` of the largest word contribution and above
    ``floor`` in absolute terms.
    """

    gate: float = 0.5
    share: float = 0.3
    floor: float = 0.0


class Classifier:
    """Calibrated per-label linear model over word and char n-gram TF-IDF features."""

    def __init__(
        self,
        *,
        labels: Sequence[str],
        version: str,
        word_vocab: dict[str, int],
        char_vocab: dict[str, int],
        idf: np.ndarray,
        coef: np.ndarray,
        intercept: np.ndarray,
        calib_slope: np.ndarray,
        calib_offset: np.ndarray,
        thresholds: dict[str, float],
        highlight: HighlightRule | None = None,
        highlight_labels: Sequence[str] = ("toxic", "identity_hate", "threat"),
    ) -> None:
        self.labels: tuple[str, ...] = tuple(labels)
        self.version = version
        self.word_vocab = word_vocab
        self.char_vocab = char_vocab
        self.n_word = len(word_vocab)
        self.idf = np.asarray(idf, dtype=np.float64)
        self.coef = np.ascontiguousarray(coef, dtype=np.float64)
        self.intercept = np.asarray(intercept, dtype=np.float64)
        self.calib_slope = np.asarray(calib_slope, dtype=np.float64)
        self.calib_offset = np.asarray(calib_offset, dtype=np.float64)
        self.thresholds = dict(thresholds)
        self.highlight = highlight or HighlightRule()
        self.highlight_labels = tuple(x for x in highlight_labels if x in self.labels)
        self._piece_cache: dict[str, tuple[int, ...]] = {}

    # -- persistence: the cache is rebuilt, never stored -------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_piece_cache"] = {}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._piece_cache = {}

    # -- features ------------------------------------------------------------------------------
    def _piece_ids(self, piece: str) -> tuple[int, ...]:
        ids = self._piece_cache.get(piece)
        if ids is None:
            vocab = self.char_vocab
            ids = tuple(vocab[g] for g in piece_char_ngrams(piece) if g in vocab)
            if len(self._piece_cache) >= PIECE_CACHE_SIZE:
                self._piece_cache.clear()
            self._piece_cache[piece] = ids
        return ids

    def _counts(self, text: str) -> tuple[Counter[int], Counter[int]]:
        """Feature id -> count for the word block and the char block of one normalised text."""
        vocab = self.word_vocab
        words = Counter(vocab[f] for f in word_features(text) if f in vocab)
        chars: Counter[int] = Counter()
        piece_ids = self._piece_ids
        for piece in text[:5000].split():
            chars.update(piece_ids(piece))
        return words, chars

    def _vector(self, text: str) -> tuple[list[int], list[float]]:
        """Sparse TF-IDF vector (ids, values) of one normalised text, each block L2-normalised."""
        idf = self.idf
        ids: list[int] = []
        values: list[float] = []
        for block in self._counts(text):
            if not block:
                continue
            block_values = [(1.0 + math.log(c)) * idf[i] for i, c in block.items()]
            norm = math.sqrt(sum(v * v for v in block_values))
            ids.extend(block.keys())
            values.extend(v / norm for v in block_values)
        return ids, values

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """TF-IDF matrix of raw texts (normalised here), as the linear models see it."""
        return self._matrix([normalise_text(text).text for text in texts])

    def _matrix(self, normalised_texts: Sequence[str]) -> sp.csr_matrix:
        indptr = [0]
        all_ids: list[int] = []
        all_values: list[float] = []
        texts = normalised_texts
        for text in texts:
            ids, values = self._vector(text)
            all_ids.extend(ids)
            all_values.extend(values)
            indptr.append(len(all_ids))
        return sp.csr_matrix(
            (np.asarray(all_values, dtype=np.float64), np.asarray(all_ids, dtype=np.int64), indptr),
            shape=(len(texts), len(self.idf)),
        )

    # -- scores ---------------------------------------------------------------------------------
    def _calibrate(self, margins: np.ndarray) -> np.ndarray:
        z = margins * self.calib_slope + self.calib_offset
        return 1.0 / (1.0 + np.exp(-z))

    def decision_function(self, texts: Sequence[str]) -> np.ndarray:
        """Raw linear margins (n, len(labels)), before calibration."""
        return np.asarray(self.transform(texts) @ self.coef) + self.intercept

    def decision_function_normalised(self, normalised_texts: Sequence[str]) -> np.ndarray:
        """Raw margins of texts that are already normalised (training reuses its normalisation)."""
        matrix = self._matrix(normalised_texts)
        return np.asarray(matrix @ self.coef) + self.intercept

    def predict_proba(self, texts: Sequence[str] | str) -> np.ndarray:
        """Calibrated probabilities (n, len(labels)); one text takes the fast path."""
        if isinstance(texts, str):
            texts = [texts]
        if len(texts) == 1:
            return self.predict_one(texts[0])[None, :]
        return self._calibrate(self.decision_function(texts))

    def predict_one(self, text: str) -> np.ndarray:
        """Probabilities of one text without building a sparse matrix (same numbers as batch)."""
        ids, values = self._vector(normalise_text(text).text)
        if ids:
            margins = np.asarray(values) @ self.coef[ids] + self.intercept
        else:
            margins = self.intercept.copy()
        return self._calibrate(margins)

    def scores(self, text: str) -> dict[str, float]:
        """Label -> probability for one text."""
        return dict(zip(self.labels, (float(p) for p in self.predict_one(text)), strict=True))

    # -- explanations --------------------------------------------------------------------------
    def _word_contributions(
        self, normalised: NormalisedText
    ) -> tuple[list[tuple[int, int]], np.ndarray]:
        """Per whitespace piece of the normalised text: its span and its margin contribution
        per label (its char n-grams, its word 1-grams, half of each 2-gram it is part of)."""
        text = normalised.text
        ids, values = self._vector(text)
        value_of = dict(zip(ids, values, strict=True))
        spans = [(start, end) for _, start, end in pieces(text)]
        contributions = np.zeros((len(spans), len(self.labels)))
        if not spans:
            return spans, contributions
        starts = [s for s, _ in spans]

        def piece_at(position: int) -> int:
            # Index of the piece containing ``position`` (pieces are sorted and disjoint).
            lo, hi = 0, len(starts) - 1
            while lo < hi:
                mid = (lo + hi + 1) // 2
                if starts[mid] <= position:
                    lo = mid
                else:
                    hi = mid - 1
            return lo

        # Char n-grams: an n-gram occurring k times in the text spreads its weight over the k
        # pieces that hold it (TF-IDF is per text, not per occurrence).
        occurrences: dict[int, list[int]] = {}
        for index, (piece, _, _) in enumerate(pieces(text)):
            for gram in piece_char_ngrams(piece):
                gid = self.char_vocab.get(gram)
                if gid is not None:
                    occurrences.setdefault(gid, []).append(index)
        tokens = word_tokens(text)
        for token, start, _ in tokens:
            gid = self.word_vocab.get(token)
            if gid is not None:
                occurrences.setdefault(gid, []).append(piece_at(start))
        for (a, start_a, _), (b, start_b, _) in zip(tokens, tokens[1:], strict=False):
            gid = self.word_vocab.get(f"{a} {b}")
            if gid is not None:
                occurrences.setdefault(gid, []).extend([piece_at(start_a), piece_at(start_b)])
        for gid, where in occurrences.items():
            share = value_of.get(gid, 0.0) / len(where)
            row = self.coef[gid] * share
            for index in where:
                contributions[index] += row
        return spans, contributions

    def explain(self, text: str) -> dict[str, list[tuple[int, int, float]]]:
        """Label -> words that pushed its score up: (start, end, weight), original offsets."""
        normalised = normalise_text(text)
        spans, contributions = self._word_contributions(normalised)
        result: dict[str, list[tuple[int, int, float]]] = {label: [] for label in self.labels}
        for index, (start, end) in enumerate(spans):
            original = _trim_to_word(text, *normalised.to_original(start, end))
            if original is None:
                continue
            for column, label in enumerate(self.labels):
                weight = float(contributions[index, column])
                if weight > 0:
                    result[label].append((original[0], original[1], round(weight, 6)))
        for label in self.labels:
            result[label] = _merge_spans(result[label])
        return result

    def highlight_candidates(
        self, text: str
    ) -> tuple[np.ndarray, list[tuple[int, int] | None], np.ndarray]:
        """Probabilities, original word spans and their per-label contributions (for rules)."""
        probabilities = self.predict_one(text)
        normalised = normalise_text(text)
        spans, contributions = self._word_contributions(normalised)
        originals = [_trim_to_word(text, *normalised.to_original(s, e)) for s, e in spans]
        return probabilities, originals, contributions

    def apply_highlight_rule(
        self,
        rule: HighlightRule,
        probabilities: np.ndarray,
        originals: list[tuple[int, int] | None],
        contributions: np.ndarray,
    ) -> list[tuple[int, int]]:
        """The spans ``rule`` marks, given a text's highlight candidates."""
        marked: list[tuple[int, int]] = []
        for label in self.highlight_labels:
            column = self.labels.index(label)
            if probabilities[column] < rule.gate or not len(originals):
                continue
            weights = contributions[:, column]
            top = float(weights.max())
            if top <= 0:
                continue
            cut = max(rule.share * top, rule.floor)
            marked.extend(
                span
                for span in (originals[i] for i in np.flatnonzero(weights >= cut))
                if span is not None
            )
        return [(s, e) for s, e, _ in _merge_spans([(s, e, 0.0) for s, e in marked])]

    def highlights(
        self, text: str, probabilities: np.ndarray | None = None
    ) -> list[tuple[int, int]]:
        """Spans a moderator sees marked: the strongest words of each label scored high enough
        (``probabilities``, if the caller has them already, saves scoring the text twice)."""
        if probabilities is None:
            probabilities = self.predict_one(text)
        if not any(
            probabilities[self.labels.index(label)] >= self.highlight.gate
            for label in self.highlight_labels
        ):
            return []
        _, originals, contributions = self.highlight_candidates(text)
        return self.apply_highlight_rule(self.highlight, probabilities, originals, contributions)


def _trim_to_word(text: str, start: int, end: int) -> tuple[int, int] | None:
    """The span without leading/trailing punctuation and spaces; None if nothing is left."""
    while start < end and not _WORD_CHAR.match(text[start]):
        start += 1
    while end > start and not _WORD_CHAR.match(text[end - 1]):
        end -= 1
    return (start, end) if start < end else None


def _merge_spans(spans: list[tuple[int, int, float]]) -> list[tuple[int, int, float]]:
    """Overlapping or touching spans become one, weights added; sorted by start."""
    merged: list[tuple[int, int, float]] = []
    for start, end, weight in sorted(spans):
        if merged and start <= merged[-1][1]:
            last = merged[-1]
            merged[-1] = (last[0], max(last[1], end), last[2] + weight)
        else:
            merged.append((start, end, weight))
    return [(s, e, round(w, 6)) for s, e, w in merged]


__all__ = ["Classifier", "HighlightRule", "char_features", "word_features"]
