"""What-if: what a proposed policy would have done to a source's recent comments.

Computed from the scores stored with each comment (comments.scores), never by running the model
again: the score part of the policy is a few array comparisons, and the rules (blocklist, link
limit) run on the text through core.policy.decide itself, so the answer always agrees with a
decision taken one comment at a time. "Current" is what the model's recorded decisions did (the
latest model decision of each comment), whatever policy version made them.
"""

from __future__ import annotations

import gc
import itertools
import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, Select, Text, cast, select
from sqlalchemy.orm import Session, aliased

from core.domain import LABELS, Actor, Status
from core.labels import DECISION_ROW_COLUMNS, DecisionRow, standing_decisions
from core.policy import Policy, rules_status
from core.review import UNDO_REASON_CODE
from core.rules import compile_terms, may_hit
from core.sources import InvalidSourceChange
from core.tables import Comment, Decision, Source
from core.thresholds import effective_thresholds

DEFAULT_DAYS = 30
MAX_DAYS = 366
# Band codes, in order of strictness (the index into BANDS).
BANDS: tuple[str, ...] = (Status.APPROVED.value, Status.FLAGGED.value, Status.REJECTED.value)
_BAND_CODE = {band: code for code, band in enumerate(BANDS)}

Bands = npt.NDArray[np.int8]


@dataclass(frozen=True)
class Labelled:
    """A comment a moderator decided (the decision standing on its current revision)."""

    index: int
    status: str
    reason_code: str | None


@dataclass
class ScoredHistory:
    """A source's scored comments of the last `days` days, as arrays for fast recounts."""

    source_id: str
    days: int
    since: datetime
    comment_ids: list[str]
    texts: list[str]
    labels: tuple[str, ...]
    # (n, len(labels)) scores; NaN where a comment has no score for a label (it never crosses).
    scores: npt.NDArray[np.float64]
    # The band of each comment's latest model decision.
    current: Bands
    labelled: list[Labelled]
    # Rule bands per (blocklist, max_links): the rules do not change while thresholds are tried.
    _rule_bands: dict[tuple[Any, ...], Bands] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.comment_ids)

    def column(self, label: str) -> npt.NDArray[np.float64]:
        return self.scores[:, self.labels.index(label)]

    def rule_bands(self, policy: Policy) -> Bands:
        """What the blocklist and the link limit alone do to each text."""
        key = (tuple(policy.blocklist), policy.max_links)
        if key not in self._rule_bands:
            # Only the texts a rule might hit are read one at a time; no rule touches the others.
            status = rules_status(policy)
            candidates = np.flatnonzero(
                may_hit(compile_terms(policy.blocklist), policy.max_links, self.texts)
            )
            bands = np.zeros(len(self.texts), dtype=np.int8)
            bands[candidates] = np.fromiter(
                (_BAND_CODE[status(self.texts[i]).value] for i in candidates),
                dtype=np.int8,
                count=len(candidates),
            )
            self._rule_bands[key] = bands
        return self._rule_bands[key]

    def score_bands(self, policy: Policy) -> Bands:
        """The strictest band any label's score calls for, per comment."""
        bands = np.zeros(len(self), dtype=np.int8)
        for j, label in enumerate(self.labels):
            limits = policy.for_label(label)
            column = self.scores[:, j]
            with np.errstate(invalid="ignore"):
                label_band = (column >= limits.flag).astype(np.int8)
                if limits.reject is not None:
                    label_band[column >= limits.reject] = 2
            np.maximum(bands, label_band, out=bands)
        return bands

    def bands(self, policy: Policy) -> Bands:
        return np.maximum(self.score_bands(policy), self.rule_bands(policy))


