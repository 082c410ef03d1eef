"""The model card: peer comparison tables, the unflagged highlight rule, and the speed section the
benchmark fills in."""

from __future__ import annotations

import re

from models.artifact import CARD_FILE, SHIPPED_DIR
from models.card import (
    SPEED_HEADING,
    comparison_table,
    speed_section,
    unflagged_rule,
    with_speed_section,
)

CARD = "# Model card\n\n## Highlights\ntext\n\n## Known biases and limits\n- English only\n"


class TestSpeedSection:
    def test_build_card_says_speed_is_not_measured(self) -> None:
        assert "Not measured for this build" in "\n".join(speed_section(None))

    def test_section_added_before_known_biases(self) -> None:
        card = with_speed_section(CARD, speed_section(["batch 0.58x"]))
        assert card.index(SPEED_HEADING) < card.index("## Known biases and limits")
        assert "batch 0.58x" in card
        assert card.endswith("- English only\n")

    def test_section_replaced_not_repeated(self) -> None:
        first = with_speed_section(CARD, speed_section(None))
        second = with_speed_section(first, speed_section(["single 33.7x"]))
        assert second.count(SPEED_HEADING) == 1
        assert "Not measured" not in second
        assert "single 33.7x" in second
        assert "## Known biases and limits\n- English only" in second
        assert with_speed_section(second, speed_section(["single 33.7x"])) == second


class TestComparisonTable:
    def test_rows_show_the_difference_with_its_interval_and_who_is_ahead(self) -> None:
        row = {"set": "olid", "label": "toxic", "n": 100, "positives": 30, "pr_auc": 0.6}
        ahead = {**row, "roc_auc": 0.80, "peer_roc_auc": 0.75, "peer_pr_auc": 0.5}
        behind = {**ahead, "set": "sfu", "roc_auc": 0.56, "peer_roc_auc": 0.62}
        ahead.update(difference_low=0.02, difference_high=0.08, peer_trained_on_set=True)
        behind.update(difference_low=-0.15, difference_high=0.03)
        undefined = {**behind, "set": "spans", "roc_auc": None, "peer_roc_auc": None}
        clearly_behind = {**behind, "difference_low": -0.15, "difference_high": -0.01}
        lines = comparison_table([ahead, behind, undefined, clearly_behind])
        assert lines[2] == (
            "| `olid` † | toxic | 100 (30) | 0.800 | 0.750 | +0.050 (+0.020, +0.080) | 0.600 "
            "| 0.500 | yes |"
        )
        assert "| -0.060 (-0.150, +0.030) |" in lines[3] and lines[3].endswith("| tie |")
        assert lines[4].endswith("| - | 0.600 | 0.500 | - |")
        assert lines[5].endswith("| -0.060 (-0.150, -0.010) | 0.600 | 0.500 | **no** |")

    def test_shipped_card_says_tie_wherever_the_interval_spans_zero(self) -> None:
        card = (SHIPPED_DIR / CARD_FILE).read_text()
        rows = re.findall(r"\| [+-][\d.]+ \(([+-][\d.]+), ([+-][\d.]+)\) \|.*\| ([^|]+) \|\n", card)
        assert rows and all(
            (mark == "tie") == (float(low) <= 0 <= float(high)) for low, high, mark in rows
        )


class TestUnflaggedRule:
    RULE = {
        "unflagged_word_threshold": 1.0,
        "unflagged_slope": 1.5,
        "unflagged_mark_budget": 0.08,
        "unflagged_clean_marked_calibration": 0.077,
        "unflagged_rules": [
            {"slope": 0.0, "threshold": 0.7, "tuning_char_f1_smoothed": 0.6379},
            {"slope": 1.5, "threshold": 1.0, "tuning_char_f1_smoothed": 0.6442},
        ],
    }

    def test_a_sloped_rule_states_the_slope_and_every_slope_tried(self) -> None:
        clean = {"comments": 200, "marked": 0.155, "unflagged": 180, "unflagged_marked": 0.073}
        text = " ".join(unflagged_rule(self.RULE, clean))
        assert "at least 1.000 less 1.5 x the comment's score." in text
        assert "at most 8% of the calibration split's clean comments" in text
        assert "slope 0, threshold 0.700, F1 0.638; slope 1.5, threshold 1.000, F1 0.644." in text
        assert "Of the held-out split's 200 comments" in text

    def test_a_flat_rule_reads_as_one_threshold(self) -> None:
        flat = {**self.RULE, "unflagged_slope": 0.0, "unflagged_word_threshold": 0.7}
        del flat["unflagged_rules"]
        text = " ".join(unflagged_rule(flat, None))
        assert "span model gives it at least 0.700." in text
        assert "slope" not in text and "held-out" not in text
