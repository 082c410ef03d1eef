"""The identity terms: who a comment may name without attacking (training, scoring, highlights
and the bias audit all read this one list).

Naming a group is not an attack on it, so an identity word alone must not raise a score
(training clips its weights), nor be highlighted on a comment no label flags; the bias audit
(models.audit) crosses these terms with its template sentences.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

__all__ = ["IDENTITY_TERMS", "IdentityTerm", "identity_words"]


@dataclass(frozen=True)
class IdentityTerm:
    """An identity as it reads in a sentence: one person ("a gay person") and a group."""

    term: str
    one: str
    many: str
    group: str


def _adjective(term: str, group: str) -> IdentityTerm:
    article = "an" if term[0] in "aeiou" else "a"
    return IdentityTerm(term, f"{article} {term} person", f"{term} people", group)


IDENTITY_TERMS: tuple[IdentityTerm, ...] = (
    _adjective("gay", "sexual orientation"),
    _adjective("lesbian", "sexual orientation"),
    _adjective("bisexual", "sexual orientation"),
    _adjective("queer", "sexual orientation"),
    _adjective("straight", "sexual orientation"),
    _adjective("transgender", "gender"),
    IdentityTerm("woman", "a woman", "women", "gender"),
    IdentityTerm("man", "a man", "men", "gender"),
    _adjective("muslim", "religion"),
    _adjective("jewish", "religion"),
    _adjective("christian", "religion"),
    _adjective("catholic", "religion"),
    _adjective("hindu", "religion"),
    _adjective("buddhist", "religion"),
    IdentityTerm("atheist", "an atheist", "atheists", "religion"),
    _adjective("black", "race or ethnicity"),
    _adjective("white", "race or ethnicity"),
    _adjective("asian", "race or ethnicity"),
    _adjective("latino", "race or ethnicity"),
    _adjective("african", "race or ethnicity"),
    _adjective("arab", "race or ethnicity"),
    _adjective("mexican", "national origin"),
    IdentityTerm("immigrant", "an immigrant", "immigrants", "national origin"),
    IdentityTerm("refugee", "a refugee", "refugees", "national origin"),
    _adjective("disabled", "disability"),
    _adjective("deaf", "disability"),
    _adjective("blind", "disability"),
    _adjective("autistic", "disability"),
    _adjective("elderly", "age"),
)


@lru_cache(maxsize=1)
def identity_words() -> frozenset[str]:
    """The identity terms' words and plurals, lowercased: words that alone must not raise a
    score (training clips their weights) nor be highlighted on an unflagged comment."""
    words: set[str] = set()
    for identity in IDENTITY_TERMS:
        for word in identity.term.lower().split():
            words.update({word, f"{word}s"})
        words.update(identity.many.lower().split()[-1:])
    return frozenset(words - {"people", "person"})
