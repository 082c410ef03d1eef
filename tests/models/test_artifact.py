"""The artifact directory: saved, verified by sha256 before unpickling, tampering refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import joblib
import numpy as np
import pytest

import models
from models.artifact import (
    MANIFEST_FILE,
    MODEL_FILE,
    SHIPPED_DIR,
    SHIPPED_MODEL_SHA256,
    ModelError,
    ModelIntegrityError,
    file_sha256,
    read_manifest,
    save,
)
from models.classifier import Classifier
from tests.models.tiny_model import tiny_classifier


class Exploded(Exception):
    """Raised by a pickle's payload: proof that joblib ran it."""


class Payload:
    """A pickle that runs code when loaded, as a swapped model file would."""

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (_explode, ("the swapped pickle ran",))


def _explode(message: str) -> None:
    raise Exploded(message)


def digest(directory: Path) -> str:
    return file_sha256(directory / MODEL_FILE)


def rewrite_manifest(directory: Path, **changes: object) -> None:
    path = directory / MANIFEST_FILE
    manifest = json.loads(path.read_text())
    manifest.update(changes)
    path.write_text(json.dumps(manifest))


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return tiny_classifier()


@pytest.fixture
def artifact_dir(tmp_path: Path, classifier: Classifier) -> Path:
    save(classifier, tmp_path, {"seed": 13})
    return tmp_path


class TestArtifact:
    def test_artifact_roundtrip_gives_same_scores(
        self, artifact_dir: Path, classifier: Classifier
    ) -> None:
        loaded = models.load(artifact_dir, digest(artifact_dir))
        texts = ["you are a stupid idiot", "what a nice article"]
        np.testing.assert_allclose(loaded.predict_proba(texts), classifier.predict_proba(texts))

    def test_artifact_manifest_records_sha256_versions_and_labels(self, artifact_dir: Path) -> None:
        manifest = json.loads((artifact_dir / MANIFEST_FILE).read_text())
        import hashlib

        digest = hashlib.sha256((artifact_dir / MODEL_FILE).read_bytes()).hexdigest()
        assert manifest["sha256"] == digest
        assert set(manifest["libraries"]) >= {"python", "scikit-learn", "numpy"}
        assert manifest["labels"] == ["toxic", "identity_hate", "threat", "spam"]

    def test_artifact_tampered_model_refused_naming_the_file(self, artifact_dir: Path) -> None:
        expected = digest(artifact_dir)
        model_path = artifact_dir / MODEL_FILE
        data = bytearray(model_path.read_bytes())
        data[-10] ^= 0xFF
        model_path.write_bytes(bytes(data))
        with pytest.raises(ModelIntegrityError, match="model.joblib.*is not the expected model"):
            models.load(artifact_dir, expected)

    def test_artifact_swapped_manifest_hash_refused(self, artifact_dir: Path) -> None:
        rewrite_manifest(artifact_dir, sha256="0" * 64)
        with pytest.raises(ModelIntegrityError, match="does not match its manifest"):
            models.load(artifact_dir, digest(artifact_dir))

    def test_artifact_missing_manifest_is_a_readable_error(self, tmp_path: Path) -> None:
        with pytest.raises(ModelError, match="no model manifest"):
            models.load(tmp_path, "0" * 64)


class TestTrustAnchor:
    def test_shipped_constant_is_the_shipped_model_files_sha256(self) -> None:
        # Shipping a retrained model means updating SHIPPED_MODEL_SHA256 in models/artifact.py.
        assert file_sha256(SHIPPED_DIR / MODEL_FILE) == SHIPPED_MODEL_SHA256

    def test_shipped_model_loads_without_any_setting(self) -> None:
        assert models.load(SHIPPED_DIR).labels == ("toxic", "identity_hate", "threat", "spam")

    def test_swapped_pickle_with_updated_manifest_is_refused_before_unpickling(
        self, artifact_dir: Path
    ) -> None:
        expected = digest(artifact_dir)
        joblib.dump(Payload(), artifact_dir / MODEL_FILE)
        rewrite_manifest(artifact_dir, sha256=digest(artifact_dir))
        with pytest.raises(Exploded):  # the payload is live: loading it unchecked runs it
            joblib.load(artifact_dir / MODEL_FILE)
        with pytest.raises(ModelIntegrityError, match="is not the expected model"):
            models.load(artifact_dir, expected)

    def test_a_copy_of_the_shipped_folder_with_a_swapped_pickle_is_refused(
        self, tmp_path: Path
    ) -> None:
        folder = tmp_path / "artifacts"
        shutil.copytree(SHIPPED_DIR, folder)
        joblib.dump(Payload(), folder / MODEL_FILE)
        rewrite_manifest(folder, sha256=digest(folder))
        with pytest.raises(ModelIntegrityError, match="is not the expected model"):
            models.load(folder, SHIPPED_MODEL_SHA256)

    def test_other_folder_without_expected_sha256_is_refused(self, artifact_dir: Path) -> None:
        with pytest.raises(ModelError, match="set MODEL_SHA256"):
            models.load(artifact_dir)

    def test_model_sha256_setting_mismatch_is_refused(self, artifact_dir: Path) -> None:
        from core.settings import Settings
        from worker.scorer import load_scorer

        settings = Settings(model_dir=str(artifact_dir), model_sha256="ab" * 32)
        with pytest.raises(ModelIntegrityError, match="is not the expected model"):
            load_scorer(settings)

    def test_model_sha256_for_the_shipped_folder_must_be_the_constant(self) -> None:
        with pytest.raises(ModelIntegrityError, match="not the shipped model"):
            models.load(SHIPPED_DIR, "ab" * 32)

    def test_malformed_model_sha256_is_a_readable_error(self, artifact_dir: Path) -> None:
        with pytest.raises(ModelError, match="64 hexadecimal digits"):
            models.load(artifact_dir, "not-a-hash")

    @pytest.mark.parametrize("name", ["../model.joblib", "/etc/passwd", "sub/../../x.joblib"])
    def test_model_file_outside_the_folder_is_refused(self, artifact_dir: Path, name: str) -> None:
        outside = artifact_dir.parent / "model.joblib"
        shutil.copy(artifact_dir / MODEL_FILE, outside)
        rewrite_manifest(artifact_dir, model_file=name)
        with pytest.raises(ModelIntegrityError, match="outside its folder"):
            models.load(artifact_dir, digest(artifact_dir))

    def test_model_file_symlinked_out_of_the_folder_is_refused(
        self, tmp_path: Path, classifier: Classifier
    ) -> None:
        folder, elsewhere = tmp_path / "artifact", tmp_path / "elsewhere"
        save(classifier, folder, {})
        elsewhere.mkdir()
        (folder / MODEL_FILE).rename(elsewhere / MODEL_FILE)
        (folder / MODEL_FILE).symlink_to(elsewhere / MODEL_FILE)
        with pytest.raises(ModelIntegrityError, match="resolves outside its folder"):
            models.load(folder, file_sha256(elsewhere / MODEL_FILE))

    def test_load_without_path_gives_the_shipped_model(self) -> None:
        assert models.load().version == read_manifest(SHIPPED_DIR)["version"]
