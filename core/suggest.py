"""Thresholds from a target a newsroom thinks in: a review capacity or a rejection precision.

Capacity: the lowest flag threshold for one label at which the source's last N days would have
given at most N flagged comments a day, counting what the other labels and the rules flag.
Precision: the lowest reject threshold for one label at which, among the comments moderators
labelled for it (core.labels), the share truly carrying the label is at least P. Both are worked
out on the what-if history (core.whatif), and come with the what-if of what they propose.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.domain import LABELS
from core.labels import labels_for
from core.policy import Policy, Thresholds
from core.whatif import ScoredHistory, WhatIf, what_if

# Labels a precision needs before it can be estimated at all, and at or above the threshold.
MIN_LABELS = 100
MIN_LABELS_ABOVE = 20
# Thresholds are given to 4 decimals; a capacity never sets a flag threshold below this.
STEP = 0.0001
MIN_FLAG_THRESHOLD = 0.05


class TargetRefused(ValueError):
    """A target that cannot be met or judged on this history; the message says why."""


class NotEnoughLabels(TargetRefused):
    """Too few moderator labels to estimate a precision; the message says how many more."""

    def __init__(self, message: str, labels: int, needed: int) -> None:
        super().__init__(message)
        self.labels = labels
        self.needed = needed


# The two targets, by the name the CLI option, the API and the page give them.
TARGETS = ("flag_capacity", "reject_precision")


@dataclass(frozen=True)
class Suggestion:
    label: str
    target: dict[str, Any]
    thresholds: dict[str, dict[str, float | None]]
    policy: Policy
    what_if: WhatIf

    def as_json(self) -> dict[str, Any]:
        return {
            "thresholds": self.thresholds,
            "target": self.target,
            "what_if": self.what_if.as_json(),
        }


def _check_label(label: str) -> None:
    if label not in LABELS:
        raise TargetRefused(f"unknown label {label!r}; labels: {', '.join(LABELS)}")


def with_label_thresholds(policy: Policy, label: str, limits: Thresholds) -> Policy:
    """`policy` with one label's thresholds replaced."""
    return Policy(
        thresholds={**{k: policy.for_label(k) for k in LABELS}, label: limits},
        blocklist=policy.blocklist,
        max_links=policy.max_links,
    )


def _suggestion(
    history: ScoredHistory, policy: Policy, label: str, limits: Thresholds, target: dict[str, Any]
) -> Suggestion:
    proposed = with_label_thresholds(policy, label, limits)
    result = what_if(history, proposed)
    return Suggestion(
        label=label,
        target=target,
        thresholds={label: {"flag": limits.flag, "reject": limits.reject}},
        policy=proposed,
        what_if=result,
    )


def suggest_for_capacity(
    history: ScoredHistory, policy: Policy, label: str, per_day: float
) -> Suggestion:
    """The lowest flag threshold for `label` keeping flagged comments within `per_day`."""
    _check_label(label)
    if per_day <= 0:
        raise TargetRefused("a flag capacity must be more than 0 comments a day")
    reject = policy.for_label(label).reject
    scores = history.column(label)
    # Every band but this label's flagging: the other labels, the rules, its own rejections.
    others = with_label_thresholds(policy, label, Thresholds(flag=math.inf, reject=reject))
    base = history.bands(others)
    # A capacity above every comment of the period means every comment (and stays finite).
    allowed = min(per_day * history.days, float(len(scores)))
    budget = math.floor(allowed) - int(np.count_nonzero(base == 1))
    if budget < 0:
        raise TargetRefused(
            f"the other labels and the rules alone flag "
            f"{np.count_nonzero(base == 1) / history.days:.1f} comments a day, more than "
            f"{per_day:g}: no {label} threshold can keep within it"
        )
    with np.errstate(invalid="ignore"):
        candidates = np.sort(scores[(base == 0) & ~np.isnan(scores)])[::-1]
    if budget >= len(candidates):
        flag = MIN_FLAG_THRESHOLD
    else:
        # Just above the first score that would not fit: at most `budget` scores reach it.
        first_out = float(candidates[budget])
        flag = round((math.floor(round(first_out / STEP, 6)) + 1) * STEP, 4)
        if flag <= first_out:
            flag = round(flag + STEP, 4)
        flag = max(MIN_FLAG_THRESHOLD, flag)
    flag = min(flag, reject if reject is not None else 1.0)
    suggestion = _suggestion(history, policy, label, Thresholds(flag=flag, reject=reject), {})
    achieved = suggestion.what_if.proposed["flagged"] / history.days
    return Suggestion(
        label=label,
        target={"flag_capacity": per_day, "flagged_per_day": round(achieved, 2)},
        thresholds=suggestion.thresholds,
        policy=suggestion.policy,
        what_if=suggestion.what_if,
    )


