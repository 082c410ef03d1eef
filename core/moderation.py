"""The model's use case: score a pending comment, apply its source's policy, decide it once."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol

import structlog
from sqlalchemy import func, select, tuple_, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from core import authors
from core import policy as policy_v1
from core.domain import Actor, Status, Unscored
from core.explanations import explain_outcome
from core.reasons import ReplacesProvisionalReason
from core.store import ModelDecision, awaiting_model, record_decision, record_model_decisions
from core.tables import Comment, Decision, Event, Source
from core.thresholds import scorer_thresholds, source_policy

log = structlog.stdlib.get_logger(__name__)


class Scorer(Protocol):
    """What moderation needs from a classifier (models.load() returns one; tests use a null one)."""

    @property
    def labels(self) -> tuple[str, ...]: ...

    @property
    def version(self) -> str: ...

    # Rows of probabilities, one per text, in `labels` order (a numpy array: not a typed Sequence).
    def predict_proba(self, texts: Sequence[str]) -> Any: ...

    # One text's predict_proba row and the spans a moderator sees highlighted, from one
    # scoring (the text is normalised once for both).
    def assess(self, text: str) -> tuple[Any, Sequence[tuple[int, int]]]: ...

    # Optional (core.explanations looks it up): {label: [(start, end, weight), ...]}, the words
    # that pushed each label up.

    # Optional (moderate_comments looks it up): highlights(text, probabilities), the spans of a
    # text already scored (without it, a batch scores each text again with assess()).


def score_text(scorer: Scorer, text: str) -> dict[str, float]:
    """{label: probability} for one text, as plain floats (JSON-ready)."""
    return labelled(scorer, scorer.predict_proba([text])[0])


def labelled(scorer: Scorer, probabilities: Any) -> dict[str, float]:
    """One predict_proba row as {label: probability}, plain floats (JSON-ready)."""
    return {
        label: round(float(p), 6) for label, p in zip(scorer.labels, probabilities, strict=True)
    }


def _claim(session: Session, comment: Comment) -> bool:
    """Take the right to decide this revision: a compare-and-set on status and revision.

    It also takes the row's write lock until commit (PostgreSQL: the row; SQLite: the database),
    so two workers that scored the same comment at once cannot both decide it, and an edit that
    arrived while we were scoring wins (its own task scores the new body). A provisional
    approval (core.unscored) still awaits the model, so it is claimable too; the decision that
    replaces it clears the mark, after which nothing can claim this revision again.
    """
    result = session.execute(
        update(Comment)
        .where(
            Comment.id == comment.id,
            awaiting_model(),
            Comment.revision == comment.revision,
            Comment.body_sha256 == comment.body_sha256,
        )
        .values(updated_at=datetime.now(UTC))
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0) == 1


def comment_and_source(session: Session, comment_id: str) -> tuple[Comment, Source] | None:
    """A comment and its source (for the policy) in one round trip."""
    row = session.execute(
        select(Comment, Source)
        .join(Source, Source.id == Comment.source_id)
        .where(Comment.id == comment_id)
    ).one_or_none()
    return (row[0], row[1]) if row is not None else None


def moderate_comment(
    session: Session, comment_id: str, scorer: Scorer
) -> tuple[Decision, Event] | None:
    """Decide a pending or provisionally approved comment with the model; None when there is
    nothing (more) to decide.

    Idempotent: a comment already decided (or missing, or edited meanwhile) is left alone. The
    caller commits, then queues delivery of the returned event (the sweeper catches a lost one).
    """
    row = comment_and_source(session, comment_id)
    if row is None:
        log.warning("moderate_comment: comment not found; nothing to do", comment_id=comment_id)
        return None
    comment, source = row
    provisional = comment.unscored == Unscored.PROVISIONAL.value
    if comment.status != Status.PENDING.value and not provisional:
        log.info(
            "moderate_comment: comment already decided; skipped",
            comment_id=comment_id,
            source_id=source.id,
            status=comment.status,
        )
        return None

    # Scoring runs before the claim so no write lock is held while the model works.
    probabilities, spans = scorer.assess(comment.body)
    scores = labelled(scorer, probabilities)
    highlights = [[int(start), int(end)] for start, end in spans]
    # Labels nobody tuned for this source follow the thresholds of the model deciding now.
    policy = source_policy(source, scorer_thresholds(scorer))
    outcome = policy_v1.decide(scores, comment.body, policy)
    # A suspended or banned author's comment is rejected or held, whatever it scored.
    outcome = authors.sanctioned_outcome(session, comment, source, outcome)
    # A newcomer's approval waits for a person where the source pre-moderates.
    outcome = authors.trusted_outcome(session, comment, source, outcome)
    # Why, for the moderator: only for what lands in the queue (or is rejected), to keep the
    # cost of approvals, the bulk of the traffic, as it was.
    explanation = explain_outcome(scorer, comment.body, outcome.status)

    if not _claim(session, comment):
        log.info(
            "moderate_comment: comment changed while scoring; skipped",
            comment_id=comment_id,
            source_id=source.id,
        )
        return None
    # The sweeper may have approved it provisionally while we scored: read what we replace.
    session.refresh(comment, attribute_names=["status", "unscored"])
    reasons = list(outcome.reasons)
    replaced = (
        provisional_decision_id(session, comment)
        if comment.unscored == Unscored.PROVISIONAL.value
        else None
    )
    if replaced is not None:
        reasons.append(ReplacesProvisionalReason(replaces=replaced, outcome=outcome.status.value))
    comment.highlights = highlights
    comment.explanation = explanation
    decision, event = record_decision(
        session,
        comment,
        outcome.status,
        actor=Actor.MODEL.value,
        reasons=reasons,
        scores=scores,
        model_version=scorer.version,
        policy=policy.describe(),
    )
    log.info(
        "moderate_comment: comment decided",
        comment_id=comment_id,
        source_id=source.id,
        event_id=event.id,
        revision=comment.revision,
        status=outcome.status.value,
        model_version=scorer.version,
        replaced_provisional=replaced,
    )
    return decision, event


def provisional_decision_id(session: Session, comment: Comment) -> int | None:
    """The provisional approval of this revision the model's decision replaces."""
    return session.scalar(
        select(func.max(Decision.id)).where(
            Decision.comment_id == comment.id,
            Decision.revision == comment.revision,
            Decision.actor == Actor.SYSTEM.value,
            Decision.status == Status.APPROVED.value,
        )
    )


