"""The static embedding, its stage, its contrast negatives and its file in the artifact."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import models
from models.artifact import EMBEDDING_VOCAB_FILE, MANIFEST_FILE, ModelIntegrityError, save
from models.classifier import Classifier
from models.contrast import contrast_negatives
from models.embedding import EMBEDDING_FILE, StaticEmbedding, basic_words
from tests.models.tiny_model import tiny_embedding, tiny_stacked_classifier

VOCABULARY = [
    "[PAD]",
    "[UNK]",
    "i",
    "will",
    "kill",
    "##ing",
    "you",
    "!",
    ",",
    "cafe",
    "un",
    "##able",
]


def small_embedding() -> StaticEmbedding:
    embedding = StaticEmbedding(VOCABULARY)
    vectors = np.zeros((len(VOCABULARY), 3))
    vectors[VOCABULARY.index("kill")] = (1, 0, 0)
    vectors[VOCABULARY.index("##ing")] = (0, 1, 0)
    vectors[VOCABULARY.index("you")] = (0, 0, 1)
    vectors[VOCABULARY.index("!")] = (1, 1, 0)
    embedding.attach(vectors)
    return embedding


class TestTokens:
    def test_basic_words_lowercase_strip_accents_and_split_punctuation(self) -> None:
        assert basic_words("Café,KILLING!\u200b") == ["cafe", ",", "killing", "!"]

    def test_wordpiece_takes_the_longest_match_and_drops_unknown_words(self) -> None:
        embedding = small_embedding()
        ids = embedding.token_ids("Killing you! zzz unable")
        tokens = [VOCABULARY[i] for i in ids]
        assert tokens == ["kill", "##ing", "you", "!", "un", "##able"]

    def test_a_piece_is_tokenised_once(self) -> None:
        embedding = small_embedding()
        first = embedding.piece_ids("killing")
        assert embedding.piece_ids("killing") is first


class TestVectors:
    def test_embed_one_is_the_unit_mean_of_the_token_vectors(self) -> None:
        vector = small_embedding().embed_one("kill you")
        np.testing.assert_allclose(vector, np.array([1, 0, 1]) / np.sqrt(2), rtol=1e-6)

    def test_batch_equals_one_by_one_and_no_known_token_gives_zeros(self) -> None:
        embedding = small_embedding()
        texts = ["kill you", "killing!", "zzz qqq", ""]
        batch = embedding.embed(texts)
        single = np.vstack([embedding.embed_one(text) for text in texts])
        np.testing.assert_allclose(batch, single, atol=1e-6)
        assert not batch[2].any() and not batch[3].any()

    def test_vectors_must_fit_the_vocabulary(self) -> None:
        with pytest.raises(ValueError, match="do not fit"):
            StaticEmbedding(VOCABULARY).attach(np.zeros((3, 2)))


class TestContrastNegatives:
    def test_only_negatives_using_the_labels_words_are_contrasts(self) -> None:
        texts = ["this policy will kill the economy", "I will kill you", "nice weather"]
        y = np.array([0, 1, 0])
        toxic = np.full(3, np.nan)
        assert contrast_negatives("threat", texts, y, toxic).tolist() == [True, False, False]

    def test_identity_contrasts_are_group_mentions_and_rude_negatives(self) -> None:
        texts = ["I don't hate Muslims", "you absolute idiot", "Muslims out", "nice weather"]
        y = np.array([0, 0, 1, 0])
        toxic = np.array([0.0, 1.0, 1.0, np.nan])
        mask = contrast_negatives("identity_hate", texts, y, toxic)
        assert mask.tolist() == [True, True, False, False]

    def test_spam_contrasts_carry_figures_links_or_names(self) -> None:
        texts = ["the report https://x.example says 40%", "good point", "WIN $1000 now"]
        y = np.array([0, 0, 1])
        mask = contrast_negatives("spam", texts, y, np.full(3, np.nan))
        assert mask.tolist() == [True, False, False]


@pytest.fixture(scope="module")
def stacked() -> Classifier:
    return tiny_stacked_classifier()


class TestStage:
    def test_stage_rescores_the_stacked_labels_only(self, stacked: Classifier) -> None:
        stage = stacked.embedding_stage
        assert stage is not None and stage.labels == ("toxic", "threat", "spam")
        texts = ["I will kill you, thanks", "great song about the weather"]
        probabilities = stacked.predict_proba(texts)
        plain = stacked._calibrate(stacked.decision_function(texts))
        hate = stacked.labels.index("identity_hate")
        np.testing.assert_allclose(probabilities[:, hate], plain[:, hate])
        assert not np.allclose(probabilities[:, stage.columns], plain[:, stage.columns])

    def test_stage_fast_path_equals_batch_path(self, stacked: Classifier) -> None:
        texts = ["I will kill you, thanks", "check out my channel and subscribe read"]
        single = np.vstack([stacked.predict_proba([text]) for text in texts])
        np.testing.assert_allclose(single, stacked.predict_proba(texts), rtol=1e-6)

    def test_stage_threat_ranks_the_threat_above_the_figurative_use(
        self, stacked: Classifier
    ) -> None:
        threat = stacked.labels.index("threat")
        scores = stacked.predict_proba(["I will kill you, point", "the point killed the mood"])
        assert scores[0, threat] > scores[1, threat]


class TestEmbeddingFile:
    def test_artifact_saves_verifies_and_reattaches_the_vectors(
        self, stacked: Classifier, tmp_path: Path
    ) -> None:
        manifest = save(stacked, tmp_path, {"seed": 13})
        assert manifest["embedding"]["sha256"] == stacked.embedding_stage.embedding.sha256
        assert (tmp_path / EMBEDDING_VOCAB_FILE).is_file()
        loaded = models.load(tmp_path, manifest["sha256"])
        texts = ["I will kill you, thanks", "great song about the weather"]
        np.testing.assert_allclose(loaded.predict_proba(texts), stacked.predict_proba(texts))

    def test_a_changed_embedding_file_is_refused(self, stacked: Classifier, tmp_path: Path) -> None:
        manifest = save(stacked, tmp_path, {"seed": 13})
        vectors = np.load(tmp_path / EMBEDDING_FILE)
        np.save(tmp_path / EMBEDDING_FILE, vectors * 2)
        with pytest.raises(ModelIntegrityError, match="embedding file"):
            models.load(tmp_path, manifest["sha256"])

    def test_a_manifest_naming_other_vectors_is_refused(
        self, stacked: Classifier, tmp_path: Path
    ) -> None:
        manifest = save(stacked, tmp_path, {"seed": 13})
        manifest["embedding"]["sha256"] = "0" * 64
        (tmp_path / MANIFEST_FILE).write_text(json.dumps(manifest))
        with pytest.raises(ModelIntegrityError, match="embedding file"):
            models.load(tmp_path, manifest["sha256"])

    def test_training_reads_the_vectors_it_saves(self, stacked: Classifier, tmp_path: Path) -> None:
        save(stacked, tmp_path, {"seed": 13})
        again = StaticEmbedding.from_directory(tmp_path, EMBEDDING_VOCAB_FILE)
        original = stacked.embedding_stage.embedding
        assert (again.vocabulary, again.sha256) == (original.vocabulary, original.sha256)
        assert tiny_embedding().sha256 == ""  # only a saved or read embedding has a digest
