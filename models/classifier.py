"""The shipped classifier: the scorer (models.scorer) with its highlighter (models.highlighter).

This is the object the artifact pickles and models.load() returns. Its pickled state is the
scorer's arrays plus the highlight rule, labels and span model, kept flat as they always were,
so artifacts saved before the split load unchanged and a rebuild writes the same bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from models.features import char_features, word_features
from models.highlighter import Highlighter, eligible_units, marked_units
from models.scorer import LinearScorer
from models.textnorm import normalise_text

if TYPE_CHECKING:
    from models.highlight import SpanModel
    from models.stage import EmbeddingStage
    from models.words import Unit


@dataclass(frozen=True)
class HighlightRule:
    """When a label's words are shown to a moderator (tuned on training data only).

    A label is highlighted when its probability reaches ``gate``; inside it, a word is marked when
    its contribution to the score is at least ``share`` of the largest word contribution and above
    ``floor`` in absolute terms.
    """

    gate: float = 0.5
    share: float = 0.3
    floor: float = 0.0


class Classifier(LinearScorer):
    """Scores (the scorer's methods) and the words a moderator sees marked (``highlighter``)."""

    def __init__(
        self,
        *,
        highlight: HighlightRule | None = None,
        highlight_labels: Sequence[str] = ("toxic", "identity_hate", "threat"),
        **scorer: Any,
    ) -> None:
        """``scorer``: LinearScorer's arguments (labels, vocabularies, weights, thresholds)."""
        super().__init__(**scorer)
        self.highlight = highlight or HighlightRule()
        self.highlight_labels = tuple(x for x in highlight_labels if x in self.labels)
        self.span_model: SpanModel | None = None
        # Stacked labels re-scored from the comment's sentence embedding (models.stage).
        self.embedding_stage: EmbeddingStage | None = None

    def _probabilities(self, margins: np.ndarray, normalised_texts: Sequence[str]) -> np.ndarray:
        probabilities = self._calibrate(margins)
        if self.embedding_stage is not None:
            self.embedding_stage.apply(probabilities, margins, normalised_texts)
        return probabilities

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        for cache in ("_pieces", "_blocks"):  # last, where the pickled state had them
            state[cache] = state.pop(cache)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self.__dict__.setdefault("span_model", None)
        self.__dict__.setdefault("embedding_stage", None)

    @property
    def highlighter(self) -> Highlighter:
        """The highlighter over this scorer, with the current rule, thresholds and span model
        (training sets them one by one, so it is made on each use: a few attribute reads)."""
        return Highlighter(
            self, self.highlight, self.highlight_labels, self.thresholds, self.span_model
        )

    def assess(self, text: str) -> tuple[np.ndarray, list[tuple[int, int]]]:
        """One text's probabilities and highlights, the text normalised once for both."""
        normalised = normalise_text(text)
        probabilities = self.predict_normalised(normalised.text)
        return probabilities, self.highlighter.highlights(text, probabilities, normalised)

    def highlights(
        self, text: str, probabilities: np.ndarray | None = None
    ) -> list[tuple[int, int]]:
        """Spans a moderator sees marked (Highlighter.highlights); ``probabilities``, if the
        caller has them already, saves scoring the text twice."""
        return self.highlighter.highlights(text, probabilities)

    def highlight_units(self, text: str) -> tuple[np.ndarray, list[Unit]]:
        """Probabilities and the text's words (``words``), the text normalised once."""
        normalised = normalise_text(text)
        return self.predict_normalised(normalised.text), self.words(text, normalised)

    def highlight_score(self, probabilities: np.ndarray) -> float:
        """Highlighter.score: the likeliest highlighted label's probability."""
        return self.highlighter.score(probabilities)

    def flagged(self, probabilities: np.ndarray) -> bool:
        """Highlighter.flagged: whether any highlighted label reaches its flag threshold."""
        return self.highlighter.flagged(probabilities)


__all__ = [
    "Classifier",
    "HighlightRule",
    "char_features",
    "eligible_units",
    "marked_units",
    "word_features",
]
