"""Which thresholds a source decides with: the ones a person set, else the live model's own.

A source stores only the labels a person tuned (`sources.thresholds`, {label: {"flag",
"reject"}}); every other label follows the flag threshold the model was tuned to, read from the
model itself at decision time, so a model promoted in the registry brings its thresholds with
it. The web process never loads the model: it reads the same numbers from the registry's live
row (taken from its manifest when registered), or, before the registry is seeded, from the
manifest of the configured artifact (MODEL_DIR, else the shipped one).
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy.exc import SQLAlchemyError

from core.db import session_scope
from core.domain import LABELS
from core.policy import DEFAULT_FLAG_THRESHOLD, Policy
from core.registry import live_model, shipped_model_dir
from core.settings import Settings
from core.tables import Source

log = structlog.stdlib.get_logger(__name__)

MANIFEST_FILE = "manifest.json"


class ThresholdsSource(enum.StrEnum):
    """Where a label's threshold comes from."""

    MODEL = "model"
    CUSTOM = "custom"


# A source's summary when some labels follow the model and a person set the others.
MIXED = "mixed"


@lru_cache(maxsize=8)
def _manifest_thresholds(directory: str, mtime_ns: int) -> dict[str, float]:
    manifest = json.loads((Path(directory) / MANIFEST_FILE).read_text())
    thresholds = manifest.get("thresholds") or {}
    return {str(label): float(value) for label, value in thresholds.items()}


def live_model_thresholds(settings: Settings) -> dict[str, float]:
    """The live model's tuned flag thresholds: from the registry, else from the configured
    artifact's manifest ({} when neither can be read)."""
    try:
        with session_scope(settings) as session:
            live = live_model(session)
            if live is not None and live.thresholds:
                return {str(label): float(value) for label, value in live.thresholds.items()}
    except SQLAlchemyError as exc:
        log.warning("model registry unreadable", error=type(exc).__name__)
    return configured_model_thresholds(settings)


def configured_model_thresholds(settings: Settings) -> dict[str, float]:
    """The configured artifact's tuned flag thresholds from its manifest ({} when unreadable)."""
    directory = Path(settings.model_dir) if settings.model_dir else shipped_model_dir()
    if directory is None:
        return {}
    path = directory / MANIFEST_FILE
    try:
        return _manifest_thresholds(str(directory), path.stat().st_mtime_ns)
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        log.warning("model thresholds unreadable", path=str(path), error=str(exc))
        return {}


def scorer_thresholds(scorer: object) -> dict[str, float]:
    """The flag thresholds a loaded model was tuned to ({} for a scorer without any)."""
    thresholds = getattr(scorer, "thresholds", None)
    if not isinstance(thresholds, Mapping):
        return {}
    return {str(label): float(value) for label, value in thresholds.items()}


def effective_thresholds(
    stored: Mapping[str, Any] | None, model: Mapping[str, float]
) -> dict[str, dict[str, Any]]:
    """Per label {"flag", "reject", "source"}: a person's setting wins, else the model's flag."""
    stored = stored or {}
    result: dict[str, dict[str, Any]] = {}
    for label in LABELS:
        custom = stored.get(label)
        if isinstance(custom, Mapping) and custom.get("flag") is not None:
            result[label] = {
                "flag": float(custom["flag"]),
                "reject": float(custom["reject"]) if custom.get("reject") is not None else None,
                "source": ThresholdsSource.CUSTOM.value,
            }
        else:
            result[label] = {
                "flag": float(model.get(label, DEFAULT_FLAG_THRESHOLD)),
                "reject": None,
                "source": ThresholdsSource.MODEL.value,
            }
    return result


def summary(effective: Mapping[str, Mapping[str, Any]]) -> str:
    """One word for a source: model (every label follows it), custom (a person set them all)
    or mixed."""
    kinds = {str(value["source"]) for value in effective.values()}
    return kinds.pop() if len(kinds) == 1 else MIXED


def source_policy(source: Source, model: Mapping[str, float]) -> Policy:
    """The policy a source decides with, given the thresholds of the model deciding."""
    thresholds = {
        label: {"flag": value["flag"], "reject": value["reject"]}
        for label, value in effective_thresholds(source.thresholds, model).items()
    }
    return Policy.from_source_fields(
        thresholds, source.blocklist, source.max_links, version=source.policy_version
    )