# Extra log fields per comment id (the worker's request id of each comment's message).
LogContext = Mapping[str, Mapping[str, Any]]


@dataclass(frozen=True)
class _Planned:
    """A comment scored and decided in memory, before its claim."""

    comment: Comment
    source: Source
    decision: ModelDecision
    highlights: list[list[int]]
    explanation: dict[str, list[list[Any]]] | None


def moderate_comments(
    session: Session,
    comment_ids: Sequence[str],
    scorer: Scorer,
    log_context: LogContext | None = None,
) -> list[tuple[Decision, Event]]:
    """moderate_comment for a batch, in the caller's one transaction: one query for the comments
    and their sources, one predict_proba call, highlights and explanations only where they are
    due, one claim statement, and the decisions and events written in two flushes.

    Each comment keeps its own claim (the compare-and-set of _claim, for every row at once): a
    comment decided or edited meanwhile is skipped alone. Ids repeated (a message redelivered
    beside its original) count once. The caller commits, then queues the returned events.
    """
    context = log_context or {}
    ids = list(dict.fromkeys(comment_ids))
    rows = session.execute(
        select(Comment, Source)
        .join(Source, Source.id == Comment.source_id)
        .where(Comment.id.in_(ids))
    ).all()
    found = {comment.id: (comment, source) for comment, source in rows}
    waiting: list[tuple[Comment, Source]] = []
    for comment_id in ids:
        row = found.get(comment_id)
        if row is None:
            log.warning(
                "moderate_comment: comment not found; nothing to do",
                comment_id=comment_id,
                **context.get(comment_id, {}),
            )
        elif (
            row[0].status != Status.PENDING.value and row[0].unscored != Unscored.PROVISIONAL.value
        ):
            log.info(
                "moderate_comment: comment already decided; skipped",
                comment_id=comment_id,
                source_id=row[1].id,
                status=row[0].status,
                **context.get(comment_id, {}),
            )
        else:
            waiting.append(row)
    if not waiting:
        return []

    # Scoring runs before the claim so no write lock is held while the model works.
    probabilities = scorer.predict_proba([comment.body for comment, _ in waiting])
    sanctions = authors.active_sanctions(session, [comment for comment, _ in waiting])
    thresholds = scorer_thresholds(scorer)
    policies: dict[str, Any] = {}
    planned: list[_Planned] = []
    for (comment, source), row_probabilities in zip(waiting, probabilities, strict=True):
        scores = labelled(scorer, row_probabilities)
        policy = policies.get(source.id)
        if policy is None:
            policy = policies[source.id] = source_policy(source, thresholds)
        outcome = policy_v1.decide(scores, comment.body, policy)
        outcome = authors.sanctioned_outcome(session, comment, source, outcome, sanctions=sanctions)
        outcome = authors.trusted_outcome(session, comment, source, outcome)
        planned.append(
            _Planned(
                comment=comment,
                source=source,
                decision=ModelDecision(
                    comment=comment,
                    status=outcome.status,
                    reasons=list(outcome.reasons),
                    scores=scores,
                    policy=policy.describe(),
                ),
                highlights=_highlights(scorer, comment.body, row_probabilities),
                explanation=explain_outcome(scorer, comment.body, outcome.status),
            )
        )

    claimed = _claim_all(session, [p.comment for p in planned])
    decided: list[_Planned] = []
    replaced_ids: dict[str, int | None] = {}
    for item in planned:
        comment = item.comment
        if comment.id not in claimed:
            log.info(
                "moderate_comment: comment changed while scoring; skipped",
                comment_id=comment.id,
                source_id=item.source.id,
                **context.get(comment.id, {}),
            )
            continue
        # The sweeper may have approved it provisionally while we scored: what we replace.
        status, unscored = claimed[comment.id]
        set_committed_value(comment, "status", status)
        set_committed_value(comment, "unscored", unscored)
        replaced = (
            provisional_decision_id(session, comment)
            if unscored == Unscored.PROVISIONAL.value
            else None
        )
        if replaced is not None:
            reasons = [
                *item.decision.reasons,
                ReplacesProvisionalReason(replaces=replaced, outcome=item.decision.status.value),
            ]
            item = replace(item, decision=replace(item.decision, reasons=reasons))
        replaced_ids[comment.id] = replaced
        comment.highlights = item.highlights
        comment.explanation = item.explanation
        decided.append(item)
    if not decided:
        return []
    recorded = record_model_decisions(session, [p.decision for p in decided], scorer.version)
    for item, (decision, event) in zip(decided, recorded, strict=True):
        log.info(
            "moderate_comment: comment decided",
            comment_id=item.comment.id,
            source_id=item.source.id,
            event_id=event.id,
            revision=item.comment.revision,
            status=decision.status,
            model_version=scorer.version,
            replaced_provisional=replaced_ids[item.comment.id],
            **context.get(item.comment.id, {}),
        )
    return recorded


def _highlights(scorer: Scorer, text: str, probabilities: Any) -> list[list[int]]:
    """The spans a moderator sees for a text already scored (the highlighter's gate answers
    most texts, the approvals, without looking at their words)."""
    highlights = getattr(scorer, "highlights", None)
    spans = highlights(text, probabilities) if highlights is not None else scorer.assess(text)[1]
    return [[int(start), int(end)] for start, end in spans]


def _claim_all(session: Session, comments: Sequence[Comment]) -> dict[str, tuple[str, str | None]]:
    """_claim for many comments in one statement: {claimed id: (status, unscored) as stored}.

    Each row is matched on its own id, revision and body, so a comment edited or decided since
    it was read is left out alone. The row locks are held until commit, as with _claim.
    """
    keys = [(c.id, c.revision, c.body_sha256) for c in comments]
    result = session.execute(
        update(Comment)
        .where(
            tuple_(Comment.id, Comment.revision, Comment.body_sha256).in_(keys),
            awaiting_model(),
        )
        .values(updated_at=datetime.now(UTC))
        .returning(Comment.id, Comment.status, Comment.unscored)
        .execution_options(synchronize_session=False)
    )
    return {row[0]: (row[1], row[2]) for row in result}
