"""Highlight tuning: the surer bar of comments no label flags, set from clean comments."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.highlight_tuning import UNFLAGGED_MARK_BUDGET, _clean_unflagged, _unflagged_rules
from models.splits import CALIBRATION, FIT


class _OneWordClassifier:
    """Scores nothing as flagged; each text is "word probability|score", one word that raises
    the toxic score."""

    def predict_one(self, text: str) -> np.ndarray:
        return np.array([float(text.split("|")[1])])

    def flagged(self, probabilities: np.ndarray) -> bool:
        return False

    def highlight_score(self, probabilities: np.ndarray) -> float:
        return float(probabilities[0])

    def words(self, text: str) -> list:  # type: ignore[type-arg]
        return [((0, len(text)), text, 1.0)]


class _TextIsProbability:
    """A span model whose word probability is written in the text."""

    def word_probabilities(self, text: str, units: list, scores: np.ndarray) -> np.ndarray:  # type: ignore[type-arg]
        return np.array([float(text.split("|")[0])])


def _clean_frame(texts: list[str]) -> pd.DataFrame:
    """Clean calibration comments, and one toxic and one fit-part comment that must not count."""
    return pd.DataFrame(
        {
            "text": texts + ["0.99|0.0", "0.99|0.0"],
            "toxic": [0.0] * len(texts) + [1.0, 0.0],
            "part": [CALIBRATION] * (len(texts) + 1) + [FIT],
        }
    )


class TestUnflaggedRules:
    def test_without_slope_the_threshold_is_the_lowest_within_budget(self) -> None:
        frame = _clean_frame([f"{p / 100:.2f}|0.1" for p in range(100)])
        clean = _clean_unflagged(_OneWordClassifier(), _TextIsProbability(), frame)
        assert clean.shape == (100, 2)
        flat = _unflagged_rules(clean)[0]
        # 0.92 ... 0.99 are the 8% at or above 0.9125; at 0.9, 10% would be marked.
        assert UNFLAGGED_MARK_BUDGET == 0.08
        assert (flat.slope, flat.threshold, flat.marked) == (0.0, 0.9125, 0.08)

    def test_a_slope_lets_a_higher_scored_comment_mark_a_less_sure_word(self) -> None:
        # Word probability and score rise together: with a slope, the budget is spent on the
        # comments nearest the flag threshold.
        frame = _clean_frame([f"{p / 100:.2f}|{p / 250:.3f}" for p in range(100)])
        rules = {
            rule.slope: rule
            for rule in _unflagged_rules(
                _clean_unflagged(_OneWordClassifier(), _TextIsProbability(), frame)
            )
        }
        steep = rules[1.0]
        assert steep.marked is not None and steep.marked <= UNFLAGGED_MARK_BUDGET
        # Word + score is 0.014 p: from 1.275 the 8 comments 0.92 ... 0.99 are marked (0.08);
        # from 1.25 the 10 of 0.90 ... 0.99 would be.
        assert (steep.threshold, steep.marked) == (1.275, 0.08)
        thresholds = steep.word_thresholds(np.array([0.0, 0.4]))
        assert thresholds.tolist() == pytest.approx([1.275, 0.875])

    def test_every_slope_finds_a_threshold_even_when_all_clean_comments_look_toxic(self) -> None:
        # Scored just below a 0.9 flag threshold, a sure word each: no threshold but the top of
        # the grid keeps them unmarked.
        clean = np.array([[0.89, 0.99]] * 10)
        rules = _unflagged_rules(clean)
        assert [rule.slope for rule in rules] == [0.0, 0.5, 1.0, 1.5, 2.0]
        for rule in rules:
            assert rule.marked == 0.0
            assert rule.threshold > 0.99 + rule.slope * 0.89
