"""The piece index: batch feature counts and one text's ids, checked against plain counting."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

import models.pieces
from models.pieces import PieceIndex

N_FEATURES = 50


def lookup(piece: str) -> list[int]:
    """Made-up feature ids of a piece: one per character, so repeats within a piece occur."""
    return [ord(c) % N_FEATURES for c in piece]


def expected_counts(texts: list[list[str]]) -> np.ndarray:
    counts = np.zeros((len(texts), N_FEATURES))
    for row, pieces in enumerate(texts):
        for feature, n in Counter(i for piece in pieces for i in lookup(piece)).items():
            counts[row, feature] = n
    return counts


TEXTS = [
    ["you", "are", "a", "moron", "you", "moron"],
    [],
    ["aaa", "", "moron"],
    ["new", "words", "here", "you"],
]


class TestPieceIndex:
    def test_counts_equal_plain_counting(self) -> None:
        index = PieceIndex(N_FEATURES, lookup)
        np.testing.assert_array_equal(index.counts(TEXTS).toarray(), expected_counts(TEXTS))

    def test_counts_stay_right_when_later_batches_add_pieces(self) -> None:
        index = PieceIndex(N_FEATURES, lookup)
        index.counts(TEXTS[:1])
        later = [["zebra", "you"], ["moron", "quux"]]
        np.testing.assert_array_equal(index.counts(later).toarray(), expected_counts(later))

    def test_ids_concatenate_each_piece_in_order(self) -> None:
        index = PieceIndex(N_FEATURES, lookup)
        pieces = ["moron", "you", "moron", "zz"]
        expected = [i for piece in pieces for i in lookup(piece)]
        assert index.ids(pieces).tolist() == expected
        assert index.ids(pieces).tolist() == expected  # second time from the store

    def test_counts_exact_for_a_feature_repeated_through_a_whole_text(self) -> None:
        index = PieceIndex(N_FEATURES, lookup)
        texts = [["a"] * 5000, ["ab"] * 2500]
        counts = index.counts(texts).toarray()
        assert counts[0, ord("a") % N_FEATURES] == 5000
        np.testing.assert_array_equal(counts, expected_counts(texts))

    def test_store_grows_past_its_first_capacity(self) -> None:
        index = PieceIndex(N_FEATURES, lookup)
        texts = [[f"piece{i}x{j}" * 3 for j in range(40)] for i in range(300)]
        np.testing.assert_array_equal(index.counts(texts).toarray(), expected_counts(texts))
        assert len(index) == 300 * 40

    def test_full_store_starts_again_and_stays_right(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(models.pieces, "MAX_PIECES", 5)
        index = PieceIndex(N_FEATURES, lookup)
        index.counts(TEXTS)
        assert len(index) <= 10
        later = [["alpha", "beta", "gamma"], ["delta", "you"]]
        np.testing.assert_array_equal(index.counts(later).toarray(), expected_counts(later))
        assert len(index) == 5
        assert index.ids(["alpha", "omega"]).tolist() == lookup("alpha") + lookup("omega")
