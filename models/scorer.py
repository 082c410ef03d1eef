"""The scorer: calibrated linear scores per label from precomputed feature weights, with a
one-text fast path, a batch path and word-level explanations in original offsets.

It holds only plain dicts and numpy arrays (no scikit-learn objects), so loading it is quick,
small in memory and free of scikit-learn version drift; training (models.train) builds it from
fitted scikit-learn estimators. What a moderator sees highlighted is models.highlighter's.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from models.features import MAX_CHARS, char_ngrams, piece_words, pieces
from models.pieces import PieceIndex
from models.textnorm import NormalisedText, normalise_text, normalised_text
from models.words import Unit, word_form

__all__ = ["LinearScorer", "merge_spans", "trim_to_word"]

_WORD_CHAR = re.compile(r"\w", re.UNICODE)


class LinearScorer:
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
        self._pieces: PieceIndex | None = None
        self._blocks: tuple[np.ndarray, np.ndarray] | None = None

    # -- persistence: the caches are rebuilt, never stored -----------------------------------
    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_pieces"] = None
        state["_blocks"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state.pop("_piece_cache", None)  # the per-piece cache of artifacts saved before 2026-11
        self.__dict__.update(state)
        self._pieces = None
        self._blocks = None

    # -- features ------------------------------------------------------------------------------
    def _lookup_piece(self, piece: str) -> list[int]:
        """Feature ids of one whitespace piece: its words, then its char n-grams."""
        words, chars = self.word_vocab, self.char_vocab
        found = [words[w] for w in piece_words(piece) if w in words]
        found += [chars[g] for g in char_ngrams(piece) if g in chars]
        return found

    @property
    def pieces_index(self) -> PieceIndex:
        """The ids of every piece seen so far (pieces repeat a lot across comments)."""
        if self._pieces is None:
            self._pieces = PieceIndex(len(self.idf), self._lookup_piece)
        return self._pieces

    def _piece_ids(self, piece: str) -> np.ndarray:
        """Feature ids of one whitespace piece."""
        return self.pieces_index.ids([piece])

    def _ids(self, text: str) -> np.ndarray:
        """Feature ids of one normalised text, with repeats."""
        return self.pieces_index.ids(text[:MAX_CHARS].split())

    def _vector(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """Sparse TF-IDF vector (ids, values) of one normalised text, each block L2-normalised."""
        ids = self._ids(text)
        if not len(ids):
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        unique, counts = np.unique(ids, return_counts=True)
        values = (1.0 + np.log(counts)) * self.idf[unique]
        block = (unique >= self.n_word).astype(np.int64)
        norms = np.sqrt(np.bincount(block, weights=values * values, minlength=2))
        values /= norms[block]
        return unique, values

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """TF-IDF matrix of raw texts (normalised here), as the linear models see it."""
        return self._matrix(list(map(normalised_text, texts)))

    def _counts(self, normalised_texts: Sequence[str]) -> sp.csr_matrix:
        """Raw feature counts (texts x features) of the batch path, computed for all texts at once
        by one sparse product in the piece index (models.pieces)."""
        return self.pieces_index.counts([text[:MAX_CHARS].split() for text in normalised_texts])

    def _matrix(self, normalised_texts: Sequence[str]) -> sp.csr_matrix:
        """TF-IDF matrix of normalised texts, each block L2-normalised (same numbers as _vector)."""
        counts = self._counts(normalised_texts)
        shape = counts.shape
        text_of = np.repeat(np.arange(shape[0]), np.diff(counts.indptr))
        values = (1.0 + np.log(counts.data)) * self.idf[counts.indices]
        cell = text_of * 2 + (counts.indices >= self.n_word).astype(np.int64)
        norms = np.sqrt(np.bincount(cell, weights=values * values, minlength=2 * shape[0]))
        values /= norms[cell]
        return sp.csr_matrix((values, counts.indices, counts.indptr), shape=shape)

    def _block_weights(self) -> tuple[np.ndarray, np.ndarray]:
        """coef split by block (word rows | char rows, side by side) and each feature's block as
        two indicator columns, both scaled by idf (by idf squared for the indicator) so that the
        batch path never gathers idf per entry: built once per process, never stored."""
        if self._blocks is None:
            is_word = (np.arange(len(self.idf)) < self.n_word)[:, None]
            split = np.hstack(
                [np.where(is_word, self.coef, 0.0), np.where(is_word, 0.0, self.coef)]
            )
            indicator = np.hstack([is_word, ~is_word]).astype(np.float64)
            idf = self.idf[:, None]
            self._blocks = (np.ascontiguousarray(split * idf), indicator * (idf * idf))
        return self._blocks

    def _margins(self, normalised_texts: Sequence[str]) -> np.ndarray:
        """Raw margins of the batch path without building the normalised matrix: per text, each
        block's dot product with coef divided by that block's norm (both from sparse products of
        the sublinear term frequencies with idf-scaled weights, so no per-entry bookkeeping)."""
        counts = self._counts(normalised_texts)
        split, indicator = self._block_weights()
        tf = np.log(counts.data)
        tf += 1.0
        counts.data = tf
        dots = np.asarray(counts @ split)
        tf *= tf
        norms = np.sqrt(np.asarray(counts @ indicator))
        norms[norms == 0.0] = 1.0  # an empty block has a zero dot product too
        n_labels = len(self.labels)
        return (
            dots[:, :n_labels] / norms[:, :1] + dots[:, n_labels:] / norms[:, 1:] + self.intercept
        )

    # -- scores ---------------------------------------------------------------------------------
    def _calibrate(self, margins: np.ndarray) -> np.ndarray:
        z = margins * self.calib_slope + self.calib_offset
        return 1.0 / (1.0 + np.exp(-z))

    def decision_function(self, texts: Sequence[str]) -> np.ndarray:
        """Raw linear margins (n, len(labels)), before calibration."""
        return self._margins(list(map(normalised_text, texts)))

    def decision_function_normalised(self, normalised_texts: Sequence[str]) -> np.ndarray:
        """Raw margins of texts that are already normalised (training reuses its normalisation)."""
        return self._margins(normalised_texts)

    def _probabilities(self, margins: np.ndarray, normalised_texts: Sequence[str]) -> np.ndarray:
        """Probabilities (n, len(labels)) from the n-gram margins of the normalised texts (a
        subclass with a later stage that reads the texts themselves overrides this)."""
        return self._calibrate(margins)

    def probabilities_normalised(self, normalised_texts: Sequence[str]) -> np.ndarray:
        """Calibrated probabilities of texts that are already normalised (batch path)."""
        normalised_texts = list(normalised_texts)
        return self._probabilities(self._margins(normalised_texts), normalised_texts)

    def predict_proba(self, texts: Sequence[str] | str) -> np.ndarray:
        """Calibrated probabilities (n, len(labels)); one text takes the fast path."""
        if isinstance(texts, str):
            texts = [texts]
        if len(texts) == 1:
            return self.predict_one(texts[0])[None, :]
        return self.probabilities_normalised(list(map(normalised_text, texts)))

    def predict_one(self, text: str) -> np.ndarray:
        """Probabilities of one text without building a sparse matrix (same numbers as batch)."""
        return self.predict_normalised(normalised_text(text))

    def predict_normalised(self, text: str) -> np.ndarray:
        """predict_one of a text that is already normalised (the highlighter's, which keeps the
        offset map too, so a comment is normalised once)."""
        ids, values = self._vector(text)
        if len(ids):
            margins = values @ self.coef[ids] + self.intercept
        else:
            margins = self.intercept.copy()
        return self._probabilities(margins[None, :], [text])[0]

    def scores(self, text: str) -> dict[str, float]:
        """Label -> probability for one text."""
        return dict(zip(self.labels, (float(p) for p in self.predict_one(text)), strict=True))

    # -- explanations --------------------------------------------------------------------------
    def _word_contributions(
        self, normalised: NormalisedText
    ) -> tuple[list[tuple[int, int]], np.ndarray]:
        """Per whitespace piece of the normalised text: its span and its margin contribution
        per label (its word and char n-gram features).

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
        gids: list[int] = []
        where: list[int] = []
        for index, (piece, _, _) in enumerate(found):
            piece_ids = self._piece_ids(piece).tolist()
            gids.extend(piece_ids)
            where.extend([index] * len(piece_ids))
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
            original = trim_to_word(text, *normalised.to_original(start, end))
            if original is None:
                continue
            for column, label in enumerate(self.labels):
                weight = float(contributions[index, column])
                if weight > 0:
                    result[label].append((original[0], original[1], round(weight, 6)))
        for label in self.labels:
            result[label] = merge_spans(result[label])
        return result

    def words(self, text: str, normalised: NormalisedText | None = None) -> list[Unit]:
        """The text's words: original span, form, toxic contribution in calibrated log-odds
        (``normalised``: the text's normalised form when the caller has it already)."""
        if normalised is None:
            normalised = normalise_text(text)
        spans, contributions = self._word_contributions(normalised)
        column = self.labels.index("toxic") if "toxic" in self.labels else 0
        # In calibrated log-odds (the Platt slope applied): the unit the flag threshold speaks
        # in, whatever regularisation training chose.
        slope = float(self.calib_slope[column])
        units: list[Unit] = []
        for index, (start, end) in enumerate(spans):
            original = trim_to_word(text, *normalised.to_original(start, end))
            if original is not None:
                form = word_form(normalised.text[start:end])
                units.append((original, form, slope * float(contributions[index, column])))
        return units


def trim_to_word(text: str, start: int, end: int) -> tuple[int, int] | None:
    """The span without leading/trailing punctuation and spaces; None if nothing is left."""
    while start < end and not _WORD_CHAR.match(text[start]):
        start += 1
    while end > start and not _WORD_CHAR.match(text[end - 1]):
        end -= 1
    return (start, end) if start < end else None


def merge_spans(spans: list[tuple[int, int, float]]) -> list[tuple[int, int, float]]:
    """Overlapping or touching spans become one, weights added; sorted by start."""
    merged: list[tuple[int, int, float]] = []
    for start, end, weight in sorted(spans):
        if merged and start <= merged[-1][1]:
            last = merged[-1]
            merged[-1] = (last[0], max(last[1], end), last[2] + weight)
        else:
            merged.append((start, end, weight))
    return [(s, e, round(w, 6)) for s, e, w in merged]
