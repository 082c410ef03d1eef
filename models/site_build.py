"""The artifact of a retrain with the site's labels: model, manifest (with `site_labels` and
`site_heldout`), and a model card with the site's section. models.site_labels does the fitting."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from models.artifact import save
from models.build import identity_audit
from models.classifier import Classifier
from models.evaluate import (
    heldout_table,
    json_number,
    profanity_check_scores,
    score_reference,
)
from models.site_labels import (
    MIN_CLASS_ROWS,
    WEIGHT_GRID,
    Progress,
    _quiet,
    retrain_with_site,
    site_counts,
    site_frame,
    site_heldout,
)
from models.splits import HELDOUT

CARD_FILE = "MODEL_CARD.md"


def public_heldout(
    live: Classifier, candidate: Classifier, public: pd.DataFrame
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
    """metrics.heldout rows of the candidate (beside alt-profanity-check, as `train` writes
    them) and of the live model, on the same public held-out rows; and the candidate's
    `score_reference` from those rows (models.evaluate.score_reference)."""
    rows = public[public["part"] == HELDOUT].reset_index(drop=True)
    normalised = list(rows["normalised"])
    peer = profanity_check_scores(list(rows["text"]))
    labels = candidate.labels
    scores = candidate.probabilities_normalised(normalised)
    ours = heldout_table(rows, scores, peer, labels)
    theirs = heldout_table(rows, live.probabilities_normalised(normalised), peer, labels)
    return (
        [r.as_dict() for r in ours],
        [r.as_dict() for r in theirs],
        score_reference(scores, labels),
    )


def build_site_candidate(
    *,
    live: Classifier,
    live_manifest: Mapping[str, Any],
    public: pd.DataFrame,
    site_rows: Sequence[Mapping[str, Any]],
    out: Path,
    command: str,
    source: str | None = None,
    progress: Progress = _quiet,
) -> dict[str, Any]:
    """Retrain with the site's rows and write the artifact folder; returns its manifest."""
    started = time.perf_counter()
    site = site_frame(site_rows, live.labels)
    run = retrain_with_site(live, live_manifest, public, site, progress=progress)
    candidate = run.classifier
    progress("public held-out evaluation", 0.8)
    ours, theirs, reference = public_heldout(live, candidate, run.public)
    progress("identity audit", 0.9)
    audit = identity_audit(candidate)
    progress("writing artifact", 0.95)
    counts = site_counts(run.split, candidate.labels)
    counts.update(
        {
            "source": source,
            "weight": run.weight,
            "weights_tried": run.tried,
            "live_public_calibration_roc_auc": run.live_public_calibration,
        }
    )
    manifest: dict[str, Any] = {
        "seed": live_manifest.get("seed"),
        "config": live_manifest.get("config"),
        "training_sets": live_manifest.get("training_sets"),
        "base_model": live.version,
        "method": "site heads: the live model's features, heads refitted with the site's labels",
        "metrics": {"heldout": ours, "live_heldout": theirs},
        "score_reference": reference,
        "identity_audit": audit.get("summary") if audit else None,
        "regularisation": live_manifest.get("regularisation"),
        "highlight_rule": live_manifest.get("highlight_rule"),
        "calibration": {
            label: {"slope": float(a), "offset": float(b)}
            for label, a, b in zip(
                candidate.labels, candidate.calib_slope, candidate.calib_offset, strict=True
            )
        },
        "site_labels": counts,
        "site_heldout": site_heldout(live, candidate, run.split.heldout, live.version),
        "training_seconds": round(time.perf_counter() - started, 1),
        "step_seconds": run.seconds,
        "command": command,
    }
    full = save(candidate, out, _plain(manifest))
    write_site_card(out, full)
    progress("done", 1.0)
    return full


