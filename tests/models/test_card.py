"""The card's speed section, which the classifier benchmark fills in after a build."""

from __future__ import annotations

from models.card import SPEED_HEADING, speed_section, with_speed_section

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
