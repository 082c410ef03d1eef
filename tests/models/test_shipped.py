"""The artifact shipped in models/artifacts/: verified, small, and fair to neutral identity talk."""

from __future__ import annotations

import numpy as np
import pytest

import models
from models.artifact import SHIPPED_DIR, verify
from models.classifier import Classifier

MAX_ARTIFACT_BYTES = 25 * 1024 * 1024
NEUTRAL_IDENTITY_SENTENCES = (
    "I am a gay Muslim woman",
    "As a Black woman, I found this article thoughtful.",
    "My neighbours are Mexican immigrants and they run a bakery.",
)


@pytest.fixture(scope="module")
def shipped() -> Classifier:
    return models.load(SHIPPED_DIR)


class TestShippedModel:
    def test_shipped_artifact_verifies_and_is_small(self) -> None:
        manifest = verify(SHIPPED_DIR)
        assert (SHIPPED_DIR / manifest["model_file"]).stat().st_size <= MAX_ARTIFACT_BYTES
        assert all(entry["licence_class"] == "open" for entry in manifest["training_sets"])

    @pytest.mark.parametrize("text", NEUTRAL_IDENTITY_SENTENCES)
    def test_shipped_neutral_identity_sentence_below_flag_threshold(
        self, shipped: Classifier, text: str
    ) -> None:
        scores = shipped.scores(text)
        for label in ("toxic", "identity_hate", "threat"):
            assert scores[label] < shipped.thresholds[label], (label, scores)

    @pytest.mark.parametrize("text", NEUTRAL_IDENTITY_SENTENCES)
    def test_shipped_neutral_identity_sentence_not_highlighted(
        self, shipped: Classifier, text: str
    ) -> None:
        assert shipped.highlights(text) == []

    def test_shipped_unflagged_insult_keeps_its_insult_highlighted(
        self, shipped: Classifier
    ) -> None:
        text = "Interesting point, though the author is a bit of a clown."
        assert not shipped.flagged(shipped.predict_one(text))
        assert shipped.highlights(text) == [(51, 56)]

    def test_shipped_insult_is_flagged_and_highlighted(self, shipped: Classifier) -> None:
        text = "You are a pathetic idiot."
        assert shipped.scores(text)["toxic"] >= shipped.thresholds["toxic"]
        assert any(start <= 19 and 24 <= end for start, end in shipped.highlights(text))

    def test_shipped_spaced_out_insult_explained_on_original_characters(
        self, shipped: Classifier
    ) -> None:
        text = "go away you s t u p i d troll"
        spans = shipped.explain(text)["toxic"]
        assert any(start == 12 and end == 23 for start, end, _ in spans), spans

    def test_shipped_fast_path_equals_batch_path(self, shipped: Classifier) -> None:
        texts = [
            "You are a pathetic idiot.",
            "Thanks for the thoughtful article, I learnt a lot.",
            "Check out my channel http://example.com and subscribe!!!",
            "I will find you and hurt you",
        ]
        batch = shipped.predict_proba(texts)
        single = np.vstack([shipped.predict_proba([text]) for text in texts])
        np.testing.assert_allclose(single, batch, rtol=1e-10, atol=1e-12)


COUNTED_MODULES = ("models.classifier", "models.highlighter", "models.scorer")


def count_normalisations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every normalisation of the scoring and highlighting modules, recorded by text."""
    import importlib

    seen: list[str] = []
    for name in COUNTED_MODULES:
        module = importlib.import_module(name)
        for function in ("normalise_text", "normalised_text"):
            original = getattr(module, function, None)
            if original is not None:

                def counted(text: str, _original=original):  # type: ignore[no-untyped-def]
                    seen.append(text)
                    return _original(text)

                monkeypatch.setattr(module, function, counted)
    return seen


class TestShippedScorerAndHighlighter:
    def test_shipped_assess_normalises_a_comment_once(
        self, shipped: Classifier, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        text = "You are a pathetic idiot, f u c k off."
        expected = (shipped.predict_proba([text])[0], shipped.highlights(text))
        seen = count_normalisations(monkeypatch)
        probabilities, spans = shipped.assess(text)
        assert (seen, probabilities.tolist(), spans) == (
            [text],
            expected[0].tolist(),
            expected[1],
        )
