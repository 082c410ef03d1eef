"""The classifier's view of models.normalise: one call that always returns text plus an offset map.

models.normalise is written beside this package; until it is importable the identity map stands in,
so the classifier works (less robustly to obfuscation) rather than failing to load.
"""

from __future__ import annotations

from typing import Protocol


class NormalisedText(Protocol):
    """Normalised text with a map from its offsets back to the original's."""

    text: str

    def to_original(self, start: int, end: int) -> tuple[int, int]: ...


class IdentityNormalised:
    """Stand-in used only when models.normalise is unavailable: the text as it is."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        return start, end


def _identity(text: str) -> NormalisedText:
    return IdentityNormalised(text)


try:
    from models.normalise import normalise as _normalise
except ImportError:  # pragma: no cover - only before models.normalise exists
    _normalise = _identity  # type: ignore[assignment]

AVAILABLE = _normalise is not _identity


def normalise_text(text: str) -> NormalisedText:
    """Normalised form of ``text`` (NFKC, obfuscation folded) with its offset map."""
    return _normalise(text)  # type: ignore[no-any-return]
