"""Character-offset F1 of SemEval-2021 Task 5 (Toxic Spans), to score highlights against gold spans.

Per post, with A the predicted and G the gold character offsets:
P = |A & G| / |A|, R = |A & G| / |G|, F1 = 2PR / (P + R); F1 = 1 when both are empty and 0 when
only one is (Pavlopoulos et al. 2021, section 4). The system score is the mean over posts.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

__all__ = ["mean_span_f1", "offsets_from_spans", "span_f1", "spans_from_offsets"]

Span = tuple[int, int]
# A post's toxic characters: a set of offsets, or [start, end) spans.
Offsets = Collection[int] | Collection[Span]


def offsets_from_spans(spans: Iterable[Span]) -> set[int]:
    """Every character offset covered by the [start, end) spans."""
    offsets: set[int] = set()
    for start, end in spans:
        if start < 0 or end < start:
            raise ValueError(f"not a span: [{start}, {end})")
        offsets.update(range(start, end))
    return offsets


def spans_from_offsets(offsets: Iterable[int]) -> list[Span]:
    """The sorted, maximal [start, end) spans of consecutive offsets."""
    spans: list[Span] = []
    for offset in sorted(set(offsets)):
        if spans and spans[-1][1] == offset:
            spans[-1] = (spans[-1][0], offset + 1)
        else:
            spans.append((offset, offset + 1))
    return spans


def _as_offsets(value: Offsets) -> set[int]:
    offsets: set[int] = set()
    for item in value:
        if isinstance(item, tuple):
            offsets |= offsets_from_spans([item])
        else:
            offsets.add(item)
    return offsets


def span_f1(predicted: Offsets, gold: Offsets) -> float:
    """SemEval-2021 Task 5 F1 of one post; each side is a set of offsets or a list of spans."""
    predicted_offsets = _as_offsets(predicted)
    gold_offsets = _as_offsets(gold)
    if not predicted_offsets and not gold_offsets:
        return 1.0
    overlap = len(predicted_offsets & gold_offsets)
    if overlap == 0:
        return 0.0
    precision = overlap / len(predicted_offsets)
    recall = overlap / len(gold_offsets)
    return 2 * precision * recall / (precision + recall)


def mean_span_f1(pairs: Iterable[tuple[Offsets, Offsets]]) -> float:
    """The system score: span_f1 averaged over (predicted, gold) pairs, one pair per post."""
    scores = [span_f1(predicted, gold) for predicted, gold in pairs]
    if not scores:
        raise ValueError("no posts to score")
    return sum(scores) / len(scores)