def _plain(value: Any) -> Any:
    """JSON-ready: numpy numbers as Python ones, NaN as null."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic | float):
        return json_number(float(value))
    return value


def _num(value: Any, digits: int = 3) -> str:
    return "-" if value is None else f"{float(value):.{digits}f}"


def write_site_card(directory: Path, manifest: Mapping[str, Any]) -> Path:
    """MODEL_CARD.md of the candidate: how it was made, the site's section, the public figures."""
    site = manifest["site_labels"]
    held = manifest["site_heldout"]
    rows = site["rows"]
    lines = [
        f"# Model card: comment moderation classifier `{manifest['version']}`",
        "",
        f"Retrained from the live model `{manifest['base_model']}` with the site's moderator",
        "labels (`moderation train --with-decisions`). The live model's features (vocabulary,",
        "IDF) are reused; each label's head is refitted on public fit rows plus the site's",
        "training labels, with the live model's margin as one more feature, then folded back",
        "into one linear model and calibrated (Platt, or the embedding stage's stacker) on the",
        "public calibration rows and the site's validation labels. The highlight rule is the",
        "live model's.",
        "",
        "## The site's labels",
        f"Source: {site.get('source') or 'all sources'}. {site['received']} labelled revisions "
        f"received; {site['public_duplicates']} left out as texts the public sets hold, "
        f"{site['repeated']} as older decisions of a text decided again.",
        f"Split by decision time: {rows['train']} train, {rows['validation']} validation "
        f"(chooses the weight), {rows['heldout']} held out (the newest 20%, never trained "
        "or tuned on"
        + (
            f"; decided from {site['heldout_from'][:19]} on)." if site.get("heldout_from") else ")."
        ),
        "",
        "| label | train +/- | validation +/- | held out +/- |",
        "| --- | --- | --- | --- |",
    ]
    for label, parts in site["labels"].items():
        cells = [f"{parts[p]['positives']}/{parts[p]['negatives']}" for p in parts]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += ["", "| reason code | train | validation | held out |", "| --- | --- | --- | --- |"]
    for reason, parts in sorted(site["reasons"].items()):
        cells = [str(parts.get(p, 0)) for p in ("train", "validation", "heldout")]
        lines.append(f"| {reason} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"Site rows weigh {site['weight']:g} times a public row of the same class balance "
        f"(chosen of {', '.join(f'{w:g}' for w in WEIGHT_GRID)} by the mean ROC-AUC on the site's",
        "validation labels, among the weights keeping the public calibration ROC-AUC within",
        "0.005 of the live model's):",
        "",
        "| weight | site validation ROC-AUC | public calibration ROC-AUC | within tolerance |",
        "| --- | --- | --- | --- |",
    ]
    for tried in site["weights_tried"]:
        lines.append(
            f"| {tried['weight']:g} | {_num(tried['site_validation_roc_auc'], 4)} | "
            f"{_num(tried['public_calibration_roc_auc'], 4)} | "
            f"{'yes' if tried['within_public_tolerance'] else 'no'} |"
        )
    lines += [
        "",
        f"### Held out: live `{held['compared_with']}` and this candidate",
        f"{held['n']} held-out site labels; ROC-AUC per label with the 95% paired bootstrap",
        "interval of the difference (candidate minus live). The registry's `site_heldout` gate",
        "refuses a promotion when an interval lies wholly below zero.",
        "",
        "| label | n | positives | live ROC-AUC | candidate ROC-AUC | difference (95% interval) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for label, m in held["labels"].items():
        lines.append(
            f"| {label} | {m['n']} | {m['positives']} | {_num(m['live_roc_auc'])} | "
            f"{_num(m['roc_auc'])} | {_num(m['roc_auc'] - m['live_roc_auc'])} "
            f"({_num(m['difference_low'])} to {_num(m['difference_high'])}) |"
        )
    if not held["labels"]:
        lines.append(f"| (no label has {MIN_CLASS_ROWS} held-out rows of each class) | | | | | |")
    live_auc = {(r["set"], r["label"]): r["roc_auc"] for r in manifest["metrics"]["live_heldout"]}
    lines += [
        "",
        "## Public held-out splits: live and candidate",
        "",
        "| set | label | n | live ROC-AUC | candidate ROC-AUC |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in manifest["metrics"]["heldout"]:
        lines.append(
            f"| {row['set']} | {row['label']} | {row['n']} | "
            f"{_num(live_auc.get((row['set'], row['label'])))} | {_num(row['roc_auc'])} |"
        )
    audit = manifest.get("identity_audit") or {}
    if audit:
        lines += [
            "",
            "## Identity audit",
            f"Neutral identity templates flagged: {_num(audit.get('neutral_flag_rate'))}; "
            f"BPSN AUC power mean {_num((audit.get('mean_bias_aucs') or {}).get('bpsn_auc'))}.",
        ]
    lines += ["", f"Trained in {manifest['training_seconds']:.0f} s: `{manifest['command']}`", ""]
    path = directory / CARD_FILE
    path.write_text("\n".join(lines))
    return path
