"""The classifier's view of textfold: one call that returns text plus an offset map.

Kept as the single entry point training, scoring and explanations share, so the three always
normalise the same way (a fallback to the raw text would silently change the features).
"""

from __future__ import annotations

from typing import Protocol

from textfold import normalise, normalised_text

__all__ = ["NormalisedText", "normalise_text", "normalised_text"]


class NormalisedText(Protocol):
    """Normalised text with a map from its offsets back to the original's."""

    @property
    def text(self) -> str: ...

    def to_original(self, start: int, end: int) -> tuple[int, int]: ...


def normalise_text(text: str) -> NormalisedText:
    """Normalised form of ``text`` (NFKC, obfuscation folded) with its offset map."""
    return normalise(text)
