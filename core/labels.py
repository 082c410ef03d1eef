"""Labels from moderator decisions: what each decision on a revision says about its text.

A moderator's latest decision on a revision is a label for that revision's body: the reason
code of a rejection says which labels are 1, an approval says every label is 0, and some
reasons say nothing the classifier learns. An undone decision counts for nothing (the one
before it counts again), and the model's own decisions never become labels.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from core.domain import LABELS, Actor, Status
from core.review import REJECT_REASONS, UNDO_REASON_CODE
from core.tables import Comment, Decision, Revision, Source

# Reject reason -> the labels it sets to 1; a label not named is left unknown.
REJECT_LABELS: dict[str, dict[str, int]] = {
    "toxic": {"toxic": 1},
    "harassment": {"toxic": 1},
    "hate": {"identity_hate": 1, "toxic": 1},
    "threat": {"threat": 1, "toxic": 1},
    "spam": {"spam": 1},
}
# Reject reasons that say nothing about any label (the comment broke another rule).
NO_LABEL_REASONS = frozenset({"off_topic", "personal_info", "other"})
# Every approval, whatever its reason code (or none), says the text is clean on every label.
APPROVAL_LABELS: dict[str, int] = dict.fromkeys(LABELS, 0)

# Comments read per query while exporting.
BATCH = 500


def labels_for(status: str, reason_code: str | None) -> dict[str, int] | None:
    """The labels one moderator decision gives its text; None when it gives none."""
    if status == Status.APPROVED.value:
        return dict(APPROVAL_LABELS)
    if status == Status.REJECTED.value and reason_code in REJECT_LABELS:
        return dict(REJECT_LABELS[reason_code])
    return None


@dataclass(frozen=True)
class Label:
    """One labelled revision: the text and what the moderator's decision says about it."""

    text: str
    labels: Mapping[str, int]
    source: str
    comment_id: str
    revision: int
    decided_at: datetime
    reason_code: str | None

    def as_json(self) -> dict[str, Any]:
        """The export's line: label keys only where the decision says something about them."""
        return {
            "text": self.text,
            **{label: self.labels[label] for label in LABELS if label in self.labels},
            "source": self.source,
            "comment_id": self.comment_id,
            "revision": self.revision,
            "decided_at": self.decided_at.isoformat().replace("+00:00", "Z"),
            "reason_code": self.reason_code,
        }


@dataclass(frozen=True)
class LabelFilters:
    """Which labels to export: one source (by name or id), decided at or after `since`."""

    source: str | None = None
    since: datetime | None = None


class UnknownSource(LookupError):
    def __str__(self) -> str:
        return f"no source named {self.args[0]!r}"


def _source_ids(session: Session, source: str) -> list[str]:
    ids = list(
        session.scalars(select(Source.id).where(or_(Source.id == source, Source.name == source)))
    )
    if not ids:
        raise UnknownSource(source)
    return ids


class DecisionFacts(Protocol):
    """What standing_decisions reads of a decision (a Decision row, or a lighter tuple of it)."""

    @property
    def id(self) -> int: ...
    @property
    def actor(self) -> str: ...
    @property
    def revision(self) -> int: ...
    @property
    def reason_code(self) -> str | None: ...
    @property
    def reasons(self) -> list[Any]: ...


@dataclass(frozen=True)
class DecisionRow:
    """A decision's facts read as plain columns (core.whatif and core.drift read many)."""

    id: int
    actor: str
    revision: int
    status: str
    reason_code: str | None
    reasons: list[Any]


# The columns a DecisionRow is read from, after the comment's id (core.whatif, core.drift).
DECISION_ROW_COLUMNS = (
    Decision.comment_id,
    Decision.id,
    Decision.actor,
    Decision.revision,
    Decision.status,
    Decision.reason_code,
)


D = TypeVar("D", bound=DecisionFacts)


def _undone_id(decision: DecisionFacts) -> int | None:
    for reason in decision.reasons or ():
        if isinstance(reason, Mapping) and reason.get("kind") == "undo":
            undoes = reason.get("undoes")
            return int(undoes) if isinstance(undoes, int) else None
    return None


