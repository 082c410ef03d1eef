"""Why the model flagged a comment: per label, the words that pushed its score up, and weights.

The worker computes it when it scores (the web process never loads the model), only for the
comments it flags or rejects, and stores it on the comment (`comments.explanation`):
``{label: [[start, end, weight], ...]}``, offsets into the body, heaviest word first, at most
``STORED_WORDS`` per label. A weight is the word's share of the label's margin (log-odds before
calibration), from the classifier's ``explain(text)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from core.domain import Status

# Words kept per label in the database, and shown per label on a queue card.
STORED_WORDS = 8
SHOWN_WORDS = 5

EXPLAINED_STATUSES = frozenset({Status.FLAGGED, Status.REJECTED})


def explain_outcome(scorer: Any, text: str, status: Status) -> dict[str, list[list[Any]]] | None:
    """The stored explanation for a comment the model flagged or rejected; None for an
    approval, or for a scorer that cannot explain (a hand-made test scorer)."""
    explain = getattr(scorer, "explain", None)
    if status not in EXPLAINED_STATUSES or explain is None:
        return None
    return compact(explain(text))


def compact(explained: Mapping[str, Sequence[Sequence[Any]]]) -> dict[str, list[list[Any]]]:
    """explain()'s answer as stored: per label its heaviest words first, labels with none left
    out."""
    stored: dict[str, list[list[Any]]] = {}
    for label, spans in explained.items():
        words = sorted(
            ([int(s), int(e), round(float(w), 4)] for s, e, w in spans if float(w) > 0),
            key=lambda word: (-word[2], word[0]),
        )[:STORED_WORDS]
        if words:
            stored[label] = words
    return stored


@dataclass(frozen=True)
class Word:
    text: str
    weight: float
    start: int
    end: int


@dataclass(frozen=True)
class LabelWhy:
    label: str
    words: list[Word]


def why(
    body: str,
    explanation: Mapping[str, Any] | None,
    scores: Mapping[str, Any] | None = None,
    limit: int = STORED_WORDS,
) -> list[LabelWhy]:
    """The stored explanation read back against the body: labels by score (highest first), each
    with its words (text cut from the body, heaviest first). Spans outside the body (an edit
    the stored explanation predates cannot happen, but a bad row can) are dropped."""
    if not explanation:
        return []
    scored = scores or {}
    result: list[LabelWhy] = []
    for label, spans in explanation.items():
        words = [
            Word(text=body[start:end], weight=float(weight), start=start, end=end)
            for start, end, weight in _valid(spans, len(body))
        ][:limit]
        if words:
            result.append(LabelWhy(label=label, words=words))
    result.sort(key=lambda item: -float(scored.get(item.label) or 0.0))
    return result


def _valid(spans: Any, length: int) -> list[tuple[int, int, float]]:
    valid: list[tuple[int, int, float]] = []
    for span in spans if isinstance(spans, list) else ():
        if not isinstance(span, list | tuple) or len(span) != 3:
            continue
        start, end, weight = span
        if isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= length:
            valid.append((start, end, float(weight)))
    return valid


def card_labels(
    body: str,
    explanation: Mapping[str, Any] | None,
    scores: Mapping[str, Any] | None,
    reasons: Sequence[Mapping[str, Any]],
) -> list[LabelWhy]:
    """What a queue card shows: the labels the decision named for their scores (else the
    highest-scored label), each with its top SHOWN_WORDS words."""
    explained = why(body, explanation, scores, SHOWN_WORDS)
    named = {r.get("label") for r in reasons if r.get("kind") == "score"}
    shown = [item for item in explained if item.label in named]
    return shown or explained[:1]
