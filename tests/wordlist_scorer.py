"""A real null classifier for tests: word lists instead of a trained model, same signatures."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from core.domain import LABELS

_WORD = re.compile(r"\w+")

DEFAULT_WORDS: Mapping[str, frozenset[str]] = {
    "toxic": frozenset({"idiot", "pathetic", "stupid", "moron", "die"}),
    "identity_hate": frozenset({"vermin"}),
    "threat": frozenset({"kill", "die"}),
    "spam": frozenset({"casino", "viagra", "crypto"}),
}


class WordListScorer:
    """Each listed word found raises its label's probability; offsets index the original text."""

    labels: tuple[str, ...] = LABELS

    def __init__(
        self, words: Mapping[str, frozenset[str]] = DEFAULT_WORDS, version: str = "wordlist-1"
    ) -> None:
        self.words = words
        self.version = version
        self.calls = 0

    def _hits(self, text: str, label: str) -> list[re.Match[str]]:
        return [m for m in _WORD.finditer(text) if m.group().lower() in self.words.get(label, ())]

    def predict_proba(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls += 1
        return [
            [min(0.98, 0.05 + 0.45 * len(self._hits(text, label))) for label in self.labels]
            for text in texts
        ]

    def highlights(self, text: str, probabilities: Any = None) -> list[tuple[int, int]]:
        spans = {(m.start(), m.end()) for label in self.labels for m in self._hits(text, label)}
        return sorted(spans)

    def assess(self, text: str) -> tuple[list[float], list[tuple[int, int]]]:
        probabilities = self.predict_proba([text])[0]
        return probabilities, self.highlights(text, probabilities)
