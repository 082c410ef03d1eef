"""Shadow scoring: the registry's shadow model scores each comment the live model decided.

It runs after the live decision is committed and its event queued, so it never delays what the
CMS sees, and it writes only shadow_scores rows: no status, no decision, no event. The report
compares the two models since the shadow began: agreement of the would-be decisions with the
live ones, what the shadow would flag or reject per label, and both models' ROC-AUC on the
labels moderators gave the same revisions since (core.labels).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from core import policy as policy_v1
from core.domain import LABELS, Actor, Status
from core.labels import LabelFilters, iter_labels
from core.moderation import Scorer, comment_and_source, labelled
from core.registry import ModelState
from core.tables import Decision, ModelVersion, ShadowScore
from core.thresholds import scorer_thresholds, source_policy


def shadow_comment(session: Session, comment_id: str, scorer: Scorer) -> ShadowScore | None:
    """Score a decided comment with the shadow model and store what it would have decided;
    None when there is nothing to compare (not decided by the model, edited, done already)."""
    row = comment_and_source(session, comment_id)
    if row is None:
        return None
    comment, source = row
    live = session.scalars(
        select(Decision)
        .where(
            Decision.comment_id == comment.id,
            Decision.revision == comment.revision,
            Decision.actor == Actor.MODEL.value,
        )
        .order_by(Decision.id.desc())
    ).first()
    if live is None:
        return None
    done = session.scalar(
        select(ShadowScore.id).where(
            ShadowScore.comment_id == comment.id,
            ShadowScore.revision == comment.revision,
            ShadowScore.model_version == scorer.version,
        )
    )
    if done is not None:
        return None
    probabilities, _ = scorer.assess(comment.body)
    scores = labelled(scorer, probabilities)
    outcome = policy_v1.decide(
        scores, comment.body, source_policy(source, scorer_thresholds(scorer))
    )
    shadow = ShadowScore(
        comment_id=comment.id,
        revision=comment.revision,
        model_version=scorer.version,
        scores=scores,
        status=outcome.status.value,
        reasons=[reason.to_json() for reason in outcome.reasons],
        live_decision_id=live.id,
        live_status=live.status,
        live_model_version=live.model_version,
    )
    session.add(shadow)
    session.flush()
    return shadow


def roc_auc(labels: Sequence[int], scores: Sequence[float]) -> float | None:
    """Area under the ROC curve (Mann-Whitney, ties counted half); None without both classes."""
    pairs = sorted(zip(scores, labels, strict=True))
    positives = sum(labels)
    negatives = len(labels) - positives
    if positives == 0 or negatives == 0:
        return None
    rank_sum, index = 0.0, 0
    while index < len(pairs):
        end = index
        while end + 1 < len(pairs) and pairs[end + 1][0] == pairs[index][0]:
            end += 1
        average_rank = (index + end) / 2 + 1
        rank_sum += average_rank * sum(label for _, label in pairs[index : end + 1])
        index = end + 1
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


@dataclass
class ShadowReport:
    """How a shadow model compares with the live decisions since it went into shadow."""

    version: str
    since: datetime
    scored: int = 0
    agreed: int = 0
    would_flag: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LABELS, 0))
    would_reject: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LABELS, 0))
    # Per label: {"labels", "positives", "shadow_roc_auc", "live_roc_auc"} on moderator labels.
    moderator_labels: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def agreement(self) -> float | None:
        return self.agreed / self.scored if self.scored else None

    def as_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "since": self.since.isoformat(),
            "scored": self.scored,
            "agreement": self.agreement,
            "would_flag": self.would_flag,
            "would_reject": self.would_reject,
            "moderator_labels": self.moderator_labels,
        }


def _count_outcomes(report: ShadowReport, reasons: Sequence[Mapping[str, Any]]) -> None:
    for reason in reasons:
        label = reason.get("label")
        if reason.get("kind") != "score" or label not in report.would_flag:
            continue
        if reason.get("outcome") == Status.REJECTED.value:
            report.would_reject[label] += 1
        elif reason.get("outcome") == Status.FLAGGED.value:
            report.would_flag[label] += 1


def shadow_report(session: Session, model: ModelVersion) -> ShadowReport:
    """The report for a model since it last went into shadow (its changed_at)."""
    since = model.changed_at
    report = ShadowReport(model.version, since)
    rows = session.execute(
        select(ShadowScore, Decision.scores)
        .join(Decision, Decision.id == ShadowScore.live_decision_id)
        .where(ShadowScore.model_version == model.version, ShadowScore.created_at >= since)
    ).all()
    by_revision: dict[tuple[str, int], tuple[Mapping[str, Any], Mapping[str, Any]]] = {}
    for shadow, live_scores in rows:
        report.scored += 1
        report.agreed += shadow.status == shadow.live_status
        _count_outcomes(report, shadow.reasons)
        by_revision[(shadow.comment_id, shadow.revision)] = (shadow.scores, live_scores or {})
    truth: dict[str, list[tuple[int, float, float]]] = {label: [] for label in LABELS}
    if by_revision:
        for label in iter_labels(session, LabelFilters(since=since)):
            pair = by_revision.get((label.comment_id, label.revision))
            if pair is None:
                continue
            shadow_scores, live_scores = pair
            for name, value in label.labels.items():
                if name in shadow_scores and name in live_scores:
                    truth[name].append((value, shadow_scores[name], live_scores[name]))
    for name, rows_of_label in truth.items():
        values = [value for value, _, _ in rows_of_label]
        report.moderator_labels[name] = {
            "labels": len(values),
            "positives": sum(values),
            "shadow_roc_auc": roc_auc(values, [s for _, s, _ in rows_of_label]),
            "live_roc_auc": roc_auc(values, [s for _, _, s in rows_of_label]),
        }
    return report


def agreement_ratios(session: Session) -> dict[str, float]:
    """{version: share of shadow decisions equal to the live ones} for the model in shadow."""
    query = (
        select(
            ShadowScore.model_version,
            func.count(),
            func.sum(case((ShadowScore.status == ShadowScore.live_status, 1), else_=0)),
        )
        .join(
            ModelVersion,
            and_(
                ModelVersion.version == ShadowScore.model_version,
                ModelVersion.state == ModelState.SHADOW.value,
                ShadowScore.created_at >= ModelVersion.changed_at,
            ),
        )
        .group_by(ShadowScore.model_version)
    )
    return {
        str(version): float(agreed or 0) / count
        for version, count, agreed in session.execute(query)
        if count
    }
