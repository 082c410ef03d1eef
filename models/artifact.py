"""The artifact directory: model.joblib plus manifest.json, and the only way to load it.

joblib files are pickles, and a pickle runs code when loaded, so the file's sha256 is checked
BEFORE joblib ever sees it, against a hash the artifact folder cannot change: for the shipped
model the constant SHIPPED_MODEL_SHA256 below, for any other folder the one the caller gives
(the MODEL_SHA256 setting). The manifest must agree too, but never vouches on its own: whoever
can swap the pickle can rewrite the manifest beside it. A model pickled by another scikit-learn
version is refused instead of silently mis-predicting.
"""

from __future__ import annotations

import hashlib
import io
import json
import platform
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import joblib
import numpy as np

from models.classifier import Classifier
from models.embedding import EMBEDDING_FILE

EMBEDDING_VOCAB_FILE = "embedding_vocab.txt"

MODEL_FILE = "model.joblib"
MANIFEST_FILE = "manifest.json"
CARD_FILE = "MODEL_CARD.md"
# Where the shipped model lives inside the package.
SHIPPED_DIR = Path(__file__).resolve().parent / "artifacts"
# sha256 of SHIPPED_DIR/model.joblib, the trust anchor for the shipped model. Shipping a
# retrained artifact means updating this one line (tests/models/test_artifact.py checks it).
SHIPPED_MODEL_SHA256 = "34697805fe9f2bdb06564350f05235188f5a1aa685fb5d4d6596d45817502b85"


class ModelError(Exception):
    """The artifact directory cannot give a usable model."""


class ModelIntegrityError(ModelError):
    """The model file is not the file the manifest describes (changed, truncated or swapped)."""


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


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
    # The vectors first: the pickle carries their sha256, so the verified pickle vouches for them.
    embedding = _save_embedding(classifier, directory)
    joblib.dump(classifier, model_path, compress=3)
    full = {
        "model_file": MODEL_FILE,
        "sha256": file_sha256(model_path),
        "size_bytes": model_path.stat().st_size,
        "version": classifier.version,
        "labels": list(classifier.labels),
        "thresholds": dict(classifier.thresholds),
        "libraries": library_versions(),
        **({"embedding": embedding} if embedding else {}),
        **{k: v for k, v in manifest.items() if k not in {"sha256", "model_file", "embedding"}},
    }
    (directory / MANIFEST_FILE).write_text(json.dumps(full, indent=2, sort_keys=False) + "\n")
    return full


def _save_embedding(classifier: Classifier, directory: Path) -> dict[str, Any] | None:
    """Writes the embedding stage's vectors (and its vocabulary, for retraining) beside the
    model file; returns the manifest's description of them."""
    stage = classifier.embedding_stage
    if stage is None:
        return None
    embedding = stage.embedding
    sha256 = embedding.save_vectors(directory)
    (directory / EMBEDDING_VOCAB_FILE).write_text(
        "\n".join(embedding.vocabulary) + "\n", encoding="utf-8"
    )
    return {
        "file": EMBEDDING_FILE,
        "sha256": sha256,
        "size_bytes": (directory / EMBEDDING_FILE).stat().st_size,
        "vocabulary_file": EMBEDDING_VOCAB_FILE,
        "dimensions": embedding.dim,
        "tokens": len(embedding.vocabulary),
        "source": embedding.source,
        "labels": list(stage.labels),
    }


def _attach_embedding(classifier: Classifier, directory: Path, manifest: Mapping[str, Any]) -> None:
    """Reads the embedding vectors of a verified classifier, checked against the sha256 the
    pickle carries (and the manifest's) before numpy reads them, without pickles."""
    stage = classifier.embedding_stage
    if stage is None:
        return
    path = directory / EMBEDDING_FILE
    if not path.is_file() or path.is_symlink():
        raise ModelError(f"embedding file {path} is missing")
    data = path.read_bytes()
    actual = hashlib.sha256(data).hexdigest()
    listed = (manifest.get("embedding") or {}).get("sha256")
    if actual != stage.embedding.sha256 or actual != listed:
        raise ModelIntegrityError(
            f"embedding file {path} is not the model's embedding (sha256 {actual[:12]}..., "
            f"expected {stage.embedding.sha256[:12]}...): refusing to load it"
        )
    stage.embedding.attach(np.load(io.BytesIO(data), allow_pickle=False))


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


