"""Metrics: AUCs as computed by hand, file reading errors, the SemEval span F1."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from models.evaluate import (
    EvaluationDataError,
    evaluate_frame,
    post_span_f1,
    read_labelled_file,
    span_f1,
)

LABELS = ["toxic", "identity_hate", "threat", "spam"]


def fixed_scores(toxic: Sequence[float]) -> object:
    def predict(texts: Sequence[str]) -> np.ndarray:
        scores = np.zeros((len(texts), len(LABELS)))
        scores[:, 0] = toxic
        return scores

    return predict


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
    def test_post_span_f1_partial_overlap(self) -> None:
        # predicted chars 0-9, gold 5-14: 5 shared -> P 0.5, R 0.5.
        assert post_span_f1([(0, 10)], [(5, 15)]) == pytest.approx(0.5)

    def test_post_span_f1_both_empty_is_perfect(self) -> None:
        assert post_span_f1([], []) == 1.0

    def test_post_span_f1_one_empty_is_zero(self) -> None:
        assert post_span_f1([(0, 3)], []) == 0.0
        assert post_span_f1([], [(0, 3)]) == 0.0

    def test_span_f1_is_the_mean_over_posts(self) -> None:
        assert span_f1([[(0, 10)], []], [[(5, 15)], []]) == pytest.approx(0.75)
