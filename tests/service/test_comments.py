"""GET /v1/comments/<id>: only the sending source reads its comment, with decision and history."""

from __future__ import annotations

import pytest
import redis

from core.db import session_scope
from core.domain import Actor, Status
from core.reasons import ScoreReason
from core.settings import Settings
from core.store import NewSource, record_decision
from core.tables import Comment
from tests.service.conftest import BearerGet, SignedPost, comment_payload

BOTH_BACKENDS = pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture
def posted(signed_post: SignedPost, broker: redis.Redis) -> str:
    """The id of a comment the test source has posted."""
    response = signed_post(comment_payload(body="First words."))
    assert response.status_code == 202
    return str(response.get_json()["id"])


def decide(settings: Settings, comment_id: str, status: Status) -> None:
    """Record a model decision the way the worker does."""
    with session_scope(settings) as session:
        comment = session.get(Comment, comment_id)
        assert comment is not None
        comment.highlights = [[0, 5]]
        record_decision(
            session,
            comment,
            status,
            actor=Actor.MODEL.value,
            reasons=[ScoreReason(label="toxic", score=0.8, threshold=0.5, outcome=status.value)],
            scores={"toxic": 0.8, "identity_hate": 0.01, "threat": 0.02, "spam": 0.03},
            model_version="test-model-1",
            policy={"thresholds": {"toxic": {"flag": 0.5, "reject": None}}},
        )


@BOTH_BACKENDS
class TestGetComment:
    def test_get_comment_shows_pending_comment(
        self, get_comment: BearerGet, posted: str, source: NewSource
    ) -> None:
        response = get_comment(posted, source.token)

        assert response.status_code == 200
        view = response.get_json()
        assert (view["id"], view["status"], view["source_id"]) == (
            posted,
            "pending",
            source.source.id,
        )
        assert view["decision"] is None and view["decisions"] == []
        assert [r["number"] for r in view["revisions"]] == [1]
        assert view["links"]["self"] == f"/v1/comments/{posted}"
        assert "author_email" not in view and "email" not in str(view)

    def test_get_comment_shows_decision_scores_and_history(
        self,
        get_comment: BearerGet,
        signed_post: SignedPost,
        posted: str,
        source: NewSource,
        settings: Settings,
    ) -> None:
        decide(settings, posted, Status.FLAGGED)
        view = get_comment(posted, source.token).get_json()

        assert view["status"] == "flagged"
        assert view["scores"]["toxic"] == pytest.approx(0.8)
        assert view["highlights"] == [[0, 5]]
        decision = view["decision"]
        assert (decision["status"], decision["actor"], decision["model_version"]) == (
            "flagged",
            "model",
            "test-model-1",
        )
        assert decision["reasons"][0]["label"] == "toxic"
        assert decision["policy"]["thresholds"]["toxic"]["flag"] == 0.5
        assert decision["created_at"].endswith("Z")
        assert view["decided_at"] is not None

    def test_get_comment_gives_a_rejections_statement_of_reasons(
        self, get_comment: BearerGet, posted: str, source: NewSource, settings: Settings
    ) -> None:
        decide(settings, posted, Status.REJECTED)
        decision = get_comment(posted, source.token).get_json()["decision"]
        assert decision["statement_of_reasons"] == {
            "automated": True,
            "ground": "toxic",
            "text": "Your comment was removed because it is rude or abusive.",
            "appeal_url": None,
        }

    def test_get_comment_has_no_statement_for_a_flag(
        self, get_comment: BearerGet, posted: str, source: NewSource, settings: Settings
    ) -> None:
        decide(settings, posted, Status.FLAGGED)
        assert (
            get_comment(posted, source.token).get_json()["decision"]["statement_of_reasons"] is None
        )

    def test_get_comment_lists_revisions_after_edit(
        self, get_comment: BearerGet, signed_post: SignedPost, source: NewSource
    ) -> None:
        payload = comment_payload(body="Before.")
        comment_id = signed_post(payload).get_json()["id"]
        signed_post({**payload, "body": "After."})

        view = get_comment(comment_id, source.token).get_json()
        assert [(r["number"], r["body"]) for r in view["revisions"]] == [
            (1, "Before."),
            (2, "After."),
        ]
        assert (view["revision"], view["body"]) == (2, "After.")

    def test_get_comment_requires_token(self, get_comment: BearerGet, posted: str) -> None:
        response = get_comment(posted, None)
        assert response.status_code == 401
        assert response.mimetype == "application/problem+json"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")

    def test_get_comment_rejects_unknown_token(self, get_comment: BearerGet, posted: str) -> None:
        response = get_comment(posted, "mod_not-a-token")
        assert response.status_code == 401
        assert response.get_json()["status"] == 401

    def test_get_comment_hides_other_sources_comment(
        self, get_comment: BearerGet, posted: str, other_source: NewSource
    ) -> None:
        response = get_comment(posted, other_source.token)
        missing = get_comment("cmt_does_not_exist", other_source.token)

        assert response.status_code == missing.status_code == 404
        assert response.get_json()["detail"].replace(posted, "X") == missing.get_json()[
            "detail"
        ].replace("cmt_does_not_exist", "X")


@BOTH_BACKENDS
class TestDuplicateView:
    def test_duplicate_returns_same_view_as_get(
        self,
        signed_post: SignedPost,
        get_comment: BearerGet,
        source: NewSource,
        broker: redis.Redis,
    ) -> None:
        payload = comment_payload()
        comment_id = signed_post(payload).get_json()["id"]
        duplicate = signed_post(payload).get_json()
        assert duplicate == get_comment(comment_id, source.token).get_json()