def is_shipped(directory: Path) -> bool:
    return directory.resolve() == SHIPPED_DIR


def expected_sha256(directory: Path, sha256: str | None) -> str:
    """The hash the model file must have, from outside the folder (see the module docstring)."""
    if is_shipped(directory):
        if sha256 and sha256.lower() != SHIPPED_MODEL_SHA256:
            raise ModelIntegrityError(
                f"MODEL_SHA256 {sha256[:12]}... is not the shipped model's sha256 "
                f"{SHIPPED_MODEL_SHA256[:12]}...: refusing to load it"
            )
        return SHIPPED_MODEL_SHA256
    if not sha256:
        raise ModelError(
            f"no expected sha256 for the model in {directory}: set MODEL_SHA256 to the sha256 "
            "of its model file (the manifest in the same folder cannot vouch for it)"
        )
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256.lower()):
        raise ModelError("MODEL_SHA256 must be 64 hexadecimal digits")
    return sha256.lower()


def model_path(directory: Path, manifest: Mapping[str, Any]) -> Path:
    """The manifest's model_file, which must name a file inside the artifact folder."""
    name = manifest.get("model_file", MODEL_FILE)
    if not isinstance(name, str) or not name:
        raise ModelError(f"model manifest in {directory} has no usable model_file")
    relative = Path(name)
    if relative.is_absolute() or ".." in relative.parts or "\\" in name:
        raise ModelIntegrityError(
            f"model_file {name!r} in {directory} points outside its folder: refusing to load it"
        )
    path = directory / relative
    if not path.is_file():
        raise ModelError(f"model file {path} is missing")
    # A symlink (or a symlinked folder on the way) must not lead out of the folder either.
    if not path.resolve().is_relative_to(directory.resolve()):
        raise ModelIntegrityError(
            f"model_file {name!r} in {directory} resolves outside its folder: refusing to load it"
        )
    return path


def _check(path: Path, actual: str, expected: str, manifest: Mapping[str, Any]) -> None:
    if actual != expected:
        raise ModelIntegrityError(
            f"model file {path} is not the expected model "
            f"(sha256 {actual[:12]}..., expected {expected[:12]}...): refusing to load it"
        )
    if manifest["sha256"] != actual:
        raise ModelIntegrityError(
            f"model file {path} does not match its manifest "
            f"(sha256 {actual[:12]}..., manifest says {manifest['sha256'][:12]}...)"
        )


def verify(directory: Path, sha256: str | None = None) -> dict[str, Any]:
    """Checks the model file against the expected sha256 and the manifest; returns the manifest."""
    expected = expected_sha256(directory, sha256)
    manifest = read_manifest(directory)
    path = model_path(directory, manifest)
    _check(path, file_sha256(path), expected, manifest)
    listed = manifest.get("embedding")
    if listed:
        vectors = directory / EMBEDDING_FILE
        if not vectors.is_file() or file_sha256(vectors) != listed.get("sha256"):
            raise ModelIntegrityError(f"embedding file {vectors} does not match its manifest")
    return manifest


def load_verified(directory: Path, sha256: str | None = None) -> Classifier:
    """Verify, then unpickle with scikit-learn version drift turned into an error.

    The bytes are read once, hashed, and unpickled from memory: a file swapped between the
    check and the load cannot slip through."""
    expected = expected_sha256(directory, sha256)
    manifest = read_manifest(directory)
    path = model_path(directory, manifest)
    data = path.read_bytes()
    _check(path, hashlib.sha256(data).hexdigest(), expected, manifest)
    from sklearn.exceptions import InconsistentVersionWarning

    with warnings.catch_warnings():
        warnings.simplefilter("error", InconsistentVersionWarning)
        try:
            model = joblib.load(io.BytesIO(data))
        except InconsistentVersionWarning as exc:
            raise ModelError(f"model file {path} was built by another version: {exc}") from exc
    if not isinstance(model, Classifier):
        raise ModelError(f"model file {path} does not hold a Classifier")
    _attach_embedding(model, directory, manifest)
    return model
