"""core.review without Flask: highlight splitting, claims over time, the undo window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from core import review
from core.domain import Status
from core.settings import Settings
from core.store import NewSource
from tests.service.review_support import add_comment, make_account


class TestHighlightSegments:
    @pytest.mark.parametrize(
        ("text", "spans", "expected"),
        [
            ("abc", None, [("abc", False)]),
            ("", [[0, 3]], [("", False)]),
            ("you idiot", [[4, 9]], [("you ", False), ("idiot", True)]),
            ("abcdef", [[0, 2], [1, 4]], [("abcd", True), ("ef", False)]),
            ("abcdef", [[4, 6], [0, 1]], [("a", True), ("bcd", False), ("ef", True)]),
            ("abc", [[2, 99], [-5, 1]], [("a", True), ("b", False), ("c", True)]),
            ("abc", [[2, 2], [3, 1], [1]], [("abc", False)]),
            ("é😀x", [[1, 2]], [("é", False), ("😀", True), ("x", False)]),
        ],
    )
    def test_highlight_segments_cut_at_offsets(
        self, text: str, spans: list[list[int]] | None, expected: list[tuple[str, bool]]
    ) -> None:
        assert review.highlight_segments(text, spans) == expected

    def test_highlight_segments_keep_the_whole_text(self) -> None:
        text = "one two three four"
        pieces = review.highlight_segments(text, [[4, 7], [14, 18]])
        assert "".join(piece for piece, _ in pieces) == text


class TestSuggestedReason:
    @pytest.mark.parametrize(
        ("scores", "expected"),
        [
            (None, "other"),
            ({"toxic": 0.2, "identity_hate": 0.8}, "hate"),
            ({"threat": 0.9, "toxic": 0.1}, "threat"),
            ({"spam": 0.6}, "spam"),
        ],
    )
    def test_suggested_reason_follows_the_top_label(
        self, scores: dict[str, float] | None, expected: str
    ) -> None:
        assert review.suggested_reject_reason(scores) == expected


class TestClaims:
    def test_claims_expire_after_claim_duration(
        self, session: Session, settings: Settings, source: NewSource
    ) -> None:
        comment_id = add_comment(settings, source.source.id)
        alice, bob = make_account(settings), make_account(settings)
        start = datetime.now(UTC)
        review.claim(session, comment_id, alice.id, now=start)
        with pytest.raises(review.ClaimedByOther):
            review.claim(session, comment_id, bob.id, now=start + timedelta(minutes=4))
        later = start + review.CLAIM_DURATION + timedelta(seconds=1)
        assert review.claim(session, comment_id, bob.id, now=later).claimed_by == bob.id

    def test_claims_hide_items_only_while_live(
        self, session: Session, settings: Settings, source: NewSource
    ) -> None:
        comment_id = add_comment(settings, source.source.id)
        alice, bob = make_account(settings), make_account(settings)
        start = datetime.now(UTC)
        review.claim(session, comment_id, alice.id, now=start)
        filters = review.QueueFilters()
        assert review.list_queue(session, filters, bob.id, now=start).items == []
        later = start + review.CLAIM_DURATION + timedelta(seconds=1)
        assert [c.id for c in review.list_queue(session, filters, bob.id, now=later).items] == [
            comment_id
        ]


class TestUndo:
    def test_undo_window_is_ten_seconds(
        self, session: Session, settings: Settings, source: NewSource
    ) -> None:
        comment_id = add_comment(settings, source.source.id)
        alice = make_account(settings)
        decision, _ = review.decide(session, comment_id, alice.id, Status.APPROVED)
        with pytest.raises(review.UndoRefused, match="10 seconds"):
            review.undo(
                session, alice.id, now=decision.created_at + timedelta(seconds=10, milliseconds=1)
            )
        outcome = review.undo(session, alice.id, now=decision.created_at + timedelta(seconds=9))
        assert [d.status for d, _ in outcome.decided] == ["flagged"]

    def test_undo_gives_a_pending_comment_back_to_the_model(
        self, session: Session, settings: Settings, source: NewSource
    ) -> None:
        comment_id = add_comment(settings, source.source.id, status=Status.PENDING)
        alice = make_account(settings)
        review.decide(session, comment_id, alice.id, Status.REJECTED, "spam")
        outcome = review.undo(session, alice.id)
        assert [d.status for d, _ in outcome.decided] == ["pending"]
        assert outcome.awaiting_model == [comment_id]

    def test_undo_refuses_when_decided_again_since(
        self, session: Session, settings: Settings, source: NewSource
    ) -> None:
        comment_id = add_comment(settings, source.source.id)
        alice, bob = make_account(settings), make_account(settings)
        first, _ = review.decide(session, comment_id, alice.id, Status.APPROVED)
        review.decide(session, comment_id, bob.id, Status.REJECTED, "toxic")
        with pytest.raises(review.UndoRefused, match="decided again"):
            review.undo(session, alice.id, [first.id])


class TestCheckReason:
    @pytest.mark.parametrize(
        ("status", "code", "ok"),
        [
            (Status.APPROVED, None, True),
            (Status.APPROVED, "false_positive", True),
            (Status.APPROVED, "toxic", False),
            (Status.REJECTED, None, False),
            (Status.REJECTED, "spam", True),
            (Status.FLAGGED, None, False),
        ],
    )
    def test_check_reason_table(self, status: Status, code: str | None, ok: bool) -> None:
        if ok:
            review.check_reason(status, code, None)
        else:
            with pytest.raises(review.InvalidDecision):
                review.check_reason(status, code, None)
