"""Metrics: AUCs as computed by hand, file reading errors, the SemEval span F1."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from models.evaluate import (
    EvaluationDataError,
    auc_difference_interval,
    evaluate_frame,
    mean_set_roc_auc,
    read_labelled_file,
    span_f1,
    threshold_metrics,
)

LABELS = ["toxic", "identity_hate", "threat", "spam"]


def fixed_scores(toxic: Sequence[float]) -> object:
    def predict(texts: Sequence[str]) -> np.ndarray:
        scores = np.zeros((len(texts), len(LABELS)))
        scores[:, 0] = toxic
        return scores

    return predict


class TestThresholdMetrics:
    def test_threshold_metrics_count_the_clean_rows_flagged(self) -> None:
        y = np.array([1, 1, 0, 0, 0, 0])
        scores = np.array([0.9, 0.2, 0.8, 0.1, 0.1, 0.6])
        metrics = threshold_metrics(y, scores, 0.5)
        assert metrics["clean_flagged"] == pytest.approx(2 / 4)
        assert metrics["recall"] == pytest.approx(1 / 2)
        assert metrics["precision"] == pytest.approx(1 / 3)
        assert metrics["flag_rate"] == pytest.approx(3 / 6)


class TestMeanSetRocAuc:
    def test_each_set_counts_once(self) -> None:
        # Set "a" is ranked perfectly (AUC 1), set "b" backwards (AUC 0), "c" has too few rows.
        y = np.array([1] * 5 + [0] * 5 + [1] * 5 + [0] * 5 + [1, 0])
        scores = np.array([0.9] * 5 + [0.1] * 5 + [0.1] * 5 + [0.9] * 5 + [0.9, 0.1])
        sets = np.array(["a"] * 10 + ["b"] * 10 + ["c"] * 2)
        assert mean_set_roc_auc(y, scores, sets) == pytest.approx(0.5)
        assert mean_set_roc_auc(y[:10], scores[:10], sets[:10]) == pytest.approx(1.0)

    def test_none_when_no_set_has_both_classes(self) -> None:
        assert mean_set_roc_auc(np.ones(8, dtype=int), np.zeros(8), np.array(["a"] * 8)) is None


class TestAucDifferenceInterval:
    def test_a_clearly_better_ranking_has_an_interval_above_zero(self) -> None:
        rng = np.random.default_rng(1)
        y = np.array([1] * 40 + [0] * 400)
        ours = y + rng.normal(0, 0.5, len(y))  # AUC ~0.92
        peer = rng.normal(0, 1, len(y))  # AUC ~0.5
        low, high = auc_difference_interval(y, ours, peer)
        assert 0 < low < roc_auc_score(y, ours) - roc_auc_score(y, peer) < high

    def test_the_same_scores_differ_by_exactly_zero(self) -> None:
        y = np.array([1, 0, 1, 0, 0, 1, 0, 0])
        scores = np.array([0.9, 0.1, 0.4, 0.5, 0.2, 0.8, 0.3, 0.6])
        assert auc_difference_interval(y, scores, scores) == (0.0, 0.0)

    def test_a_small_set_gets_a_wide_interval(self) -> None:
        rng = np.random.default_rng(2)
        small = np.array([1] * 5 + [0] * 50)
        large = np.array([1] * 500 + [0] * 5000)

        def width(y: np.ndarray) -> float:
            low, high = auc_difference_interval(
                y, y + rng.normal(0, 1, len(y)), y + rng.normal(0, 1, len(y))
            )
            return high - low

        assert width(small) > 3 * width(large)


class TestEvaluateFrame:
    def test_evaluate_frame_auc_matches_hand_count(self) -> None:
        frame = pd.DataFrame({"text": ["a", "b", "c", "d"], "toxic": [1, 0, 1, 0]})
        # Positive/negative pairs ranked right: (0.9>0.4), (0.9>0.8); wrong: (0.35<0.4),
        # (0.35<0.8) -> ROC-AUC 2/4. Average precision: ranks 0.9(+) 0.8(-) 0.4(-) 0.35(+)
        # -> (1/1 + 2/4) / 2 = 0.75. At threshold 0.5: flagged 0.9 and 0.8 -> precision 1/2,
        # recall 1/2, flag rate 2/4.
        report = evaluate_frame(frame, LABELS, {"toxic": 0.5}, fixed_scores([0.9, 0.4, 0.35, 0.8]))
        assert report["toxic"]["roc_auc"] == pytest.approx(0.5)
        assert report["toxic"]["pr_auc"] == pytest.approx(0.75)
        assert report["toxic"]["precision"] == pytest.approx(0.5)
        assert report["toxic"]["recall"] == pytest.approx(0.5)
        assert report["toxic"]["flag_rate"] == pytest.approx(0.5)

    def test_evaluate_frame_skips_labels_without_a_column(self) -> None:
        frame = pd.DataFrame({"text": ["a", "b"], "toxic": [1, 0]})
        report = evaluate_frame(frame, LABELS, {}, fixed_scores([0.9, 0.1]))
        assert set(report) == {"toxic"}

    def test_evaluate_frame_one_class_gives_no_auc(self) -> None:
        frame = pd.DataFrame({"text": ["a", "b"], "toxic": [1, 1]})
        report = evaluate_frame(frame, LABELS, {}, fixed_scores([0.9, 0.1]))
        assert report["toxic"]["roc_auc"] is None


class TestReadLabelledFile:
    @pytest.mark.parametrize(
        ("name", "content"),
        [
            ("a.csv", "text,toxic\nhello,0\nyou idiot,1\n"),
            ("a.tsv", "text\ttoxic\nhello\t0\nyou idiot\t1\n"),
            ("a.jsonl", '{"text": "hello", "toxic": 0}\n{"text": "you idiot", "toxic": 1}\n'),
        ],
    )
    def test_read_labelled_file_formats(self, tmp_path: Path, name: str, content: str) -> None:
        path = tmp_path / name
        path.write_text(content)
        frame = read_labelled_file(path)
        assert list(frame["text"]) == ["hello", "you idiot"]
        assert list(frame["toxic"]) == [0, 1]

    def test_read_labelled_file_missing_file(self, tmp_path: Path) -> None:
        with pytest.raises(EvaluationDataError, match="no such file"):
            read_labelled_file(tmp_path / "nope.csv")

    def test_read_labelled_file_without_text_column(self, tmp_path: Path) -> None:
        path = tmp_path / "a.csv"
        path.write_text("body,toxic\nhello,0\n")
        with pytest.raises(EvaluationDataError, match="no 'text' column"):
            read_labelled_file(path)


class TestSpanF1:
    def test_span_f1_is_the_mean_over_posts(self) -> None:
        # One post per case of models.spans.span_f1 (tested there): half overlap, both empty.
        assert span_f1([[(0, 10)], []], [[(5, 15)], []]) == pytest.approx(0.75)

    def test_span_f1_of_no_posts_is_nan(self) -> None:
        assert np.isnan(span_f1([], []))
