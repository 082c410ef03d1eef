"""A comment's text folded to the form the classifier and the source's rules both read.

Obfuscations undone (spacing, dots, leetspeak, zero-width and bidi characters, repeated
letters), every character mapped back to the span of the original it came from. A package of
its own because two layers need exactly the same reading: `models/` (features, highlights)
and `core/` (blocklist rules), which may not import each other. It imports nothing but the
standard library.
"""

from textfold.normalise import Normalised, normalise, normalised_text

__all__ = ["Normalised", "normalise", "normalised_text"]