def load_history(
    session: Session, source_id: str, days: int = DEFAULT_DAYS, now: datetime | None = None
) -> ScoredHistory:
    """The source's comments received in the last `days` days that the model decided.

    Two queries through the Core connection (no ORM object per row): the comments (their scores
    as JSON text, parsed in one go into one array), and the decisions of the comments a
    moderator decided (found through ix_decisions_comment_actor). For every other comment the
    status is the model's. The per-row work is column-wise: one transposition, then numpy.
    """
    if not 1 <= days <= MAX_DAYS:
        raise InvalidSourceChange(f"days must be between 1 and {MAX_DAYS}")
    with _collector_paused():
        return _load_history(session, source_id, days, now)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """The cyclic garbage collector paused: reading 100,000 rows allocates as many tuples, and
    each batch of allocations would make it walk them all again (a third of the load's time).
    Nothing here makes reference cycles; it runs when re-enabled."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _load_history(
    session: Session, source_id: str, days: int, now: datetime | None
) -> ScoredHistory:
    since = (now or datetime.now(UTC)) - timedelta(days=days)
    in_window = (Comment.source_id == source_id, Comment.received_at >= since)
    connection = session.connection()
    rows = _plain_rows(
        connection,
        select(
            Comment.id, Comment.status, Comment.revision, Comment.body, cast(Comment.scores, Text)
        ).where(*in_window, Comment.scores.is_not(None)),
    )
    reviewed = _reviewed(connection, in_window)
    ids, statuses, revisions, bodies, scores = (
        (list(column) for column in zip(*rows, strict=True)) if rows else ([], [], [], [], [])
    )
    codes = np.fromiter(
        (_BAND_CODE.get(status, -1) for status in statuses), dtype=np.int8, count=len(ids)
    )
    standing_of: dict[int, tuple[str, str | None]] = {}
    for index, comment_id in enumerate(ids):
        decisions = reviewed.decisions.get(comment_id)
        if decisions is None:
            continue
        model_status, standing = _model_and_moderator(
            decisions, revisions[index], reviewed.undo_reasons
        )
        codes[index] = _BAND_CODE.get(model_status, -1) if model_status is not None else -1
        if standing is not None and codes[index] >= 0:
            standing_of[index] = standing
    keep = codes >= 0
    kept_at = np.cumsum(keep) - 1  # the position of a kept comment among the kept ones
    parsed = json.loads("[" + ",".join(itertools.compress(scores, keep)) + "]")
    nan = float("nan")
    matrix = np.fromiter(
        (entry.get(label, nan) for entry in parsed for label in LABELS),
        dtype=np.float64,
        count=len(parsed) * len(LABELS),
    ).reshape(len(parsed), len(LABELS))
    labelled = [
        Labelled(int(kept_at[index]), status, reason_code)
        for index, (status, reason_code) in sorted(standing_of.items())
    ]
    return ScoredHistory(
        source_id=source_id,
        days=days,
        since=since,
        comment_ids=list(itertools.compress(ids, keep)),
        texts=list(itertools.compress(bodies, keep)),
        labels=LABELS,
        scores=matrix,
        current=codes[keep],
        labelled=labelled,
    )


def _plain_rows(connection: Connection, statement: Select[*tuple[Any, ...]]) -> Sequence[Any]:
    """Rows through the Core connection, without the ORM's per-row work."""
    return connection.execute(statement).all()


# (id, actor, revision, status, reason_code) of one decision.
_DecisionRow = tuple[int, str, int, str, str | None]


@dataclass(frozen=True)
class _Reviewed:
    """Every decision, in order, of the comments in the window a moderator decided; and the
    reasons of the undo decisions among them (the only ones whose reasons matter)."""

    decisions: dict[str, list[_DecisionRow]]
    undo_reasons: dict[int, list[Any]]


def _reviewed(connection: Connection, in_window: Sequence[Any]) -> _Reviewed:
    by_moderator = aliased(Decision)
    moderated = (
        select(by_moderator.id)
        .where(
            by_moderator.comment_id == Comment.id,
            by_moderator.actor == Actor.MODERATOR.value,
        )
        .exists()
    )
    rows = _plain_rows(
        connection,
        select(*DECISION_ROW_COLUMNS)
        .join(Comment, Comment.id == Decision.comment_id)
        .where(*in_window, moderated)
        .order_by(Decision.comment_id, Decision.id),
    )
    reviewed: dict[str, list[_DecisionRow]] = {}
    for row in rows:
        reviewed.setdefault(row[0], []).append((row[1], row[2], row[3], row[4], row[5]))
    undo_ids = [row[1] for row in rows if row[5] == UNDO_REASON_CODE]
    undo_reasons: dict[int, list[Any]] = {}
    if undo_ids:
        found = select(Decision.id, Decision.reasons).where(Decision.id.in_(undo_ids))
        undo_reasons = {row[0]: row[1] for row in connection.execute(found)}
    return _Reviewed(reviewed, undo_reasons)


def _model_and_moderator(
    decisions: Sequence[_DecisionRow], revision: int, undo_reasons: Mapping[int, list[Any]]
) -> tuple[str | None, tuple[str, str | None] | None]:
    """The latest model decision's status, and (status, reason code) of the moderator decision
    standing on `revision` (core.labels.standing_decisions when an undo is among them)."""
    model = None
    standing: tuple[str, str | None] | None = None
    undone = False
    for _, actor, rev, status, reason_code in decisions:
        if actor == Actor.MODEL.value:
            model = status
        elif reason_code == UNDO_REASON_CODE:
            undone = True
        elif actor == Actor.MODERATOR.value and rev == revision:
            # (The sweeper's decisions when the scorer was down, actor "system", are no one's
            # review.)
            standing = (status, reason_code)
    if undone:
        facts = [
            DecisionRow(id_, actor, rev, status, code, undo_reasons.get(id_) or [])
            for id_, actor, rev, status, code in decisions
        ]
        found = standing_decisions(facts).get(revision)
        standing = (found.status, found.reason_code) if found is not None else None
    if standing is not None and standing[0] not in _BAND_CODE:
        standing = None
    return model, standing


