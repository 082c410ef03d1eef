"""A source's rules read a comment as the model does: blocklist terms match the folded text
(textfold: spacing, dots, leetspeak, zero-width characters, repeated letters undone) at word
boundaries, and the link limit counts disguised links ("example dot com", "hxxp://").

"c a s i n o" and "ca$ino" hit a `casino` rule; "Scunthorpe" does not hit a rule for a word
inside it. A hit names the span of the original text it matched, so a moderator sees what the
reader wrote, not the folded form.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

from textfold import Normalised, normalise, normalised_text

# Plain links, as a reader's browser would follow them.
_LINK = re.compile(r"(?i)\b(?:https?://|www\.)\S+")
# Links written so that filters miss them: a defanged scheme, or a dot spelt out or bracketed
# before a common top-level domain.
_TLDS = "com|net|org|info|biz|io|co|xyz|ru|uk|de|me|ly|site|online|shop|top|club|app"
_DISGUISED_LINK = re.compile(
    r"(?i)\bh(?:tt|xx|\*\*)ps?\s*(?:://|\[:\]//)\S*"
    r"|\bwww\s*(?:\[\.\]|\(\.\)|\s+dot\s+|\s*\(dot\)\s*|\s*\[dot\]\s*)\S+"
    rf"|\b[a-z0-9][a-z0-9-]{{1,62}}\s*(?:\[\.\]|\(\.\)|\{{\.\}}|\s+dot\s+|\s*\(dot\)\s*|\s*\[dot\]\s*)(?:{_TLDS})\b"
)


# Every link either pattern finds has one of these in it (lower-cased): "//" (a scheme, plain or
# defanged), "www", or a spelt-out or bracketed dot. Most comments have none and skip the
# patterns, which cost ten times as much as these substring tests.
_LINK_MARKS = ("//", "www", "dot", "[.]", "(.)", "{.}")


_LINK_MARK = re.compile("|".join(re.escape(mark) for mark in _LINK_MARKS))
_BYTE_LINK_MARK = re.compile(_LINK_MARK.pattern.encode("ascii"))


def count_links(text: str) -> int:
    """Links in the text, plain and disguised; one that matches both ways counts once."""
    lowered = text.lower()
    if not any(mark in lowered for mark in _LINK_MARKS):
        return 0
    spans = sorted(
        (m.start(), m.end()) for pattern in (_LINK, _DISGUISED_LINK) for m in pattern.finditer(text)
    )
    count, end = 0, -1
    for start, stop in spans:
        if start >= end:
            count += 1
        end = max(end, stop)
    return count


# An ASCII text's letters as folding could make them: leet symbols read as letters, everything
# else but letters dropped. Folding never puts a letter where this has none, so a term whose
# letters are not in a text's skeleton cannot match it: most comments skip folding entirely.
_LEET_FROM, _LEET_TO = "01345789@$!+", "oieastbgasit"
_SKELETON = str.maketrans(
    _LEET_FROM,
    _LEET_TO,
    "".join(chr(c) for c in range(128) if not chr(c).isalpha() and chr(c) not in _LEET_FROM),
)


def _skeleton(text: str) -> str:
    return text.lower().translate(_SKELETON)


def _repeatable(letters: str) -> str:
    # Folding squeezes a letter repeated 3+ times to two; "casssino" must still be "casino".
    return "".join(re.escape(char) + ("+" if char.isalpha() else "") for char in letters)


@dataclass(frozen=True)
class TermRule:
    """One blocklist term, compiled once: its folded letters, each allowed to repeat."""

    term: str
    action: str
    pattern: re.Pattern[str]
    skeleton: re.Pattern[str]

    @classmethod
    def compile(cls, term: str, action: str) -> TermRule:
        folded = normalised_text(term) or term.casefold()
        pattern = re.compile(r"(?<!\w)" + _repeatable(folded) + r"(?!\w)")
        return cls(term, action, pattern, re.compile(_repeatable(_skeleton(folded))))

    def find(self, reading: Normalised, original: str) -> str | None:
        """The original text the term matched, or None."""
        match = self.pattern.search(reading.text)
        if match is None:
            return None
        start, end = reading.to_original(match.start(), match.end())
        return original[start:end]


@lru_cache(maxsize=4096)
def _compiled(term: str, action: str) -> TermRule:
    return TermRule.compile(term, action)


def compile_terms(blocklist: Sequence[tuple[str, str]]) -> list[TermRule]:
    """The source's blocklist as rules (compiled once per term and action, then cached)."""
    return [_compiled(term, action) for term, action in blocklist]


