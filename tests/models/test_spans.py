from __future__ import annotations

import pytest

from models.spans import mean_span_f1, offsets_from_spans, span_f1, spans_from_offsets


class TestOffsetsFromSpans:
    def test_offsets_from_spans_covers_each_half_open_span(self) -> None:
        assert offsets_from_spans([(0, 3), (5, 6)]) == {0, 1, 2, 5}

    def test_offsets_from_spans_merges_overlaps(self) -> None:
        assert offsets_from_spans([(0, 3), (2, 4)]) == {0, 1, 2, 3}

    def test_offsets_from_spans_of_nothing_is_empty(self) -> None:
        assert offsets_from_spans([]) == set()

    def test_offsets_from_spans_rejects_a_reversed_span(self) -> None:
        with pytest.raises(ValueError, match="not a span"):
            offsets_from_spans([(4, 2)])


class TestSpansFromOffsets:
    def test_spans_from_offsets_joins_consecutive_offsets(self) -> None:
        assert spans_from_offsets({7, 0, 1, 2, 5, 6}) == [(0, 3), (5, 8)]

    def test_spans_from_offsets_round_trips(self) -> None:
        spans = [(3, 9), (12, 13), (20, 25)]
        assert spans_from_offsets(offsets_from_spans(spans)) == spans

    def test_spans_from_offsets_of_nothing_is_empty(self) -> None:
        assert spans_from_offsets([]) == []


class TestSpanF1:
    def test_span_f1_both_empty_is_one(self) -> None:
        assert span_f1(set(), []) == 1.0

    @pytest.mark.parametrize(("predicted", "gold"), [(set(), {1, 2}), ({1, 2}, set())])
    def test_span_f1_one_side_empty_is_zero(self, predicted: set[int], gold: set[int]) -> None:
        assert span_f1(predicted, gold) == 0.0

    def test_span_f1_identical_is_one(self) -> None:
        assert span_f1({4, 5, 6}, {4, 5, 6}) == 1.0

    def test_span_f1_disjoint_is_zero(self) -> None:
        assert span_f1({1, 2}, {3, 4}) == 0.0

    def test_span_f1_partial_overlap_by_hand(self) -> None:
        # predicted 0..3 (4 chars), gold 2..7 (6 chars), overlap {2, 3}:
        # P = 2/4, R = 2/6, F1 = 2 * (1/2 * 1/3) / (1/2 + 1/3) = (1/3) / (5/6) = 0.4
        assert span_f1({0, 1, 2, 3}, {2, 3, 4, 5, 6, 7}) == pytest.approx(0.4)

    def test_span_f1_accepts_spans_on_either_side(self) -> None:
        # predicted spans cover {0..3}; gold offsets as in the hand-computed case above.
        assert span_f1([(0, 4)], {2, 3, 4, 5, 6, 7}) == pytest.approx(0.4)
        assert span_f1([(0, 4)], [(2, 8)]) == pytest.approx(0.4)

    def test_span_f1_predicting_a_superset_trades_precision(self) -> None:
        # gold "idiot" at 10..14 (5 chars); predicted the whole 20-char post: P = 5/20, R = 1.
        assert span_f1([(0, 20)], [(10, 15)]) == pytest.approx(2 * 0.25 / 1.25)


class TestMeanSpanF1:
    def test_mean_span_f1_averages_posts(self) -> None:
        pairs = [
            ({1, 2}, {1, 2}),  # 1.0
            (set(), {3}),  # 0.0
            ({0, 1, 2, 3}, {2, 3, 4, 5, 6, 7}),  # 0.4
            (set(), set()),  # 1.0
        ]
        assert mean_span_f1(pairs) == pytest.approx(2.4 / 4)

    def test_mean_span_f1_rejects_no_posts(self) -> None:
        with pytest.raises(ValueError, match="no posts"):
            mean_span_f1([])
