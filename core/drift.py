"""Drift: has a source's traffic moved away from what its scores looked like, and do moderators
overrule the model more than they used to?

Score drift is the population stability index (PSI) of each label's scores over the last 7 days
against a reference distribution (table score_references, decile bins). When a model goes live
(promotion, rollback) every reference is reset to that model's training reference: its held-out
scores' bins, from its manifest (`score_reference`). For a model without one (or before any
change), the reference is the source's own first 30 days of scored traffic under the live model,
stored once when those 30 days are over.
The override rate of a day is the share of the comments the model decided that day whose
standing moderator decision overrules it: flagged then approved, or approved then rejected.
Alerts: PSI above 0.2, or the last day's override rate at least twice its mean over the 30 days
before (a mean of 0 never alerts).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
import structlog
from sqlalchemy import Text, cast, delete, func, select
from sqlalchemy.orm import Session

from core.domain import LABELS, Actor, Status
from core.labels import DECISION_ROW_COLUMNS, DecisionRow, standing_decisions
from core.review import UNDO_REASON_CODE
from core.tables import Comment, Decision, ModelChange, ModelVersion, ScoreReference, Source

log = structlog.stdlib.get_logger(__name__)

REFERENCE_PERIOD = timedelta(days=30)
RECENT_PERIOD = timedelta(days=7)
BINS = 10
# Fewer scores than this make no reference, and no PSI of the recent period.
MIN_REFERENCE_SCORES = 200
MIN_RECENT_SCORES = 50
# Empty bins count as this share, so the logarithm stays finite.
EMPTY_SHARE = 1e-4
PSI_ALERT = 0.2
OVERRIDE_DAYS = 30
OVERRIDE_ALERT_FACTOR = 2.0


def psi(expected: Sequence[float], actual: Sequence[float]) -> float:
    """Population stability index of two distributions over the same bins (shares)."""
    e = np.maximum(np.asarray(expected, dtype=np.float64), EMPTY_SHARE)
    a = np.maximum(np.asarray(actual, dtype=np.float64), EMPTY_SHARE)
    return float(np.sum((a - e) * np.log(a / e)))


def bin_shares(scores: npt.NDArray[np.float64], edges: Sequence[float]) -> list[float]:
    """The share of `scores` in each bin [edges[i], edges[i+1]), the last bin closed at 1."""
    inner = np.asarray(edges[1:-1], dtype=np.float64)
    counts = np.bincount(np.searchsorted(inner, scores, side="right"), minlength=len(edges) - 1)
    return [float(c) / max(len(scores), 1) for c in counts]


def decile_edges(scores: npt.NDArray[np.float64]) -> list[float]:
    """Bin edges at the reference's deciles (ties merged), from 0.0 to 1.0."""
    quantiles = np.quantile(scores, np.linspace(0, 1, BINS + 1)[1:-1])
    inner = sorted({round(float(q), 6) for q in quantiles if 0.0 < q < 1.0})
    return [0.0, *inner, 1.0]


def _label_scores(
    session: Session, source_id: str, label: str, start: datetime, end: datetime
) -> npt.NDArray[np.float64]:
    column = Comment.scores[label].as_float()
    values = session.scalars(
        select(column).where(
            Comment.source_id == source_id,
            Comment.received_at >= start,
            Comment.received_at < end,
            column.is_not(None),
        )
    ).all()
    return np.asarray(values, dtype=np.float64)


def reference(
    session: Session, source_id: str, label: str, now: datetime | None = None
) -> ScoreReference | None:
    """The stored reference of a source's label; built from its first 30 days of scored
    comments once those are over (None before, or with too few scores)."""
    found = session.scalar(
        select(ScoreReference).where(
            ScoreReference.source_id == source_id, ScoreReference.label == label
        )
    )
    if found is not None:
        return found
    now = now or datetime.now(UTC)
    live = session.scalar(select(ModelVersion).where(ModelVersion.state == "live"))
    if live is not None and (live.score_reference or {}).get(label):
        # A source created after the live model went live gets its training reference too.
        return _training_reference(session, source_id, label, live, now)
    since = live_since(session)
    first = session.scalar(
        select(func.min(Comment.received_at)).where(
            Comment.source_id == source_id,
            Comment.scores.is_not(None),
            *([Comment.received_at >= since] if since is not None else []),
        )
    )
    if first is None:
        return None
    if first.tzinfo is None:  # SQLite's aggregate bypasses the column type
        first = first.replace(tzinfo=UTC)
    end = first + REFERENCE_PERIOD
    if end > now:
        return None
    scores = _label_scores(session, source_id, label, first, end)
    if len(scores) < MIN_REFERENCE_SCORES:
        return None
    edges = decile_edges(scores)
    made = ScoreReference(
        source_id=source_id,
        label=label,
        edges=edges,
        fractions=bin_shares(scores, edges),
        count=len(scores),
        period_start=first,
        period_end=end,
        created_at=now,
    )
    session.add(made)
    session.flush()
    return made