def may_match(rules: Sequence[TermRule], text: str) -> bool:
    """False when no rule can match the folded text (checked on the skeleton, at C speed)."""
    if not rules:
        return False
    if not text.isascii():
        return True
    skeleton = _skeleton(text)
    return any(rule.skeleton.search(skeleton) for rule in rules)


def read(text: str) -> Normalised:
    """The folded text with its map back to the original (to name what a term matched)."""
    return normalise(text)


def read_text(text: str) -> str:
    """Only the folded text: a third of read()'s cost, for counting over many comments."""
    return normalised_text(text)


# Joins many texts into one string for the batch checks below: a character no pattern there
# matches; a text holding it is checked one at a time instead.
_SEPARATOR = "\uffff"
# The same for ASCII texts as bytes, where the skeleton is a bytes.translate at C speed.
_BYTE_SEPARATOR = 0xFF
_BYTE_SKELETON = bytes(
    ord(_LEET_TO[_LEET_FROM.index(chr(b))]) if 0 < b < 128 and chr(b) in _LEET_FROM else b
    for b in range(256)
)
_BYTE_DROPPED = bytes(b for b in range(128) if not chr(b).isalpha() and chr(b) not in _LEET_FROM)


def _hits(
    joined: str | bytes, patterns: Sequence[re.Pattern[Any]], n: int
) -> npt.NDArray[np.bool_]:
    """Which of the n texts in `joined` (separated as above) a pattern finds."""
    hit = np.zeros(n, dtype=np.bool_)
    starts = [match.start() for pattern in patterns for match in pattern.finditer(joined)]
    if starts:
        if isinstance(joined, bytes):
            units = np.frombuffer(joined, dtype=np.uint8)
            separators = np.flatnonzero(units == _BYTE_SEPARATOR)
        else:
            units = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32)
            separators = np.flatnonzero(units == ord(_SEPARATOR))
        hit[np.searchsorted(separators, starts)] = True
    return hit


def may_hit(
    rules: Sequence[TermRule], max_links: int, texts: Sequence[str]
) -> npt.NDArray[np.bool_]:
    """Per text, False when may_match(rules, text) is False and the text holds no link (so
    no rule and no link limit of `max_links` or more can touch it). Both checks run over all
    the texts joined into one string, at C speed, so that only the few others are read one at
    a time (core.whatif)."""
    n = len(texts)
    if max_links < 0:
        return np.ones(n, dtype=np.bool_)
    candidates = np.zeros(n, dtype=np.bool_)
    ascii_text = np.fromiter((text.isascii() for text in texts), np.bool_, count=n)
    at, others = np.flatnonzero(ascii_text), np.flatnonzero(~ascii_text)
    if len(at):
        joined = (
            bytes([_BYTE_SEPARATOR]).join(texts[i].encode("ascii") for i in at.tolist()).lower()
        )
        hit = _hits(joined, [_BYTE_LINK_MARK], len(at))
        # An ASCII text can match only a term whose skeleton is ASCII.
        patterns = [
            re.compile(rule.skeleton.pattern.encode("ascii"))
            for rule in rules
            if rule.skeleton.pattern.isascii()
        ]
        if patterns:
            hit |= _hits(joined.translate(_BYTE_SKELETON, _BYTE_DROPPED), patterns, len(at))
        candidates[at[hit]] = True
    if len(others):
        # may_match reads every non-ASCII text (folding can make letters of it).
        joined_text = _SEPARATOR.join(texts[i] for i in others.tolist())
        if rules or joined_text.count(_SEPARATOR) != len(others) - 1:
            candidates[others] = True
        else:
            candidates[others[_hits(joined_text.lower(), [_LINK_MARK], len(others))]] = True
    return candidates
