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

from models.features import (
    MAX_CHARS,
    char_features,
    piece_char_ngrams,
    pieces,
    word_features,
    word_tokens,
)
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

    def _ids(self, text: str) -> list[int]:
        """Feature ids of one normalised text, with repeats (word block first, then chars)."""
        get = self.word_vocab.get
        ids = [g for g in map(get, word_features(text)) if g is not None]
        piece_ids = self._piece_ids
        for piece in text[:MAX_CHARS].split():
            ids.extend(piece_ids(piece))
        return ids

    def _vector(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """Sparse TF-IDF vector (ids, values) of one normalised text, each block L2-normalised."""
        ids = self._ids(text)
        if not ids:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        unique, counts = np.unique(np.asarray(ids, dtype=np.int64), return_counts=True)
        values = (1.0 + np.log(counts)) * self.idf[unique]
        block = (unique >= self.n_word).astype(np.int64)
        norms = np.sqrt(np.bincount(block, weights=values * values, minlength=2))
        values /= norms[block]
        return unique, values

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """TF-IDF matrix of raw texts (normalised here), as the linear models see it."""
        return self._matrix([normalise_text(text).text for text in texts])

    def _matrix(self, normalised_texts: Sequence[str]) -> sp.csr_matrix:
        """The batch path: the same numbers as _vector, computed for all texts at once."""
        indptr = np.zeros(len(normalised_texts) + 1, dtype=np.int64)
        all_ids: list[int] = []
        for row, text in enumerate(normalised_texts):
            all_ids.extend(self._ids(text))
            indptr[row + 1] = len(all_ids)
        shape = (len(normalised_texts), len(self.idf))
        counts = sp.csr_matrix(
            (np.ones(len(all_ids)), np.asarray(all_ids, dtype=np.int64), indptr), shape=shape
        )
        counts.sum_duplicates()
        rows = np.repeat(np.arange(shape[0]), np.diff(counts.indptr))
        values = (1.0 + np.log(counts.data)) * self.idf[counts.indices]
        cell = rows * 2 + (counts.indices >= self.n_word).astype(np.int64)
        norms = np.sqrt(np.bincount(cell, weights=values * values, minlength=2 * shape[0]))
        values /= norms[cell]
        return sp.csr_matrix((values, counts.indices, counts.indptr), shape=shape)

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
        if len(ids):
            margins = values @ self.coef[ids] + self.intercept
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
        per label (its char n-grams, its word 1-grams, half of each 2-gram it is part of).

        A feature occurring k times in the text spreads its TF-IDF value evenly over its k
        occurrences (the value is per text, not per occurrence); the pieces' contributions add
        up to the margin minus the intercept.
        """
        text = normalised.text
        found = pieces(text)
        spans = [(start, end) for _, start, end in found]
        if not spans:
            return spans, np.zeros((0, len(self.labels)))
        ids, values = self._vector(text)
        value_of = dict(zip(ids.tolist(), values.tolist(), strict=True))
        piece_of = [0] * len(text)
        for index, (start, end) in enumerate(spans):
            piece_of[start:end] = [index] * (end - start)
        gids: list[int] = []
        where: list[int] = []
        for index, (piece, _, _) in enumerate(found):
            piece_ids = self._piece_ids(piece)
            gids.extend(piece_ids)
            where.extend([index] * len(piece_ids))
        vocab = self.word_vocab
        tokens = word_tokens(text)
        for token, start, _ in tokens:
            gid = vocab.get(token)
            if gid is not None:
                gids.append(gid)
                where.append(piece_of[start])
        for (a, start_a, _), (b, start_b, _) in zip(tokens, tokens[1:], strict=False):
            gid = vocab.get(f"{a} {b}")
            if gid is not None:
                gids.extend((gid, gid))
                where.extend((piece_of[start_a], piece_of[start_b]))
        if not gids:
            return spans, np.zeros((len(spans), len(self.labels)))
        counts = Counter(gids)
        weights = np.fromiter(
            (value_of.get(g, 0.0) / counts[g] for g in gids), dtype=np.float64, count=len(gids)
        )
        incidence = sp.csr_matrix(
            (weights, (np.asarray(where), np.arange(len(gids)))), shape=(len(spans), len(gids))
        )
        return spans, np.asarray(incidence @ self.coef[gids])

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
