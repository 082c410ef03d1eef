"""What-if: counts from stored scores equal a recount one comment at a time with decide()."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bench._history import seed_history
from core.db import session_scope
from core.domain import Actor
from core.labels import standing_decisions
from core.policy import Policy, decide, rules_status
from core.settings import Settings
from core.sources import InvalidSourceChange, get_source
from core.store import create_source
from core.tables import Comment, Decision
from core.whatif import load_history, parse_threshold_query, proposed_policy, what_if

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
MODEL = {"toxic": 0.5, "identity_hate": 0.5, "threat": 0.5, "spam": 0.5}
PROPOSALS = [
    {"toxic": {"flag": 0.3, "reject": 0.6}},
    {"toxic": {"flag": 0.7, "reject": None}, "spam": {"flag": 0.2, "reject": 0.6}},
    {"threat": {"flag": 0.1, "reject": 0.4}},
]


def seeded_source(settings: Settings, n: int = 2000) -> str:
    with session_scope(settings) as session:
        source = create_source(
            session, "Daily Planet", blocklist=[{"term": "casino", "action": "flag"}]
        ).source
        policy = proposed_policy(source, MODEL)
        # Older comments, outside a 30-day window, must not count.
        seed_history(session, source.id, policy, 50, now=NOW - timedelta(days=40), seed=1)
        seed_history(session, source.id, policy, n, now=NOW, days=30, seed=2)
        return source.id


def brute_force(session: Session, source_id: str, policy: Policy) -> dict[str, object]:
    """The what-if recounted the slow way: every comment, its decisions, decide()."""
    since = NOW - timedelta(days=30)
    current = {"approved": 0, "flagged": 0, "rejected": 0}
    proposed = dict(current)
    changed = []
    comments = session.scalars(
        select(Comment)
        .where(Comment.source_id == source_id, Comment.received_at >= since)
        .order_by(Comment.id)
    )
    for comment in comments:
        model = [d for d in comment.decisions if d.actor == Actor.MODEL.value]
        if not model or comment.scores is None:
            continue
        now_band = model[-1].status
        new_band = decide(comment.scores, comment.body, policy).status.value
        current[now_band] += 1
        proposed[new_band] += 1
        moderator = standing_decisions(list(comment.decisions)).get(comment.revision)
        if moderator is not None and new_band != now_band:
            changed.append(comment.id)
    return {"current": current, "proposed": proposed, "changed": changed}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
class TestWhatIf:
    @pytest.mark.parametrize("proposal", PROPOSALS)
    def test_what_if_counts_equal_a_brute_force_recount(
        self, settings: Settings, proposal: dict[str, dict[str, float | None]]
    ) -> None:
        source_id = seeded_source(settings)
        with session_scope(settings) as session:
            source = get_source(session, source_id)
            policy = proposed_policy(source, MODEL, proposal, max_links=1)
            result = what_if(load_history(session, source_id, 30, now=NOW), policy).as_json()
            expected = brute_force(session, source_id, policy)
        assert result["comments"] == 2000
        assert {k: result[k] for k in expected} == expected
        assert result["changed"], "the proposal should move some labelled comments"
        assert {c["id"] for c in result["changes"]} == set(expected["changed"])

    def test_what_if_of_the_current_policy_changes_nothing(self, settings: Settings) -> None:
        source_id = seeded_source(settings, n=300)
        with session_scope(settings) as session:
            source = get_source(session, source_id)
            result = what_if(
                load_history(session, source_id, now=NOW), proposed_policy(source, MODEL)
            )
        assert result.proposed == result.current
        assert result.changes == []

    def test_what_if_lists_band_and_moderator_of_each_change(self, settings: Settings) -> None:
        source_id = seeded_source(settings, n=300)
        with session_scope(settings) as session:
            source = get_source(session, source_id)
            policy = proposed_policy(source, MODEL, {"toxic": {"flag": 0.9, "reject": None}})
            changes = what_if(load_history(session, source_id, now=NOW), policy).changes
            for change in changes:
                stored = session.scalars(
                    select(Decision)
                    .where(Decision.comment_id == change.comment_id)
                    .order_by(Decision.id)
                ).all()
                assert change.current == stored[0].status
                assert change.moderator == stored[-1].status
        assert changes and all(c.proposed != c.current for c in changes)

    def test_what_if_forgets_an_undone_moderator_decision(self, settings: Settings) -> None:
        source_id = seeded_source(settings, n=1000)
        with session_scope(settings) as session:
            source = get_source(session, source_id)
            policy = proposed_policy(source, MODEL, {"toxic": {"flag": 0.9, "reject": None}})
            before = what_if(load_history(session, source_id, now=NOW), policy)
            target = before.changes[0].comment_id
            moderator = session.scalars(
                select(Decision).where(Decision.comment_id == target, Decision.actor == "moderator")
            ).one()
            session.add(
                Decision(
                    comment_id=target,
                    revision=1,
                    previous_status=moderator.status,
                    status="flagged",
                    actor="moderator",
                    reason_code="undo",
                    reasons=[{"kind": "undo", "undoes": moderator.id}],
                    created_at=NOW,
                )
            )
        with session_scope(settings) as session:
            after = what_if(load_history(session, source_id, now=NOW), policy)
        assert [c.comment_id for c in after.changes] == [c.comment_id for c in before.changes[1:]]
        assert after.current == before.current


class TestThresholdQuery:
    def test_parse_threshold_query_keeps_the_number_not_given(self) -> None:
        current = {"toxic": {"flag": 0.5, "reject": 0.9}}
        assert parse_threshold_query({"toxic.flag": "0.6", "days": "7"}, current) == {
            "toxic": {"flag": 0.6, "reject": 0.9}
        }

    @pytest.mark.parametrize("query", [{"rude.flag": "0.5"}, {"toxic.flag": "high"}])
    def test_parse_threshold_query_refuses_what_it_cannot_read(self, query: dict[str, str]) -> None:
        with pytest.raises(InvalidSourceChange):
            parse_threshold_query(query, {})


RULE_TEXTS = [
    "plain words",
    "CASINO night",
    "c a s i n o and ca$ino",
    "Scunthorpe casinos",
    "one https://a.example two www.b.example three http://c.example",
    "example dot com and hxxp://x.example",
]


class TestRulesStatus:
    @pytest.mark.parametrize("text", RULE_TEXTS)
    @pytest.mark.parametrize(
        "policy",
        [
            Policy(blocklist=(("casino", "flag"),), max_links=2),
            Policy(blocklist=(("casino", "reject"), ("night", "flag")), max_links=0),
            Policy(),
        ],
    )
    def test_rules_status_agrees_with_decide(self, text: str, policy: Policy) -> None:
        assert rules_status(policy)(text) == decide({}, text, policy).status
