"""The classifier package; ``models.load()`` is the API the worker, the CLI and benchmarks use."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from models.classifier import Classifier


def default_model_dir() -> Path:
    """MODEL_DIR when set, else the artifact shipped in models/artifacts/."""
    from core.settings import get_settings

    configured = get_settings().model_dir
    if configured:
        return Path(configured)
    from models.artifact import SHIPPED_DIR

    return SHIPPED_DIR


def load(path: str | Path | None = None, sha256: str | None = None) -> Classifier:
    """The classifier in ``path`` (default: MODEL_DIR or the shipped one), checked against
    ``sha256`` (default: MODEL_SHA256; the shipped model's is built into models.artifact)."""
    from core.settings import get_settings
    from models.artifact import load_verified

    directory = Path(path) if path is not None else default_model_dir()
    return load_verified(directory, sha256 or get_settings().model_sha256 or None)


__all__ = ["load", "default_model_dir"]
