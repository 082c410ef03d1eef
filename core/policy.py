"""Policy v1: turn label scores and the comment text into approve / flag / reject, with reasons."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.domain import LABELS, Status
from core.reasons import BelowThresholdsReason, BlocklistReason, LinksReason, Reason, ScoreReason
from core.rules import compile_terms, count_links, may_match, read, read_text

DEFAULT_FLAG_THRESHOLD = 0.5
DEFAULT_MAX_LINKS = 2


@dataclass(frozen=True)
class Thresholds:
    """Per label: flag at or above `flag`; reject at or above `reject` (None: never reject)."""

    flag: float = DEFAULT_FLAG_THRESHOLD
    reject: float | None = None


@dataclass(frozen=True)
class Policy:
    thresholds: Mapping[str, Thresholds] = field(default_factory=dict)
    # (term, action) pairs; action is "flag" or "reject".
    blocklist: Sequence[tuple[str, str]] = ()
    max_links: int = DEFAULT_MAX_LINKS
    # The source's policy version this policy is (core.policies); None for one not stored.
    version: int | None = None

    @classmethod
    def from_source_fields(
        cls,
        thresholds: Mapping[str, Any] | None,
        blocklist: Sequence[Any] | None,
        max_links: int,
        version: int | None = None,
    ) -> Policy:
        parsed = {
            label: Thresholds(
                flag=float(v.get("flag", DEFAULT_FLAG_THRESHOLD)), reject=v.get("reject")
            )
            for label, v in (thresholds or {}).items()
        }
        terms = tuple(
            (str(item["term"]), str(item.get("action", "flag"))) for item in blocklist or ()
        )
        return cls(thresholds=parsed, blocklist=terms, max_links=max_links, version=version)

    def for_label(self, label: str) -> Thresholds:
        return self.thresholds.get(label, Thresholds())

    def describe(self) -> dict[str, Any]:
        """What is recorded with a decision: the policy version, its thresholds and rules."""
        return {
            "version": self.version,
            "thresholds": {
                label: {"flag": self.for_label(label).flag, "reject": self.for_label(label).reject}
                for label in LABELS
            },
            "max_links": self.max_links,
            "blocklist_terms": len(self.blocklist),
        }


@dataclass(frozen=True)
class Outcome:
    status: Status
    reasons: list[Reason]


def decide(scores: Mapping[str, float], text: str, policy: Policy) -> Outcome:
    """The strictest outcome any score or rule calls for; every contributing reason is kept."""
    rank = {Status.APPROVED: 0, Status.FLAGGED: 1, Status.REJECTED: 2}
    status = Status.APPROVED
    reasons: list[Reason] = []

    for label, score in scores.items():
        limits = policy.for_label(label)
        if limits.reject is not None and score >= limits.reject:
            verdict, threshold = Status.REJECTED, limits.reject
        elif score >= limits.flag:
            verdict, threshold = Status.FLAGGED, limits.flag
        else:
            continue
        reasons.append(
            ScoreReason(
                label=label,
                score=float(score),  # as stored: the bar and the words round it once
                threshold=threshold,
                outcome=verdict.value,
            )
        )
        status = max(status, verdict, key=rank.__getitem__)

    terms = compile_terms(policy.blocklist)
    reading = read(text) if may_match(terms, text) else None
    for rule in terms:
        matched = rule.find(reading, text) if reading is not None else None
        if matched is not None:
            verdict = Status.REJECTED if rule.action == "reject" else Status.FLAGGED
            reasons.append(BlocklistReason(term=rule.term, matched=matched, outcome=verdict.value))
            status = max(status, verdict, key=rank.__getitem__)

    links = count_links(text)
    if links > policy.max_links:
        reasons.append(
            LinksReason(count=links, limit=policy.max_links, outcome=Status.FLAGGED.value)
        )
        status = max(status, Status.FLAGGED, key=rank.__getitem__)

    if not reasons:
        reasons.append(BelowThresholdsReason(outcome=Status.APPROVED.value))
    return Outcome(status=status, reasons=reasons)


def rules_status(policy: Policy) -> Callable[[str], Status]:
    """decide()'s rule half (blocklist and link limit, no scores) as a function of the text, its
    patterns compiled once: core.whatif runs it over a source's whole history. A change to how
    decide() applies the rules belongs here too (tests/core/test_whatif.py compares the two)."""
    terms = compile_terms(policy.blocklist)
    rejecting = [rule.pattern for rule in terms if rule.action == "reject"]
    flagging = [rule.pattern for rule in terms if rule.action != "reject"]
    max_links = policy.max_links

    def status(text: str) -> Status:
        folded = read_text(text) if may_match(terms, text) else ""
        if any(pattern.search(folded) for pattern in rejecting):
            return Status.REJECTED
        if any(pattern.search(folded) for pattern in flagging) or count_links(text) > max_links:
            return Status.FLAGGED
        return Status.APPROVED

    return status
