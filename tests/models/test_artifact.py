"""The artifact directory: saved, verified by sha256 before unpickling, tampering refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import models
from models.artifact import (
    MANIFEST_FILE,
    MODEL_FILE,
    SHIPPED_DIR,
    ModelError,
    ModelIntegrityError,
    read_manifest,
    save,
)
from models.classifier import Classifier
from tests.models.tiny_model import tiny_classifier


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
        loaded = models.load(artifact_dir)
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
        model_path = artifact_dir / MODEL_FILE
        data = bytearray(model_path.read_bytes())
        data[-10] ^= 0xFF
        model_path.write_bytes(bytes(data))
        with pytest.raises(ModelIntegrityError, match="model.joblib.*does not match its manifest"):
            models.load(artifact_dir)

    def test_artifact_swapped_manifest_hash_refused(self, artifact_dir: Path) -> None:
        manifest_path = artifact_dir / MANIFEST_FILE
        manifest = json.loads(manifest_path.read_text())
        manifest["sha256"] = "0" * 64
        manifest_path.write_text(json.dumps(manifest))
        with pytest.raises(ModelIntegrityError):
            models.load(artifact_dir)

    def test_artifact_missing_manifest_is_a_readable_error(self, tmp_path: Path) -> None:
        with pytest.raises(ModelError, match="no model manifest"):
            models.load(tmp_path)

    def test_load_without_path_gives_the_shipped_model(self) -> None:
        assert models.load().version == read_manifest(SHIPPED_DIR)["version"]
