"""The per-word span model behind highlights(): its marks, and the fast F1 used to tune it."""

from __future__ import annotations

import numpy as np
import pytest

from models.evaluate import span_f1
from models.highlight import SpanModel, f1_by_threshold, join_spaced, unit_features, word_form
from models.highlighter import eligible_units, marked_units


def units_of(text: str, contributions: list[float]) -> list:
    """Units of a text split on spaces (original span, form, toxic contribution)."""
    units, start = [], 0
    for piece, contribution in zip(text.split(" "), contributions, strict=True):
        units.append(((start, start + len(piece)), word_form(piece), contribution))
        start += len(piece) + 1
    return units


class TestSpanModel:
    def test_probabilities_survive_extreme_margins(self) -> None:
        # A word beside a tiny top contribution once made math.exp overflow.
        model = SpanModel({"contribution": 800.0, "w=you": -900.0}, intercept=0.0)
        units = units_of("you idiot", [-1.0, 1.0])
        probabilities = model.probabilities(units)
        assert probabilities[0] == pytest.approx(0.0)
        assert probabilities[1] == pytest.approx(1.0)

    def test_share_feature_is_bounded(self) -> None:
        units = units_of("poland beware bilderberg", [-0.99, -1.1, 0.003])
        shares = [unit_features(units, i)["share"] for i in range(3)]
        assert shares == [-1.0, -1.0, 1.0]

    def test_choose_marks_the_likeliest_word_of_a_flagged_comment(self) -> None:
        model = SpanModel({}, 0.0, threshold=0.5, at_least_one=True)
        probabilities = np.array([0.1, 0.3, 0.2])
        assert model.choose(probabilities, flagged=True).tolist() == [False, True, False]
        assert not model.choose(probabilities, flagged=False).any()
        model.at_least_one = False
        assert not model.choose(probabilities, flagged=True).any()

    def test_choose_wants_a_surer_word_on_an_unflagged_comment(self) -> None:
        model = SpanModel({}, 0.0, threshold=0.3)
        model.unflagged_threshold = 0.7
        probabilities = np.array([0.5, 0.8])
        assert model.choose(probabilities, flagged=True).tolist() == [True, True]
        assert model.choose(probabilities, flagged=False).tolist() == [False, True]

    def test_a_higher_scored_unflagged_comment_needs_less_surety(self) -> None:
        model = SpanModel({}, 0.0, threshold=0.3)
        model.unflagged_threshold, model.unflagged_slope = 0.9, 1.0
        probabilities = np.array([0.2, 0.55, 0.8])
        assert model.choose(probabilities, flagged=False, score=0.0).tolist() == [False] * 3
        assert model.choose(probabilities, flagged=False, score=0.2).tolist() == [
            False,
            False,
            True,
        ]
        # Never below the flagged comments' own threshold.
        assert model.word_threshold(flagged=False, score=0.9) == 0.3
        assert model.word_threshold(flagged=True, score=0.0) == 0.3


class TestJoinSpaced:
    def test_words_parted_by_spaces_become_one_span(self) -> None:
        text = "a disgusting  cretin, and a liar"
        assert join_spaced(text, [(2, 12), (14, 20), (28, 32)]) == [(2, 20), (28, 32)]

    def test_punctuation_between_words_keeps_them_apart(self) -> None:
        text = "stupid, arrogant"
        assert join_spaced(text, [(8, 16), (0, 6)]) == [(0, 6), (8, 16)]


class TestF1ByThreshold:
    @pytest.mark.parametrize("seed", range(40))
    @pytest.mark.parametrize("at_least_one", [False, True])
    def test_equals_span_f1_of_the_marked_spans(self, seed: int, at_least_one: bool) -> None:
        rng = np.random.default_rng(seed)
        words = rng.choice(["you", "idiot", "stupid", "gay", "the", "cretin", "a", "x,"], 8)
        separators = rng.choice([" ", "  ", ", ", " - "], 7)
        text = words[0] + "".join(s + w for s, w in zip(separators, words[1:], strict=True))
        units, position = [], 0
        for word in words:
            start = text.index(word, position)
            end = start + len(word.rstrip(","))
            units.append(((start, end), word_form(word), float(rng.normal(0.5, 1.0))))
            position = start + len(word)
        probabilities = rng.random(len(units))
        gold = [] if seed % 5 == 0 else [(units[1][0][0], units[2][0][1])]
        flagged = bool(seed % 2)
        eligible = eligible_units(units, flagged)
        thresholds = np.array([0.2, 0.5, 0.8, 0.99])
        # Unflagged comments need a surer word, the less so the higher the comment's score:
        # above some grid thresholds, below others.
        unflagged, slope, post_score = 0.8, 0.5, float(rng.random() * 0.4)
        fast = f1_by_threshold(
            text,
            units,
            probabilities,
            eligible,
            flagged,
            gold,
            thresholds,
            at_least_one,
            unflagged - slope * post_score,
        )
        model = SpanModel({}, 0.0, at_least_one=at_least_one)
        model.unflagged_threshold, model.unflagged_slope = unflagged, slope
        for threshold, score in zip(thresholds, fast, strict=True):
            model.threshold = float(threshold)
            chosen = model.choose(probabilities, flagged, post_score)
            marked = join_spaced(text, marked_units(units, chosen, flagged))
            assert score == pytest.approx(span_f1([marked], [gold]))
