"""The classifier's API: probabilities, the one-text fast path, explanations and highlights."""

from __future__ import annotations

import numpy as np
import pytest

from models.classifier import Classifier
from tests.models.tiny_model import tiny_classifier

TEXTS = [
    "you are a stupid idiot",
    "what a nice article about the weather",
    "I will kill you",
    "check out my channel and subscribe",
    "",
    "   ",
    "f u c k you, loser!!!",
    "Ünïcödé and emoji 🙂 mixed with a moron",
]


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return tiny_classifier()


class TestClassifier:
    def test_predict_proba_shape_and_range(self, classifier: Classifier) -> None:
        probabilities = classifier.predict_proba(TEXTS)
        assert probabilities.shape == (len(TEXTS), len(classifier.labels))
        assert np.all((probabilities >= 0) & (probabilities <= 1))

    def test_fast_path_equals_batch_path(self, classifier: Classifier) -> None:
        batch = classifier.predict_proba(TEXTS)
        one_by_one = np.vstack([classifier.predict_proba([text]) for text in TEXTS])
        np.testing.assert_allclose(one_by_one, batch, rtol=1e-12, atol=1e-12)

    def test_scoring_keeps_no_ngram_cache(self, classifier: Classifier) -> None:
        # The piece index keeps each piece's ids; an n-gram cache beside it grew a worker by
        # ~500 MB over 100k comments.
        from models.features import piece_char_ngrams

        piece_char_ngrams.cache_clear()
        classifier.predict_proba(["some brand new words here", "and more unseen ones"])
        classifier.predict_proba(["a third unseen text"])
        assert piece_char_ngrams.cache_info().currsize == 0

    def test_insult_scores_above_neutral(self, classifier: Classifier) -> None:
        toxic = classifier.labels.index("toxic")
        insult, neutral = classifier.predict_proba(TEXTS[:2])[:, toxic]
        assert insult > neutral

    def test_explain_names_the_insult_with_original_offsets(self, classifier: Classifier) -> None:
        text = "Honestly, you are an IDIOT."
        spans = classifier.explain(text)["toxic"]
        strongest = max(spans, key=lambda span: span[2])
        assert text[strongest[0] : strongest[1]] == "IDIOT"
        assert strongest[2] > 0

    def test_explain_spaced_out_spelling_covers_every_character(
        self, classifier: Classifier
    ) -> None:
        text = "well f u c k you"
        spans = classifier.explain(text)["toxic"]
        strongest = max(spans, key=lambda span: span[2])
        assert (strongest[0], strongest[1]) == (5, 12)
        assert text[5:12] == "f u c k"

    def test_highlights_mark_the_insult(self, classifier: Classifier) -> None:
        text = "Honestly, you are an IDIOT."
        assert (21, 26) in classifier.highlights(text)

    def test_highlights_empty_for_neutral_text(self, classifier: Classifier) -> None:
        assert classifier.highlights("what a nice article about the weather") == []

    def test_explain_has_every_label(self, classifier: Classifier) -> None:
        assert set(classifier.explain("anything")) == set(classifier.labels)