def _training_reference(
    session: Session, source_id: str, label: str, model: ModelVersion, now: datetime
) -> ScoreReference:
    """A source's reference for `label` copied from `model`'s training reference."""
    bins = (model.score_reference or {})[label]
    made = ScoreReference(
        source_id=source_id,
        label=label,
        edges=list(bins["edges"]),
        fractions=list(bins["fractions"]),
        count=int(bins.get("count") or 0),
        period_start=model.created_at,
        period_end=now,
        created_at=now,
        model_version=model.version,
    )
    session.add(made)
    session.flush()
    return made


def live_since(session: Session) -> datetime | None:
    """When the live model went live by a promotion or a rollback (None: the first model, live
    since the registry was seeded)."""
    changed = session.scalar(
        select(ModelChange.changed_at)
        .where(
            ModelChange.to_state == "live",
            ModelChange.action.in_(("promote", "rollback")),
        )
        .order_by(ModelChange.id.desc())
        .limit(1)
    )
    if changed is not None and changed.tzinfo is None:
        changed = changed.replace(tzinfo=UTC)
    return changed


def reset_references(session: Session, model: ModelVersion, now: datetime | None = None) -> int:
    """`model` went live (core.registry.promote, rollback): every source's references are
    replaced by the model's training reference, its held-out scores' bins per label. A label
    the model has none for (an artifact without `score_reference`) gets its reference again
    from the source's first 30 days of comments received since the change. Returns the number
    of references written."""
    now = now or datetime.now(UTC)
    session.execute(delete(ScoreReference))
    training = model.score_reference or {}
    written = 0
    for source_id in session.scalars(select(Source.id).order_by(Source.id)):
        for label in LABELS:
            if training.get(label):
                _training_reference(session, source_id, label, model, now)
                written += 1
    log.info(
        "drift references reset for the live model",
        model_version=model.version,
        from_training=written,
    )
    return written


@dataclass(frozen=True)
class LabelDrift:
    label: str
    psi: float | None
    recent: int
    reference: int
    # The model whose training reference it is; None for one made from the source's traffic.
    reference_model: str | None = None

    @property
    def alert(self) -> bool:
        return self.psi is not None and self.psi > PSI_ALERT


def score_drift(session: Session, source_id: str, now: datetime | None = None) -> list[LabelDrift]:
    """PSI per label of the last 7 days' scores against the source's reference."""
    now = now or datetime.now(UTC)
    drifts: list[LabelDrift] = []
    for label in LABELS:
        recent = _label_scores(session, source_id, label, now - RECENT_PERIOD, now)
        ref = reference(session, source_id, label, now)
        if ref is None:  # the recent scores are still counted: the page shows them
            drifts.append(LabelDrift(label, None, len(recent), 0))
            continue
        value = (
            psi(ref.fractions, bin_shares(recent, ref.edges))
            if len(recent) >= MIN_RECENT_SCORES
            else None
        )
        drifts.append(LabelDrift(label, value, len(recent), ref.count, ref.model_version))
    return drifts


def psi_days(
    session: Session, source_id: str, now: datetime | None = None, days: int = OVERRIDE_DAYS + 1
) -> dict[str, list[float | None]]:
    """Per label, the PSI of each day as score_drift would have given it then: entry k is that
    of the 7 days ending k days before now (0: score_drift's own), against today's reference
    (None: no reference, or fewer than 50 scores in that window). The admin page plots it."""
    now = now or datetime.now(UTC)
    start = now - timedelta(days=days - 1) - RECENT_PERIOD
    columns = [Comment.scores[label].as_float() for label in LABELS]
    rows = session.execute(
        select(Comment.received_at, *columns).where(
            Comment.source_id == source_id,
            Comment.received_at >= start,
            Comment.received_at < now,
            Comment.scores.is_not(None),
        )
    ).all()
    ages = np.asarray(
        [
            (now - (r[0] if r[0].tzinfo else r[0].replace(tzinfo=UTC))) / timedelta(days=1)
            for r in rows
        ],
        dtype=np.float64,
    )
    window = RECENT_PERIOD / timedelta(days=1)
    series: dict[str, list[float | None]] = {}
    for j, label in enumerate(LABELS):
        ref = reference(session, source_id, label, now)
        if ref is None:
            series[label] = [None] * days
            continue
        scores = np.asarray([r[j + 1] for r in rows], dtype=np.float64)
        known = ~np.isnan(scores)
        values: list[float | None] = []
        for k in range(days):
            recent = scores[known & (ages > k) & (ages <= k + window)]
            values.append(
                psi(ref.fractions, bin_shares(recent, ref.edges))
                if len(recent) >= MIN_RECENT_SCORES
                else None
            )
        series[label] = values
    return series


