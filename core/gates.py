"""Promotion gates: a candidate must not be worse than the live model where we can measure it.

Each gate compares the held-out figures the registry took from the two manifests
(core.registry.manifest_figures), so the API can check a promotion without loading a model:
- site_heldout: on the site's own held-out labels, no label where the candidate is worse than
  the live model beyond the 95% bootstrap interval (the interval of candidate minus live lies
  below zero), measured against the model live now;
- public_heldout: the mean ROC-AUC over the public held-out (set, label) pairs both report does
  not drop by more than PUBLIC_AUC_TOLERANCE;
- identity_audit: no more neutral identity templates flagged than the live model does (none,
  for the shipped one), and the BPSN AUC power mean does not drop by more than
  BPSN_TOLERANCE.
A gate without the figures it needs refuses, except site_heldout for a candidate trained
without site labels (it has no site figures to compare).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

PUBLIC_AUC_TOLERANCE = 0.005
BPSN_TOLERANCE = 0.01


@dataclass(frozen=True)
class GateResult:
    gate: str
    passed: bool
    detail: str

    def as_json(self) -> dict[str, Any]:
        return {"gate": self.gate, "passed": self.passed, "detail": self.detail}


def refusals(results: Sequence[GateResult]) -> list[GateResult]:
    return [result for result in results if not result.passed]


def site_gate(candidate: Mapping[str, Any], live_version: str) -> GateResult:
    site = candidate.get("site_heldout")
    if not isinstance(site, Mapping):
        return GateResult("site_heldout", True, "no site labels held out for this candidate")
    compared_with = site.get("compared_with")
    if compared_with != live_version:
        return GateResult(
            "site_heldout",
            False,
            f"its site figures compare it with {compared_with}, but {live_version} is live: "
            "retrain to compare it with the live model",
        )
    worse = []
    for label, row in sorted((site.get("labels") or {}).items()):
        high = row.get("difference_high") if isinstance(row, Mapping) else None
        if isinstance(high, int | float) and high < 0:
            low = row.get("difference_low")
            worse.append(f"{label} ROC-AUC {low:+.3f} to {high:+.3f}")
    if worse:
        return GateResult(
            "site_heldout",
            False,
            "worse than the live model on the site's held-out labels beyond the 95% interval ("
            + ", ".join(worse)
            + ")",
        )
    return GateResult("site_heldout", True, "not worse on the site's held-out labels")


def _aucs(figures: Mapping[str, Any]) -> dict[tuple[str, str], float]:
    return {
        (str(row["set"]), str(row["label"])): float(row["roc_auc"])
        for row in figures.get("public_heldout") or []
        if isinstance(row, Mapping) and isinstance(row.get("roc_auc"), int | float)
    }


def public_gate(candidate: Mapping[str, Any], live: Mapping[str, Any]) -> GateResult:
    ours, theirs = _aucs(candidate), _aucs(live)
    shared = sorted(ours.keys() & theirs.keys())
    if not shared:
        return GateResult(
            "public_heldout",
            False,
            "no public held-out ROC-AUC to compare with the live model's in the manifests",
        )
    mean = sum(ours[key] for key in shared) / len(shared)
    live_mean = sum(theirs[key] for key in shared) / len(shared)
    detail = (
        f"public held-out mean ROC-AUC {mean:.4f} against the live model's {live_mean:.4f} "
        f"over {len(shared)} set-label pairs"
    )
    if mean < live_mean - PUBLIC_AUC_TOLERANCE:
        return GateResult("public_heldout", False, f"{detail}: down by more than 0.005")
    return GateResult("public_heldout", True, detail)


def audit_gate(candidate: Mapping[str, Any], live: Mapping[str, Any]) -> GateResult:
    ours, theirs = candidate.get("identity_audit") or {}, live.get("identity_audit") or {}
    rate, bpsn = ours.get("neutral_flag_rate"), ours.get("bpsn_power_mean")
    if rate is None or bpsn is None:
        return GateResult("identity_audit", False, "no identity audit figures in its manifest")
    problems = []
    live_rate = theirs.get("neutral_flag_rate") or 0.0
    if rate > 0 and rate > live_rate:
        problems.append(
            f"flags {rate:.1%} of the neutral identity templates ({live_rate:.1%} live)"
        )
    live_bpsn = theirs.get("bpsn_power_mean")
    if live_bpsn is not None and bpsn < live_bpsn - BPSN_TOLERANCE:
        problems.append(
            f"BPSN AUC power mean {bpsn:.3f} against {live_bpsn:.3f}: down by more than 0.01"
        )
    if problems:
        return GateResult(
            "identity_audit", False, "identity audit regresses: " + "; ".join(problems)
        )
    return GateResult("identity_audit", True, f"identity audit holds (BPSN power mean {bpsn:.3f})")


def check_promotion(
    candidate: Mapping[str, Any], live: Mapping[str, Any], live_version: str
) -> list[GateResult]:
    """What each gate says about replacing the live model by the candidate."""
    return [
        site_gate(candidate, live_version),
        public_gate(candidate, live),
        audit_gate(candidate, live),
    ]
