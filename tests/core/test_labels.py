"""Labels from moderator decisions: the mapping per reason code, undo, re-decision, edits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core import review
from core.db import session_scope
from core.domain import LABELS, Status
from core.labels import (
    LabelFilters,
    UnknownSource,
    count_decided_comments,
    iter_labels,
    labels_for,
    unmapped_reason_codes,
)
from core.settings import Settings
from core.store import create_source
from tests.comments import incoming, receive
from tests.service.review_support import Account, add_comment, make_account

ALL_ZERO = dict.fromkeys(LABELS, 0)


def exported(settings: Settings, source: str, **filters: Any) -> list[dict[str, Any]]:
    """The labels of one source (the PostgreSQL database is shared by the run's tests)."""
    filters["source"] = source
    with session_scope(settings) as session:
        return [label.as_json() for label in iter_labels(session, LabelFilters(**filters))]


@pytest.fixture
def source_id(settings: Settings) -> str:
    with session_scope(settings) as session:
        return create_source(session, "Daily Planet").source.id


@pytest.fixture
def moderator(settings: Settings) -> Account:
    return make_account(settings, "moderator")


def decide(
    settings: Settings, comment_id: str, who: Account, status: Status, reason: str | None
) -> int:
    with session_scope(settings) as session:
        decision, _ = review.decide(session, comment_id, who.id, status, reason)
        return decision.id


class TestLabelMapping:
    @pytest.mark.parametrize(
        ("status", "reason", "labels"),
        [
            (Status.REJECTED, "toxic", {"toxic": 1}),
            (Status.REJECTED, "harassment", {"toxic": 1}),
            (Status.REJECTED, "hate", {"identity_hate": 1, "toxic": 1}),
            (Status.REJECTED, "threat", {"threat": 1, "toxic": 1}),
            (Status.REJECTED, "spam", {"spam": 1}),
            (Status.APPROVED, "ok", ALL_ZERO),
            (Status.APPROVED, "false_positive", ALL_ZERO),
            (Status.APPROVED, "context", ALL_ZERO),
            (Status.APPROVED, None, ALL_ZERO),
            (Status.REJECTED, "off_topic", None),
            (Status.REJECTED, "personal_info", None),
            (Status.REJECTED, "other", None),
        ],
    )
    def test_labels_for_each_reason_code(
        self, status: Status, reason: str | None, labels: dict[str, int] | None
    ) -> None:
        assert labels_for(status.value, reason) == labels

    def test_every_review_reason_code_is_placed(self) -> None:
        assert unmapped_reason_codes() == set()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
class TestExportedLabels:
    @pytest.mark.parametrize(
        ("status", "reason", "keys"),
        [
            (Status.REJECTED, "hate", {"identity_hate": 1, "toxic": 1}),
            (Status.REJECTED, "spam", {"spam": 1}),
            (Status.APPROVED, "false_positive", ALL_ZERO),
        ],
    )
    def test_a_moderator_decision_is_a_label_with_only_the_keys_it_speaks_of(
        self,
        settings: Settings,
        source_id: str,
        moderator: Account,
        status: Status,
        reason: str,
        keys: dict[str, int],
    ) -> None:
        comment_id = add_comment(settings, source_id, body="They should all go home.")
        decide(settings, comment_id, moderator, status, reason)
        (row,) = exported(settings, source_id)
        assert {k: row[k] for k in LABELS if k in row} == keys
        assert row["text"] == "They should all go home."
        assert (row["source"], row["comment_id"], row["revision"]) == (
            "Daily Planet",
            comment_id,
            1,
        )
        assert row["reason_code"] == reason
        assert row["decided_at"].endswith("Z")

    def test_model_decisions_and_no_label_reasons_give_no_label(
        self, settings: Settings, source_id: str, moderator: Account
    ) -> None:
        add_comment(settings, source_id, status=Status.REJECTED)
        add_comment(settings, source_id, status=Status.APPROVED)
        off_topic = add_comment(settings, source_id)
        decide(settings, off_topic, moderator, Status.REJECTED, "off_topic")
        assert exported(settings, source_id) == []

    def test_the_latest_decision_counts(
        self, settings: Settings, source_id: str, moderator: Account
    ) -> None:
        comment_id = add_comment(settings, source_id)
        decide(settings, comment_id, moderator, Status.REJECTED, "toxic")
        decide(settings, comment_id, make_account(settings), Status.APPROVED, "context")
        (row,) = exported(settings, source_id)
        assert {k: row[k] for k in LABELS} == ALL_ZERO
        assert row["reason_code"] == "context"

    def test_an_undone_decision_does_not_count(
        self, settings: Settings, source_id: str, moderator: Account
    ) -> None:
        once = add_comment(settings, source_id)
        decide(settings, once, moderator, Status.REJECTED, "threat")
        with session_scope(settings) as session:
            review.undo(session, moderator.id)
        assert exported(settings, source_id) == []
        # Decided, re-decided, the second undone: the first stands again.
        twice = add_comment(settings, source_id)
        decide(settings, twice, moderator, Status.REJECTED, "spam")
        second = decide(settings, twice, moderator, Status.APPROVED, "ok")
        with session_scope(settings) as session:
            review.undo(session, moderator.id, [second])
        (row,) = exported(settings, source_id)
        assert (row["comment_id"], row.get("spam"), row["reason_code"]) == (twice, 1, "spam")

    def test_each_revision_keeps_its_own_label(
        self, settings: Settings, source_id: str, moderator: Account
    ) -> None:
        comment_id = add_comment(settings, source_id, body="first words", external_id="cms-e")
        decide(settings, comment_id, moderator, Status.APPROVED, "ok")
        with session_scope(settings) as session:
            receive(session, source_id, incoming("Buy cheap pills now", "cms-e"))
        with session_scope(settings) as session:
            review.decide(session, comment_id, moderator.id, Status.REJECTED, "spam")
        rows = exported(settings, source_id)
        assert [(r["revision"], r["text"], r.get("spam")) for r in rows] == [
            (1, "first words", 0),
            (2, "Buy cheap pills now", 1),
        ]

    def test_source_and_since_filters(
        self, settings: Settings, source_id: str, moderator: Account
    ) -> None:
        with session_scope(settings) as session:
            other_id = create_source(session, "Bugle").source.id
        ours = add_comment(settings, source_id)
        theirs = add_comment(settings, other_id)
        decide(settings, ours, moderator, Status.REJECTED, "toxic")
        decide(settings, theirs, moderator, Status.REJECTED, "toxic")
        assert [r["comment_id"] for r in exported(settings, other_id)] == [theirs]
        assert [r["comment_id"] for r in exported(settings, source_id)] == [ours]
        tomorrow = datetime.now(UTC) + timedelta(days=1)
        assert exported(settings, source_id, since=tomorrow) == []
        assert len(exported(settings, source_id, since=datetime.now(UTC) - timedelta(hours=1))) == 1
        with session_scope(settings) as session:
            assert count_decided_comments(session, LabelFilters(source=other_id)) == 1
            with pytest.raises(UnknownSource):
                list(iter_labels(session, LabelFilters(source="Nowhere")))