@dataclass(frozen=True)
class OverrideDay:
    """One 24-hour window ending `days_ago` days before now."""

    days_ago: int
    decided: int
    overridden: int

    @property
    def ratio(self) -> float | None:
        return self.overridden / self.decided if self.decided else None


OVERRIDES = {
    (Status.FLAGGED.value, Status.APPROVED.value),
    (Status.APPROVED.value, Status.REJECTED.value),
}


def override_days(
    session: Session, source_id: str, now: datetime | None = None, days: int = OVERRIDE_DAYS + 1
) -> list[OverrideDay]:
    """Per 24-hour window (0: the last 24 hours), the comments whose latest model decision fell
    in it, and how many of those a standing moderator decision overrules."""
    now = now or datetime.now(UTC)
    since = now - timedelta(days=days)
    rows = session.execute(
        select(
            *DECISION_ROW_COLUMNS,
            Decision.created_at,
            Comment.revision,
            cast(Decision.reasons, Text),
        )
        .join(Comment, Comment.id == Decision.comment_id)
        .where(Comment.source_id == source_id, Decision.created_at >= since)
        .order_by(Decision.comment_id, Decision.id)
    ).all()
    decided = [0] * days
    overridden = [0] * days
    by_comment: dict[str, list[Any]] = {}
    for row in rows:
        by_comment.setdefault(row[0], []).append(row)
    for group in by_comment.values():
        model = [row for row in group if row[2] == Actor.MODEL.value]
        if not model:
            continue
        latest = model[-1]
        created = latest[6] if latest[6].tzinfo else latest[6].replace(tzinfo=UTC)
        age = (now - created) / timedelta(days=1)
        if not 0 <= age < days:
            continue
        day = int(math.floor(age))
        decided[day] += 1
        facts = [
            DecisionRow(
                row[1],
                row[2],
                row[3],
                row[4],
                row[5],
                json.loads(row[8]) if row[5] == UNDO_REASON_CODE and row[8] else [],
            )
            for row in group
            if row[2] == Actor.MODERATOR.value
        ]
        standing = standing_decisions(facts).get(group[0][7])
        if standing is not None and (latest[4], standing.status) in OVERRIDES:
            overridden[day] += 1
    return [OverrideDay(k, decided[k], overridden[k]) for k in range(days)]


@dataclass(frozen=True)
class OverrideRate:
    ratio: float | None
    mean: float | None
    days: list[OverrideDay]

    @property
    def alert(self) -> bool:
        return (
            self.ratio is not None
            and self.mean is not None
            and self.mean > 0
            and self.ratio >= OVERRIDE_ALERT_FACTOR * self.mean
        )


def override_rate(session: Session, source_id: str, now: datetime | None = None) -> OverrideRate:
    """The last 24 hours' override rate and the mean of the 30 daily rates before it (days
    without model decisions left out of the mean)."""
    days = override_days(session, source_id, now)
    earlier = [day.ratio for day in days[1:] if day.ratio is not None]
    mean = sum(earlier) / len(earlier) if earlier else None
    return OverrideRate(ratio=days[0].ratio, mean=mean, days=days)


@dataclass(frozen=True)
class SourceDrift:
    source_id: str
    source_name: str
    labels: list[LabelDrift]
    overrides: OverrideRate

    def as_json(self) -> dict[str, Any]:
        return {
            "source": {"id": self.source_id, "name": self.source_name},
            "psi": {
                d.label: {
                    "psi": d.psi,
                    "recent": d.recent,
                    "reference": d.reference,
                    "reference_model": d.reference_model,
                    "alert": d.alert,
                }
                for d in self.labels
            },
            "override": {
                "ratio": self.overrides.ratio,
                "mean_30_days": self.overrides.mean,
                "alert": self.overrides.alert,
                "days": [
                    {"days_ago": d.days_ago, "decided": d.decided, "overridden": d.overridden}
                    for d in self.overrides.days
                ],
            },
        }


def check_drift(session: Session, source: Source, now: datetime | None = None) -> SourceDrift:
    """A source's drift, with one warning log line per alert."""
    result = SourceDrift(
        source_id=source.id,
        source_name=source.name,
        labels=score_drift(session, source.id, now),
        overrides=override_rate(session, source.id, now),
    )
    for label in result.labels:
        if label.alert:
            log.warning(
                "drift alert: score distribution moved",
                source_id=source.id,
                label=label.label,
                psi=round(label.psi or 0.0, 4),
                limit=PSI_ALERT,
            )
    if result.overrides.alert:
        log.warning(
            "drift alert: moderators overrule the model more often",
            source_id=source.id,
            override_ratio=round(result.overrides.ratio or 0.0, 4),
            mean_30_days=round(result.overrides.mean or 0.0, 4),
        )
    return result
