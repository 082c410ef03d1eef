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


def count_links(text: str) -> int:
    """Links in the text, plain and disguised; one that matches both ways counts once."""
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
