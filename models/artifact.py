"""The artifact directory: model.joblib plus manifest.json, and the only way to load it.

joblib files are pickles, and a pickle runs code when loaded, so the file's sha256 is checked
against the manifest BEFORE joblib ever sees it; a model pickled by another scikit-learn version
is refused instead of silently mis-predicting.
"""

from __future__ import annotations

import hashlib
import json
import platform
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import joblib
import numpy as np

from models.classifier import Classifier

MODEL_FILE = "model.joblib"
MANIFEST_FILE = "manifest.json"
CARD_FILE = "MODEL_CARD.md"
# Where the shipped model lives inside the package.
SHIPPED_DIR = Path(__file__).resolve().parent / "artifacts"


class ModelError(Exception):
    """The artifact directory cannot give a usable model."""


class ModelIntegrityError(ModelError):
    """The model file is not the file the manifest describes (changed, truncated or swapped)."""


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def library_versions() -> dict[str, str]:
    """Versions that decide whether a pickled model can be trusted to behave the same, and the
    BLAS kernels that decide whether a rebuild gives the same bytes."""
    import scipy
    import sklearn

    return {
        "python": platform.python_version(),
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "joblib": joblib.__version__,
        **_openblas(),
    }


def _openblas() -> dict[str, str]:
    """The OpenBLAS build and the kernels it runs (models.reproducible says why they matter)."""
    from threadpoolctl import threadpool_info

    for library in threadpool_info():
        if library.get("internal_api") == "openblas":
            return {
                "openblas": f"{library.get('version')} {library.get('architecture')}, "
                f"{library.get('num_threads')} threads"
            }
    return {}


def save(classifier: Classifier, directory: Path, manifest: Mapping[str, Any]) -> dict[str, Any]:
    """Writes model.joblib and manifest.json (with the model file's sha256); returns it."""
    directory.mkdir(parents=True, exist_ok=True)
    model_path = directory / MODEL_FILE
    joblib.dump(classifier, model_path, compress=3)
    full = {
        "model_file": MODEL_FILE,
        "sha256": file_sha256(model_path),
        "size_bytes": model_path.stat().st_size,
        "version": classifier.version,
        "labels": list(classifier.labels),
        "thresholds": dict(classifier.thresholds),
        "libraries": library_versions(),
        **{k: v for k, v in manifest.items() if k not in {"sha256", "model_file"}},
    }
    (directory / MANIFEST_FILE).write_text(json.dumps(full, indent=2, sort_keys=False) + "\n")
    return full


def read_manifest(directory: Path) -> dict[str, Any]:
    """The manifest of an artifact directory, with readable errors when it is missing or broken."""
    path = directory / MANIFEST_FILE
    if not path.is_file():
        raise ModelError(f"no model manifest at {path}")
    try:
        manifest: dict[str, Any] = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ModelError(f"model manifest {path} is not valid JSON: {exc}") from exc
    if not isinstance(manifest.get("sha256"), str):
        raise ModelError(f"model manifest {path} has no sha256")
    return manifest


def verify(directory: Path) -> dict[str, Any]:
    """Checks the model file against the manifest's sha256; returns the manifest."""
    manifest = read_manifest(directory)
    model_path = directory / str(manifest.get("model_file", MODEL_FILE))
    if not model_path.is_file():
        raise ModelError(f"model file {model_path} is missing")
    actual = file_sha256(model_path)
    if actual != manifest["sha256"]:
        raise ModelIntegrityError(
            f"model file {model_path} does not match its manifest "
            f"(sha256 {actual[:12]}..., expected {manifest['sha256'][:12]}...): refusing to load it"
        )
    return manifest


def load_verified(directory: Path) -> Classifier:
    """Verify, then unpickle with scikit-learn version drift turned into an error."""
    manifest = verify(directory)
    from sklearn.exceptions import InconsistentVersionWarning

    model_path = directory / str(manifest.get("model_file", MODEL_FILE))
    with warnings.catch_warnings():
        warnings.simplefilter("error", InconsistentVersionWarning)
        try:
            model = joblib.load(model_path)
        except InconsistentVersionWarning as exc:
            raise ModelError(
                f"model file {model_path} was built by another version: {exc}"
            ) from exc
    if not isinstance(model, Classifier):
        raise ModelError(f"model file {model_path} does not hold a Classifier")
    return model