def standing_decisions(decisions: Sequence[D]) -> dict[int, D]:
    """Per revision, the moderator decision that stands: the latest one not undone.

    `decisions` are one comment's, in id order; the model's are ignored.
    """
    kept: list[D] = []
    for decision in decisions:
        if decision.actor != Actor.MODERATOR.value:
            continue
        if decision.reason_code == UNDO_REASON_CODE:
            undone = _undone_id(decision)
            # An undo that does not say what it undoes takes back the latest decision.
            target = next((d for d in reversed(kept) if undone in (None, d.id)), None)
            if target is not None:
                kept.remove(target)
            continue
        kept.append(decision)
    standing: dict[int, D] = {}
    for decision in kept:
        standing[decision.revision] = decision
    return standing


def _comment_ids_query(session: Session, filters: LabelFilters) -> Select[str]:
    # A comment whose text was erased (core.author_data) teaches nothing any more.
    query = (
        select(Decision.comment_id)
        .join(Comment, Comment.id == Decision.comment_id)
        .where(Decision.actor == Actor.MODERATOR.value, Comment.erased_at.is_(None))
        .group_by(Decision.comment_id)
    )
    if filters.source is not None:
        ids = _source_ids(session, filters.source)
        query = query.where(Comment.source_id.in_(ids))
    if filters.since is not None:
        # Comments decided since then; which decision stands is worked out from all of them.
        query = query.having(func.max(Decision.created_at) >= filters.since)
    return query


def count_decided_comments(session: Session, filters: LabelFilters) -> int:
    """How many comments a person decided (within the filters): the export's work to do."""
    query = _comment_ids_query(session, filters).subquery()
    return int(session.scalar(select(func.count()).select_from(query)) or 0)


def iter_labels(
    session: Session,
    filters: LabelFilters = LabelFilters(),  # noqa: B008 - frozen, never mutated
    progress: Callable[[int], None] | None = None,
) -> Iterator[Label]:
    """Every labelled revision, comment by comment in id order; `progress(n)` after each batch."""
    after = ""
    while True:
        batch = list(
            session.scalars(
                _comment_ids_query(session, filters)
                .where(Decision.comment_id > after)
                .order_by(Decision.comment_id)
                .limit(BATCH)
            )
        )
        if not batch:
            return
        yield from _labels_of(session, batch, filters)
        if progress is not None:
            progress(len(batch))
        after = batch[-1]


def _labels_of(session: Session, comment_ids: list[str], filters: LabelFilters) -> Iterator[Label]:
    decisions = session.scalars(
        select(Decision)
        .where(Decision.comment_id.in_(comment_ids))
        .order_by(Decision.comment_id, Decision.id)
    )
    standing = {
        comment_id: standing_decisions(list(group))
        for comment_id, group in itertools.groupby(decisions, key=lambda d: d.comment_id)
    }
    texts = {
        (comment_id, number): body
        for comment_id, number, body in session.execute(
            select(Revision.comment_id, Revision.number, Revision.body).where(
                Revision.comment_id.in_(comment_ids)
            )
        )
    }
    sources = dict(
        session.execute(
            select(Comment.id, Source.name)
            .join(Source, Source.id == Comment.source_id)
            .where(Comment.id.in_(comment_ids))
        ).all()
    )
    for comment_id in comment_ids:
        for revision, decision in sorted(standing.get(comment_id, {}).items()):
            labels = labels_for(decision.status, decision.reason_code)
            text = texts.get((comment_id, revision))
            if labels is None or not text:
                continue
            if filters.since is not None and decision.created_at < filters.since:
                continue
            yield Label(
                text=text,
                labels=labels,
                source=sources[comment_id],
                comment_id=comment_id,
                revision=revision,
                decided_at=decision.created_at,
                reason_code=decision.reason_code,
            )


def unmapped_reason_codes() -> set[str]:
    """Reason codes the review offers that this module does not place (a test keeps it empty)."""
    return set(REJECT_REASONS) - set(REJECT_LABELS) - NO_LABEL_REASONS
