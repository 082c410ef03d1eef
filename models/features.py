"""One definition of the text features, shared by training, batch scoring, one-text scoring and
explanations, so the four can never drift apart.

Two blocks, each TF-IDF (sublinear tf) and L2-normalised on its own:
- words: lowercased tokens of 2+ word characters (scikit-learn's default token pattern); no word
  2-grams, so that every feature belongs to one whitespace piece and a piece's feature ids can be
  cached (the one-text and batch speed targets depend on it);
- characters: 2- to 5-grams inside each whitespace-separated word padded with one space
  (scikit-learn's ``char_wb``), which survives misspellings and obfuscation the normaliser missed.
Texts are expected to be normalised already (textfold).
"""

from __future__ import annotations

import re
from functools import lru_cache

WORD_PATTERN = re.compile(r"(?u)\b\w\w+\b")
PIECE_PATTERN = re.compile(r"\S+")
CHAR_NGRAM_RANGE: tuple[int, int] = (2, 5)
# Characters of one text beyond this are not featurised: a long essay says what it says early,
# and this bounds the cost of one call.
MAX_CHARS = 5000


def word_tokens(text: str) -> list[tuple[str, int, int]]:
    """Lowercased word tokens with their (start, end) in ``text``."""
    found = WORD_PATTERN.finditer(text[:MAX_CHARS])
    return [(m.group().lower(), m.start(), m.end()) for m in found]


def word_features(text: str) -> list[str]:
    """Word tokens of one text, in order (a callable analyzer for scikit-learn)."""
    return WORD_PATTERN.findall(text[:MAX_CHARS].lower())


def piece_words(piece: str) -> list[str]:
    """Word tokens inside one whitespace piece (tokens never cross whitespace)."""
    return WORD_PATTERN.findall(piece.lower())


def char_ngrams(piece: str) -> tuple[str, ...]:
    """char_wb n-grams of one whitespace-free piece (not cached: the classifier keeps each
    piece's feature ids itself, and a cache of n-gram tuples costs ~2 KB a piece)."""
    padded = f" {piece.lower()} "
    size = len(padded)
    low, high = CHAR_NGRAM_RANGE
    grams: list[str] = []
    for n in range(low, high + 1):
        if size <= n:
            # Same as scikit-learn: a short piece counts once, as a whole.
            grams.append(padded)
            break
        grams.extend(padded[i : i + n] for i in range(size - n + 1))
    return tuple(grams)


# Training featurises every text at once, where pieces repeat across texts: cached there.
piece_char_ngrams = lru_cache(maxsize=200_000)(char_ngrams)


def char_features(text: str) -> list[str]:
    """Character n-grams of one text (a callable analyzer for scikit-learn)."""
    grams: list[str] = []
    for piece in text[:MAX_CHARS].split():
        grams.extend(piece_char_ngrams(piece))
    return grams


def pieces(text: str) -> list[tuple[str, int, int]]:
    """Whitespace-separated pieces with their (start, end): the unit char n-grams belong to."""
    return [(m.group(), m.start(), m.end()) for m in PIECE_PATTERN.finditer(text[:MAX_CHARS])]
