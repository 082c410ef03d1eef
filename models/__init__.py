"""The classifier package; ``models.load()`` is the API the worker, the CLI and benchmarks use.

It imports nothing of ours outside models/: the caller says which artifact to load (the worker
and the CLI from MODEL_DIR), so the package runs with scikit-learn and numpy alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from models.classifier import Classifier


def load(path: str | Path | None = None, sha256: str | None = None) -> Classifier:
    """The classifier in ``path`` (default: the shipped one), checked against ``sha256``
    (the caller passes MODEL_SHA256; the shipped model's is built into models.artifact)."""
    from models.artifact import SHIPPED_DIR, load_verified

    return load_verified(Path(path) if path is not None else SHIPPED_DIR, sha256 or None)


__all__ = ["load"]