def labelled_for(history: ScoredHistory, label: str) -> tuple[np.ndarray, np.ndarray]:
    """(scores, 0/1 labels) of the comments whose moderator decision says something of `label`."""
    column = history.column(label)
    scores: list[float] = []
    truths: list[int] = []
    for item in history.labelled:
        value = (labels_for(item.status, item.reason_code) or {}).get(label)
        if value is None or math.isnan(column[item.index]):
            continue
        scores.append(float(column[item.index]))
        truths.append(int(value))
    return np.asarray(scores, dtype=np.float64), np.asarray(truths, dtype=np.int64)


def suggest_for_precision(
    history: ScoredHistory, policy: Policy, label: str, precision: float, source_name: str = ""
) -> Suggestion:
    """The lowest reject threshold for `label` whose rejections moderators agree with at least
    `precision` of the time (on the comments they labelled)."""
    _check_label(label)
    if not 0 < precision <= 1:
        raise TargetRefused("a reject precision must be in (0, 1]")
    scores, truths = labelled_for(history, label)
    who = f"{source_name or history.source_id} has"
    if len(scores) < MIN_LABELS:
        raise NotEnoughLabels(
            f"{who} {len(scores)} moderator labels for {label} in the last {history.days} days; "
            f"{MIN_LABELS - len(scores)} more are needed to judge a precision "
            f"(at least {MIN_LABELS})",
            labels=len(scores),
            needed=MIN_LABELS - len(scores),
        )
    order = np.argsort(-scores, kind="stable")
    ranked, hits = scores[order], np.cumsum(truths[order])
    best: tuple[float, float, int] | None = None  # (threshold, precision, labels at or above)
    seen_best = (0.0, 0.0)
    for k in range(MIN_LABELS_ABOVE, len(ranked) + 1):
        # A threshold at ranked[k-1] takes every tie with it: only the last of a tie counts.
        if k < len(ranked) and ranked[k] == ranked[k - 1]:
            continue
        share = float(hits[k - 1]) / k
        if share > seen_best[1]:
            seen_best = (float(ranked[k - 1]), share)
        if share >= precision:
            best = (float(ranked[k - 1]), share, k)
    if best is None:
        raise TargetRefused(
            f"no {label} reject threshold reaches precision {precision:g} with at least "
            f"{MIN_LABELS_ABOVE} labelled comments at or above it; the best is "
            f"{seen_best[1]:.2f} at {seen_best[0]:.4f}"
        )
    reject, share, above = best
    flag = min(policy.for_label(label).flag, reject)
    suggestion = _suggestion(history, policy, label, Thresholds(flag=flag, reject=reject), {})
    return Suggestion(
        label=label,
        target={
            "reject_precision": precision,
            "precision": round(share, 4),
            "labelled_at_or_above": above,
            "labelled": len(scores),
        },
        thresholds=suggestion.thresholds,
        policy=suggestion.policy,
        what_if=suggestion.what_if,
    )


def suggest_target(
    history: ScoredHistory,
    policy: Policy,
    label: str,
    target: str,
    value: float,
    source_name: str = "",
) -> Suggestion:
    """The suggestion for one of TARGETS (the CLI, the admin API and page share it)."""
    if target == "flag_capacity":
        return suggest_for_capacity(history, policy, label, value)
    if target == "reject_precision":
        return suggest_for_precision(history, policy, label, value, source_name=source_name)
    raise TargetRefused(f"unknown target {target!r}; targets: {', '.join(TARGETS)}")


def save_reason(label: str, target: str, value: float) -> str:
    """The reason kept with the policy version a saved suggestion makes."""
    if target == "flag_capacity":
        return f"policy suggest: {label} for a capacity of {value:g} flagged a day"
    return f"policy suggest: {label} rejections at precision {value:g}"
