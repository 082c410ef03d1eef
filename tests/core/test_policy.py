from __future__ import annotations

import pytest

from core.domain import Status
from core.policy import Policy, Thresholds, decide

POLICY = Policy(
    thresholds={"toxic": Thresholds(flag=0.5, reject=0.9), "spam": Thresholds(flag=0.7)},
    blocklist=(("bannedword", "reject"), ("watchword", "flag")),
    max_links=2,
)


class TestDecide:
    @pytest.mark.parametrize(
        ("scores", "text", "expected"),
        [
            ({"toxic": 0.1, "spam": 0.1}, "fine", Status.APPROVED),
            ({"toxic": 0.5, "spam": 0.1}, "fine", Status.FLAGGED),
            ({"toxic": 0.49999, "spam": 0.1}, "fine", Status.APPROVED),
            ({"toxic": 0.9, "spam": 0.1}, "fine", Status.REJECTED),
            ({"toxic": 0.1, "spam": 0.95}, "fine", Status.FLAGGED),  # spam has no reject level
            ({"toxic": 0.1}, "a BannedWord here", Status.REJECTED),
            ({"toxic": 0.1}, "watchword!", Status.FLAGGED),
            ({"toxic": 0.1}, "watchwords", Status.APPROVED),  # whole words only
            ({"toxic": 0.1}, "http://a.example http://b.example", Status.APPROVED),
            ({"toxic": 0.1}, "http://a.example www.b.example https://c.example", Status.FLAGGED),
        ],
    )
    def test_decide_outcome(self, scores: dict[str, float], text: str, expected: Status) -> None:
        assert decide(scores, text, POLICY).status is expected

    def test_decide_records_every_reason(self) -> None:
        outcome = decide({"toxic": 0.95, "spam": 0.8}, "watchword", POLICY)
        stored = [r.to_json() for r in outcome.reasons]
        kinds = sorted((r["kind"], r.get("label") or r.get("term")) for r in stored)
        assert kinds == [("blocklist", "watchword"), ("score", "spam"), ("score", "toxic")]

    def test_decide_unset_label_uses_default_flag_threshold(self) -> None:
        outcome = decide({"threat": 0.6}, "x", POLICY)
        assert outcome.status is Status.FLAGGED
        assert outcome.reasons[0].to_json()["threshold"] == 0.5
