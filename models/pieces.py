"""The feature ids of every whitespace piece seen so far, stored as one growing CSR matrix.

Pieces (whitespace-separated words of normalised text) repeat a lot across comments, so their
feature ids are looked up once and kept. Keeping them as rows of one matrix (pieces x features,
append-only, capacity doubled as it fills) rather than one array per piece lets a batch count
its features with a single sparse product, texts x pieces times pieces x features, with no
per-batch de-duplication or concatenation of the pieces' arrays; that bookkeeping was a quarter
of the batch path's time. One text (the worker's case) joins the pieces' ids kept as bytes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from itertools import chain

import numpy as np
import scipy.sparse as sp

# Pieces kept before the store starts again from empty (bounds memory: ~30 ids of 4 + 2 bytes
# each, plus two dict entries, per piece).
MAX_PIECES = 300_000
_START_PIECES = 4096
_START_IDS = 1 << 17


class PieceIndex:
    """Piece -> row number, and each row's feature ids in one CSR layout (int32 throughout:
    SciPy's sparse products take int32 indices without converting them)."""

    def __init__(self, n_features: int, lookup: Callable[[str], Sequence[int]]) -> None:
        self.n_features = n_features
        self._lookup = lookup
        # Registration is the only write; a lock keeps the rows, the row map and a batch's
        # snapshot of them consistent if the classifier is shared between threads (uncontended,
        # it costs well under a microsecond).
        self._lock = threading.Lock()
        self._clear()

    def _clear(self) -> None:
        self._row_of: dict[str, int] = {}
        # The same ids as bytes per piece, for one text: joining bytes is the cheapest gather.
        self._bytes_of: dict[str, bytes] = {}
        self._ids = np.empty(_START_IDS, dtype=np.int32)
        self._indptr = np.zeros(_START_PIECES + 1, dtype=np.int32)
        self._ones = np.ones(_START_IDS, dtype=np.int16)
        self._n_rows = 0

    def __len__(self) -> int:
        return self._n_rows

    def _add(self, piece: str) -> int:
        """Stores one new piece's ids; returns its row."""
        found = np.asarray(self._lookup(piece), dtype=np.int32)
        rows, end = self._n_rows, int(self._indptr[self._n_rows])
        if end + len(found) > len(self._ids):
            grown = np.empty(max(2 * len(self._ids), end + len(found)), dtype=np.int32)
            grown[:end] = self._ids[:end]
            self._ids = grown
            self._ones = np.ones(len(grown), dtype=np.int16)
        if rows + 2 > len(self._indptr):
            grown_ptr = np.zeros(2 * len(self._indptr), dtype=np.int32)
            grown_ptr[: rows + 1] = self._indptr[: rows + 1]
            self._indptr = grown_ptr
        self._ids[end : end + len(found)] = found
        self._indptr[rows + 1] = end + len(found)
        self._n_rows = rows + 1
        self._bytes_of[piece] = found.tobytes()
        self._row_of[piece] = rows  # last: a row in the map always has its ids stored
        return rows

    def _rows(self, pieces: Sequence[str]) -> np.ndarray:
        """Row of each piece (repeats kept), storing the pieces not seen yet."""
        try:
            return np.fromiter(map(self._row_of.__getitem__, pieces), np.int32, len(pieces))
        except KeyError:
            pass
        row_of = self._row_of
        if self._n_rows + len({p for p in pieces if p not in row_of}) > MAX_PIECES:
            self._clear()
            row_of = self._row_of
        return np.fromiter(
            (row_of[p] if p in row_of else self._add(p) for p in pieces), np.int32, len(pieces)
        )

    def _matrix(self) -> sp.csr_matrix:
        """All stored pieces x features, each entry 1 (views of the store, no copy)."""
        indptr = self._indptr[: self._n_rows + 1]
        nnz = int(indptr[-1])
        return sp.csr_matrix(
            (self._ones[:nnz], self._ids[:nnz], indptr),
            shape=(self._n_rows, self.n_features),
            copy=False,
        )

    def counts(self, texts_pieces: Sequence[Sequence[str]]) -> sp.csr_matrix:
        """Feature counts, texts x features: how often each text has each piece, times the
        pieces' ids (a sparse product sums repeats, so there is one entry per text and feature).

        The product runs on int16 ones (a quarter of float64's memory for the store's largest
        array, and no slower): a feature occurs at most once per character of a text, and texts
        are cut at MAX_CHARS (5,000) characters, far below int16's 32,767.
        """
        lengths = np.fromiter(map(len, texts_pieces), np.int32, len(texts_pieces))
        indptr = np.zeros(len(texts_pieces) + 1, dtype=np.int32)
        np.cumsum(lengths, out=indptr[1:])
        all_pieces = list(chain.from_iterable(texts_pieces))
        with self._lock:
            rows = self._rows(all_pieces)
            occurrences = sp.csr_matrix(
                (np.ones(len(rows), dtype=np.int16), rows, indptr),
                shape=(len(texts_pieces), self._n_rows),
            )
            counts = sp.csr_matrix(occurrences @ self._matrix())
        counts.data = counts.data.astype(np.float64)
        return counts

    def ids(self, pieces: Sequence[str]) -> np.ndarray:
        """The feature ids (int32) of the pieces, concatenated in order (repeats kept)."""
        try:
            data = b"".join(map(self._bytes_of.__getitem__, pieces))
        except KeyError:
            with self._lock:
                self._rows(pieces)
                data = b"".join(map(self._bytes_of.__getitem__, pieces))
        return np.frombuffer(data, dtype=np.int32)
