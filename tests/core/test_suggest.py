"""Thresholds from a capacity or a precision, checked against their own what-if."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import pytest

from bench._history import seed_history
from core.db import session_scope
from core.policy import Thresholds
from core.settings import Settings
from core.sources import get_source
from core.store import create_source
from core.suggest import (
    MIN_FLAG_THRESHOLD,
    MIN_LABELS,
    NotEnoughLabels,
    TargetRefused,
    labelled_for,
    suggest_for_capacity,
    suggest_for_precision,
    with_label_thresholds,
)
from core.whatif import ScoredHistory, load_history, proposed_policy, what_if

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
MODEL = {"toxic": 0.41, "identity_hate": 0.4, "threat": 0.5, "spam": 0.41}


def history_of(settings: Settings, n: int) -> tuple[ScoredHistory, object]:
    with session_scope(settings) as session:
        source = create_source(session, "Daily Planet").source
        seed_history(session, source.id, proposed_policy(source, MODEL), n, now=NOW, seed=3)
        source_id = source.id
    with session_scope(settings) as session:
        source = get_source(session, source_id)
        return load_history(session, source_id, 30, now=NOW), proposed_policy(source, MODEL)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
class TestSuggest:
    def test_capacity_gives_the_lowest_flag_threshold_within_it(self, settings: Settings) -> None:
        history, policy = history_of(settings, 3000)
        suggestion = suggest_for_capacity(history, policy, "toxic", 6)
        flagged = suggestion.what_if.proposed["flagged"]
        assert flagged / 30 <= 6
        assert suggestion.target["flagged_per_day"] == round(flagged / 30, 2)
        flag = suggestion.thresholds["toxic"]["flag"]
        assert flag is not None
        lower = what_if(
            history, with_label_thresholds(suggestion.policy, "toxic", Thresholds(flag=flag - 0.02))
        )
        assert lower.proposed["flagged"] / 30 > 6

    @pytest.mark.parametrize("per_day", [1e6, 1.7976931348623157e306, math.inf])
    def test_a_capacity_beyond_every_comment_flags_from_the_lowest_threshold(
        self, settings: Settings, per_day: float
    ) -> None:
        history, policy = history_of(settings, 300)
        suggestion = suggest_for_capacity(history, policy, "toxic", per_day)
        assert suggestion.thresholds["toxic"]["flag"] == MIN_FLAG_THRESHOLD

    def test_capacity_below_what_the_rest_flags_is_refused(self, settings: Settings) -> None:
        history, policy = history_of(settings, 3000)
        with pytest.raises(TargetRefused, match="the other labels and the rules alone flag"):
            suggest_for_capacity(history, policy, "toxic", 0.1)

    def test_precision_gives_a_reject_threshold_meeting_it(self, settings: Settings) -> None:
        history, policy = history_of(settings, 3000)
        suggestion = suggest_for_precision(history, policy, "toxic", 0.6)
        reject = suggestion.thresholds["toxic"]["reject"]
        assert reject is not None
        scores, truths = labelled_for(history, "toxic")
        above = scores >= reject
        assert above.sum() >= 20
        assert truths[above].mean() >= 0.6
        assert suggestion.target["precision"] == pytest.approx(truths[above].mean(), abs=1e-4)
        assert suggestion.what_if.proposed["rejected"] >= int(np.count_nonzero(above))

    def test_precision_out_of_reach_is_refused(self, settings: Settings) -> None:
        history, policy = history_of(settings, 3000)
        with pytest.raises(TargetRefused, match="no toxic reject threshold reaches precision 1"):
            suggest_for_precision(history, policy, "toxic", 1.0)

    def test_precision_with_too_few_labels_says_how_many_more(self, settings: Settings) -> None:
        history, policy = history_of(settings, 300)
        have = len(labelled_for(history, "toxic")[0])
        assert have < MIN_LABELS
        with pytest.raises(NotEnoughLabels) as refused:
            suggest_for_precision(history, policy, "toxic", 0.9, source_name="Daily Planet")
        assert str(refused.value) == (
            f"Daily Planet has {have} moderator labels for toxic in the last 30 days; "
            f"{MIN_LABELS - have} more are needed to judge a precision (at least {MIN_LABELS})"
        )
