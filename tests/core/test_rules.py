"""Rules see what the model sees: blocklist terms through the model's text folding at word
boundaries, naming the span the reader wrote, and a link limit that counts disguised links."""

from __future__ import annotations

import pytest

from core.domain import Status
from core.policy import Policy, decide, rules_status
from core.reasons import BlocklistReason
from core.rules import compile_terms, count_links, may_hit, may_match

CASINO = Policy(blocklist=(("casino", "reject"),), max_links=1)


def blocklist_hits(text: str, policy: Policy = CASINO) -> list[BlocklistReason]:
    outcome = decide({}, text, policy)
    return [r for r in outcome.reasons if isinstance(r, BlocklistReason)]


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ("Best casino in town", "casino"),
        ("Best CASINO in town", "CASINO"),
        ("join my c a s i n o tonight", "c a s i n o"),
        ("join my c.a.s.i.n.o tonight", "c.a.s.i.n.o"),
        ("the ca$ino pays out", "ca$ino"),
        ("the c4s1no pays out", "c4s1no"),
        ("the cas\u200bino pays out", "cas\u200bino"),
        ("the casssssino pays out", "casssssino"),
        ("the cassino pays out", "cassino"),
        ("ｃａｓｉｎｏ night", "ｃａｓｉｎｏ"),
    ],
)
def test_a_disguised_term_hits_and_the_reason_names_what_was_written(
    text: str, written: str
) -> None:
    (hit,) = blocklist_hits(text)
    assert hit.term == "casino" and hit.outcome == "rejected"
    assert hit.matched == written
    assert decide({}, text, CASINO).status is Status.REJECTED
    if written.casefold() != "casino":
        assert f"“{written}”" in hit.describe()


@pytest.mark.parametrize(
    ("term", "text"),
    [
        ("cunt", "We drove through Scunthorpe on the way."),
        ("casino", "What an occasion, and the casinos were closed."),
        ("ass", "I passed the class with a classic essay."),
        ("hell", "Hello there, shell company."),
    ],
)
def test_a_term_inside_another_word_does_not_hit(term: str, text: str) -> None:
    policy = Policy(blocklist=((term, "reject"),))
    assert blocklist_hits(text, policy) == []
    assert decide({}, text, policy).status is Status.APPROVED


def test_a_term_written_with_leetspeak_in_the_rule_still_matches_plain_text() -> None:
    policy = Policy(blocklist=(("ca$ino", "flag"),))
    (hit,) = blocklist_hits("the casino pays out", policy)
    assert hit.outcome == "flagged"


@pytest.mark.parametrize(
    ("text", "links"),
    [
        ("no links here, just 3.5 percent", 0),
        ("see https://example.org/a and www.example.net", 2),
        ("visit example dot com for more", 1),
        ("visit hxxp://bad.example/win now", 1),
        ("visit hxxps://bad.example/win now", 1),
        ("go to www[.]spam[.]com", 1),
        ("cheap pills at pills(.)ru and meds [dot] com", 2),
        ("shop (dot) ru", 1),
        ("https://example.org https://example.org/b example dot com", 3),
    ],
)
def test_the_link_limit_counts_disguised_links(text: str, links: int) -> None:
    assert count_links(text) == links


def test_disguised_links_over_the_limit_flag() -> None:
    outcome = decide({}, "win at example dot com and prizes dot net", Policy(max_links=1))
    assert outcome.status is Status.FLAGGED


@pytest.mark.parametrize(
    "text",
    [
        "join my c a s i n o tonight",
        "Scunthorpe casinos",
        "visit example dot com and hxxp://x.example",
        "fine comment",
    ],
)
def test_the_what_if_reads_the_rules_as_decide_does(text: str) -> None:
    policy = Policy(blocklist=(("casino", "reject"), ("cunt", "flag")), max_links=1)
    assert rules_status(policy)(text) is decide({}, text, policy).status


MIXED_TEXTS = [
    "plain words",
    "",
    "Best CASINO in town",
    "join my c a s i n o tonight",
    "the c4s1no pays out",
    "the cas\u200bino pays out",
    "\uff43\uff41\uff53\uff49\uff4e\uff4f night",
    "caf\u00e9 talk, no rule here",
    "cas\nino over two lines",
    "see WWW.example.net",
    "visit example DOT com",
    "go to www[.]spam[.]com",
    "numbers 3.5 and 1/2",
]


@pytest.mark.parametrize(
    "blocklist", [(), (("casino", "reject"),), (("ca$ino", "flag"), ("night", "flag"))]
)
def test_may_hit_leaves_out_only_texts_no_rule_or_link_touches(
    blocklist: tuple[tuple[str, str], ...],
) -> None:
    terms = compile_terms(blocklist)
    candidates = may_hit(terms, 0, MIXED_TEXTS)
    for text, candidate in zip(MIXED_TEXTS, candidates, strict=True):
        if may_match(terms, text) or count_links(text) > 0:
            assert candidate, text
    # It does leave texts out, or it would be no faster than reading them all.
    assert not candidates[0]


@pytest.mark.parametrize("blocklist", [(), (("casino", "reject"),)])
def test_may_hit_reads_every_non_ascii_text_when_one_holds_its_separator(
    blocklist: tuple[tuple[str, str], ...],
) -> None:
    texts = [*MIXED_TEXTS, "holds the separator \uffff casino", "caf\u00e9 www.x.example"]
    candidates = may_hit(compile_terms(blocklist), 2, texts)
    assert all(candidates[i] for i, text in enumerate(texts) if not text.isascii())
    assert not candidates[0]


def test_may_hit_leaves_out_nothing_the_rules_status_would_change() -> None:
    policy = Policy(blocklist=(("casino", "reject"), ("cunt", "flag")), max_links=0)
    status = rules_status(policy)
    candidates = may_hit(compile_terms(policy.blocklist), policy.max_links, MIXED_TEXTS)
    for text, candidate in zip(MIXED_TEXTS, candidates, strict=True):
        if not candidate:
            assert status(text) is Status.APPROVED, text
