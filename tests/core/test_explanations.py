"""The stored explanation: only for what the model flags or rejects, heaviest words first, read
back against the body with bad spans dropped, and what a queue card picks from it."""

from __future__ import annotations

from core.domain import Status
from core.explanations import STORED_WORDS, card_labels, compact, explain_outcome, why
from tests.wordlist_scorer import WordListScorer


class Explaining:
    """A scorer that explains: every word of the text, weight its length."""

    def explain(self, text: str) -> dict[str, list[tuple[int, int, float]]]:
        spans, start = [], 0
        for word in text.split():
            start = text.index(word, start)
            spans.append((start, start + len(word), float(len(word))))
            start += len(word)
        return {"toxic": spans, "spam": [(0, 1, 0.0)]}


def test_only_flagged_and_rejected_comments_are_explained() -> None:
    text = "you utter numpty"
    assert explain_outcome(Explaining(), text, Status.APPROVED) is None
    assert explain_outcome(WordListScorer(), text, Status.FLAGGED) is None
    for status in (Status.FLAGGED, Status.REJECTED):
        assert explain_outcome(Explaining(), text, status) == {
            "toxic": [[10, 16, 6.0], [4, 9, 5.0], [0, 3, 3.0]]
        }


def test_compact_keeps_the_heaviest_words_of_each_label() -> None:
    many = {"toxic": [(n, n + 1, float(n)) for n in range(20)], "threat": [(0, 1, -1.0)]}
    stored = compact(many)
    assert list(stored) == ["toxic"]
    assert [w[2] for w in stored["toxic"]] == [float(n) for n in range(19, 19 - STORED_WORDS, -1)]


def test_why_reads_words_from_the_body_and_drops_bad_spans() -> None:
    body = "buy cheap pills, idiot"
    stored = {
        "spam": [[4, 9, 1.5], [10, 15, 1.0], [30, 40, 9.0], "junk"],
        "toxic": [[17, 22, 2.0]],
        "threat": [[5, 2, 1.0]],
    }
    labels = why(body, stored, {"toxic": 0.9, "spam": 0.4})
    assert [(item.label, [w.text for w in item.words]) for item in labels] == [
        ("toxic", ["idiot"]),
        ("spam", ["cheap", "pills"]),
    ]
    assert why(body, None) == []


def test_a_card_shows_the_labels_the_decision_named_else_the_top_one() -> None:
    body = "buy cheap pills, idiot"
    stored = {"spam": [[4, 9, 1.5]], "toxic": [[17, 22, 2.0]]}
    scores = {"toxic": 0.9, "spam": 0.6}
    named = [{"kind": "score", "label": "spam"}, {"kind": "links"}]
    assert [item.label for item in card_labels(body, stored, scores, named)] == ["spam"]
    blocklisted = [{"kind": "blocklist", "term": "pills"}]
    assert [item.label for item in card_labels(body, stored, scores, blocklisted)] == ["toxic"]
