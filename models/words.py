"""A text's words as the highlighter sees them: the unit both span stages score, and its form.

Its own module so that models.highlight (the first stage) and models.span_stage (the second)
both build on it without importing each other.
"""

from __future__ import annotations

import re

__all__ = ["Unit", "word_form"]

_EDGE = re.compile(r"^\W+|\W+$")

# One word of a text: original span, normalised form, toxic contribution (calibrated log-odds).
Unit = tuple[tuple[int, int], str, float]


def word_form(piece: str) -> str:
    """A normalised piece without the punctuation around it, lowercased."""
    return _EDGE.sub("", piece.lower())
