"""Artifact folders for registry tests: fake ones (never loaded) and tiny loadable ones, with
held-out figures made to pass or fail each promotion gate."""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import delete

from core.db import session_scope
from core.registry import shipped_model_dir
from core.settings import Settings
from core.tables import ModelChange, ModelVersion


def shipped_manifest() -> dict[str, Any]:
    directory = shipped_model_dir()
    assert directory is not None
    manifest: dict[str, Any] = json.loads((directory / "manifest.json").read_text())
    return manifest


def shipped_version() -> str:
    return str(shipped_manifest()["version"])


def figures_like_shipped(**changes: Any) -> dict[str, Any]:
    """The shipped manifest's metrics and identity audit, with `changes` applied:
    heldout_delta (added to every public ROC-AUC), neutral_flag_rate, bpsn_delta,
    site_heldout (a whole site_heldout section)."""
    manifest = shipped_manifest()
    metrics = copy.deepcopy(manifest["metrics"])
    delta = changes.get("heldout_delta", 0.0)
    for row in metrics["heldout"]:
        if row["roc_auc"] is not None:
            row["roc_auc"] = min(1.0, row["roc_auc"] + delta)
    audit = copy.deepcopy(manifest["identity_audit"])
    audit["neutral_flag_rate"] = changes.get("neutral_flag_rate", audit["neutral_flag_rate"])
    audit["mean_bias_aucs"]["bpsn_auc"] += changes.get("bpsn_delta", 0.0)
    figures: dict[str, Any] = {"metrics": metrics, "identity_audit": audit}
    if "site_heldout" in changes:
        figures["site_heldout"] = changes["site_heldout"]
    return figures


def site_figures(difference_low: float, difference_high: float, compared_with: str) -> dict:
    return {
        "compared_with": compared_with,
        "n": 400,
        "labels": {
            "toxic": {
                "n": 400,
                "positives": 120,
                "roc_auc": 0.9,
                "live_roc_auc": 0.9 - (difference_low + difference_high) / 2,
                "difference_low": difference_low,
                "difference_high": difference_high,
            }
        },
    }


def fake_artifact(directory: Path, version: str, **manifest: Any) -> Path:
    """A folder the registry accepts (its manifest agrees with its file); no model inside."""
    directory.mkdir(parents=True, exist_ok=True)
    data = f"not a model: {version}".encode()
    (directory / "model.joblib").write_bytes(data)
    full = {
        "model_file": "model.joblib",
        "sha256": hashlib.sha256(data).hexdigest(),
        "version": version,
        "thresholds": {"toxic": 0.5, "identity_hate": 0.5, "threat": 0.5, "spam": 0.5},
        "training_sets": [{"name": "made-up"}],
        **figures_like_shipped(),
        **manifest,
    }
    (directory / "manifest.json").write_text(json.dumps(full))
    return directory


@cache
def _tiny() -> Any:
    from tests.models.tiny_model import tiny_classifier

    return tiny_classifier()


def tiny_artifact(
    directory: Path, version: str, thresholds: dict[str, float] | None = None, **figures: Any
) -> Path:
    """A real, loadable artifact (the tiny test classifier) under `version`."""
    from models.artifact import save

    classifier = copy.copy(_tiny())
    classifier.version = version
    if thresholds is not None:
        classifier.thresholds = {**classifier.thresholds, **thresholds}
    save(classifier, directory, {"training_sets": [{"name": "made-up"}], **figures})
    return directory


def empty_registry(settings: Settings) -> Iterator[None]:
    """The registry emptied before and after a test (the PostgreSQL database is shared by the
    run's tests, and an empty registry is seeded with the shipped model on first use)."""

    def clear() -> None:
        with session_scope(settings) as session:
            session.execute(delete(ModelChange))
            session.execute(delete(ModelVersion))

    clear()
    yield
    clear()