def proposed_policy(
    source: Source,
    model_thresholds: Mapping[str, float],
    thresholds: Mapping[str, Mapping[str, float | None]] | None = None,
    blocklist: Sequence[Mapping[str, str]] | None = None,
    max_links: int | None = None,
) -> Policy:
    """The source's policy with some thresholds (and optionally the rules) replaced; labels not
    given keep the thresholds the source decides with now."""
    effective = {
        label: {"flag": value["flag"], "reject": value["reject"]}
        for label, value in effective_thresholds(source.thresholds, model_thresholds).items()
    }
    # A what-if may try any numbers in [0, 1], even a reject below the flag (decide() rejects
    # first); only saving a policy insists on flag <= reject (core.sources).
    merged: dict[str, dict[str, float | None]] = {k: dict(v) for k, v in effective.items()}
    for label, value in (thresholds or {}).items():
        if label not in LABELS:
            raise InvalidSourceChange(f"unknown label {label!r}; labels: {', '.join(LABELS)}")
        for which in ("flag", "reject"):
            number = value.get(which, merged[label][which])
            if number is not None and not 0.0 <= float(number) <= 1.0:
                raise InvalidSourceChange(f"{label}.{which} must be between 0 and 1")
            merged[label][which] = float(number) if number is not None else None
        if merged[label]["flag"] is None:
            raise InvalidSourceChange(f"{label}.flag cannot be empty")
    return Policy.from_source_fields(
        merged,
        source.blocklist if blocklist is None else blocklist,
        source.max_links if max_links is None else max_links,
    )


def parse_threshold_query(
    args: Mapping[str, str], current: Mapping[str, Mapping[str, Any]]
) -> dict[str, dict[str, float | None]]:
    """`toxic.flag=0.6&toxic.reject=0.95` as threshold changes; a label given only one of its
    two numbers keeps the other from `current` (reject=none: never reject)."""
    changes: dict[str, dict[str, float | None]] = {}
    for key, text in args.items():
        label, dot, which = key.partition(".")
        if not dot:
            continue
        if label not in LABELS or which not in ("flag", "reject"):
            raise InvalidSourceChange(f"unknown threshold {key!r}: use LABEL.flag or LABEL.reject")
        entry = changes.setdefault(label, dict(current.get(label) or {}))
        # Exactly "none", as the API documents it: an empty value is no threshold.
        if which == "reject" and text == "none":
            entry["reject"] = None
            continue
        try:
            entry[which] = float(text)
        except ValueError as exc:
            raise InvalidSourceChange(f"{key} must be a number: {text!r}") from exc
    return changes


@dataclass(frozen=True)
class BandChange:
    """A moderator-labelled comment that the proposed policy would put in another band."""

    comment_id: str
    current: str
    proposed: str
    moderator: str

    def as_json(self) -> dict[str, str]:
        return {
            "id": self.comment_id,
            "current": self.current,
            "proposed": self.proposed,
            "moderator": self.moderator,
        }


def counts(bands: Bands) -> dict[str, int]:
    tally = np.bincount(bands.astype(np.int64), minlength=len(BANDS))
    return {band: int(tally[code]) for code, band in enumerate(BANDS)}


@dataclass(frozen=True)
class WhatIf:
    """Counts per band, now and under the proposal, and the labelled comments that move."""

    days: int
    comments: int
    current: dict[str, int]
    proposed: dict[str, int]
    changes: list[BandChange]

    def as_json(self) -> dict[str, Any]:
        return {
            "days": self.days,
            "comments": self.comments,
            "current": self.current,
            "proposed": self.proposed,
            "changed": [change.comment_id for change in self.changes],
            "changes": [change.as_json() for change in self.changes],
        }


def what_if(history: ScoredHistory, policy: Policy) -> WhatIf:
    """What `policy` would have done to `history`, against what the model's decisions did."""
    proposed = history.bands(policy)
    changes = [
        BandChange(
            comment_id=history.comment_ids[item.index],
            current=BANDS[history.current[item.index]],
            proposed=BANDS[proposed[item.index]],
            moderator=item.status,
        )
        for item in history.labelled
        if proposed[item.index] != history.current[item.index]
    ]
    changes.sort(key=lambda change: change.comment_id)
    return WhatIf(
        days=history.days,
        comments=len(history),
        current=counts(history.current),
        proposed=counts(proposed),
        changes=changes,
    )
