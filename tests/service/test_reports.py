"""Reader reports: signed like the intake, one per reader, weighed by the reader's record,
reopening an approved comment at the source's threshold, settled by a moderator."""

from __future__ import annotations

from typing import Any

import pytest
import redis
from flask.testing import FlaskClient
from sqlalchemy import select

from core.db import session_scope
from core.domain import Status
from core.settings import Settings
from core.store import NewSource
from core.tables import Comment, Event, Source
from tests.service.conftest import SignedPost
from tests.service.review_support import (
    Account,
    add_comment,
    bearer,
    csrf_token,
    make_account,
    sign_in,
)

BOTH_BACKENDS = pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)


def approved(settings: Settings, source: NewSource, threshold: float = 2.0) -> tuple[str, str]:
    """An approved comment at a source reopening at `threshold`: (our id, external id)."""
    with session_scope(settings) as session:
        session.get_one(Source, source.source.id).report_threshold = threshold
    comment_id = add_comment(settings, source.source.id, status=Status.APPROVED)
    with session_scope(settings) as session:
        return comment_id, session.get_one(Comment, comment_id).external_id


def report(
    signed_post: SignedPost, external_id: str, reader: str, reason: str = "abusive", **kw: Any
) -> Any:
    body = kw.pop("body", {"reporter": {"id": reader}, "reason": reason, "text": "Nasty."})
    return signed_post(body, path=f"comments/{external_id}/reports", **kw)


def reported_events(settings: Settings, comment_id: str) -> list[dict[str, Any]]:
    with session_scope(settings) as session:
        return [
            e.payload["data"]["report"]
            for e in session.scalars(
                select(Event)
                .where(Event.comment_id == comment_id, Event.type == "comment.reported")
                .order_by(Event.seq)
            )
        ]


@pytest.fixture
def moderator(settings: Settings) -> Account:
    return make_account(settings, "moderator")


@BOTH_BACKENDS
class TestReportIntake:
    def test_reports_reopen_an_approved_comment_at_the_threshold(
        self, signed_post: SignedPost, settings: Settings, source: NewSource, broker: redis.Redis
    ) -> None:
        comment_id, external_id = approved(settings, source, threshold=2.0)
        first = report(signed_post, external_id, "r-1")
        assert first.status_code == 202, first.get_data(as_text=True)
        assert (first.get_json()["weight"], first.get_json()["reopened"]) == (1.0, False)
        assert reported_events(settings, comment_id) == []
        second = report(signed_post, external_id, "r-2", reason="spam")
        assert second.get_json()["reopened"] is True
        (event,) = reported_events(settings, comment_id)
        assert (event["state"], event["count"], event["weight"]) == ("open", 2, 2.0)
        # Past the threshold, a third report reopens nothing again.
        assert report(signed_post, external_id, "r-3").get_json()["reopened"] is False

    def test_one_report_per_reader_and_comment(
        self, signed_post: SignedPost, settings: Settings, source: NewSource
    ) -> None:
        _, external_id = approved(settings, source)
        assert report(signed_post, external_id, "r-1").status_code == 202
        again = report(signed_post, external_id, "r-1")
        assert again.status_code == 409 and again.mimetype == "application/problem+json"

    def test_unknown_comment_is_not_found(self, signed_post: SignedPost) -> None:
        assert report(signed_post, "cms-never", "r-1").status_code == 404

    @pytest.mark.parametrize(
        ("kw", "status"),
        [
            ({"secret": "whsec_" + "A" * 44}, 401),
            ({"timestamp": 1}, 401),
            ({"omit": ("webhook-id",)}, 401),
            ({"content_type": "text/plain"}, 415),
            ({"body": b"[1, 2"}, 400),
            ({"body": {"reporter": {"id": "r"}, "reason": "ugly"}}, 422),
            ({"body": {"reporter": {"id": "r"}, "reason": "spam", "text": "x" * 501}}, 422),
            ({"body": {"reason": "spam"}}, 422),
        ],
    )
    def test_report_refuses_what_the_intake_refuses(
        self,
        signed_post: SignedPost,
        settings: Settings,
        source: NewSource,
        kw: dict[str, Any],
        status: int,
    ) -> None:
        _, external_id = approved(settings, source)
        assert report(signed_post, external_id, "r-1", **kw).status_code == status


@BOTH_BACKENDS
class TestSettlingReports:
    def test_upheld_reports_reject_and_the_reader_weighs_more(
        self,
        client: FlaskClient,
        signed_post: SignedPost,
        settings: Settings,
        source: NewSource,
        moderator: Account,
        broker: redis.Redis,
    ) -> None:
        comment_id, external_id = approved(settings, source, threshold=1.0)
        report(signed_post, external_id, "r-good")
        listed = client.get("/v1/review/reported", headers=bearer(moderator)).get_json()
        assert comment_id in [item["comment"]["id"] for item in listed["items"]]
        response = client.post(
            f"/v1/review/comments/{comment_id}/reports/decision",
            headers=bearer(moderator),
            json={"outcome": "upheld"},
        )
        assert response.status_code == 200, response.get_data(as_text=True)
        with session_scope(settings) as session:
            comment = session.get_one(Comment, comment_id)
            assert comment.status == "rejected"
            assert comment.decisions[-1].reason_code == "toxic"
            assert comment.decisions[-1].moderator_id == moderator.id
        assert [e["state"] for e in reported_events(settings, comment_id)] == ["open", "upheld"]
        _, another = approved(settings, source, threshold=5.0)
        assert report(signed_post, another, "r-good").get_json()["weight"] == 2.0

    def test_reported_tab_of_one_source(
        self,
        client: FlaskClient,
        signed_post: SignedPost,
        settings: Settings,
        source: NewSource,
        moderator: Account,
    ) -> None:
        comment_id, external_id = approved(settings, source, threshold=1.0)
        report(signed_post, external_id, "r-1")

        def listed(query: str) -> list[str]:
            response = client.get(f"/v1/review/reported{query}", headers=bearer(moderator))
            assert response.status_code == 200, response.get_data(as_text=True)
            return [item["comment"]["id"] for item in response.get_json()["items"]]

        assert listed(f"?source={source.source.id}") == [comment_id]
        assert listed("?source=src_elsewhere") == []
        assert comment_id in listed("")

    def test_dismissed_reports_keep_the_comment_and_the_reader_weighs_less(
        self,
        client: FlaskClient,
        signed_post: SignedPost,
        settings: Settings,
        source: NewSource,
        moderator: Account,
        broker: redis.Redis,
    ) -> None:
        comment_id, external_id = approved(settings, source, threshold=1.0)
        report(signed_post, external_id, "r-noisy")
        response = client.post(
            f"/v1/review/comments/{comment_id}/reports/decision",
            headers=bearer(moderator),
            json={"outcome": "dismissed"},
        )
        assert response.status_code == 200
        with session_scope(settings) as session:
            assert session.get_one(Comment, comment_id).status == "approved"
        _, another = approved(settings, source, threshold=5.0)
        assert report(signed_post, another, "r-noisy").get_json()["weight"] == 0.5
        again = client.post(
            f"/v1/review/comments/{comment_id}/reports/decision",
            headers=bearer(moderator),
            json={"outcome": "dismissed"},
        )
        assert again.status_code == 409


class TestReportedPage:
    def test_reported_page_upholds(
        self,
        client: FlaskClient,
        signed_post: SignedPost,
        settings: Settings,
        source: NewSource,
        moderator: Account,
        broker: redis.Redis,
    ) -> None:
        comment_id, external_id = approved(settings, source, threshold=1.0)
        report(signed_post, external_id, "r-1", reason="threat")
        sign_in(client, moderator)
        page = client.get("/moderate/reported").get_data(as_text=True)
        assert "threat (weight 1.00): Nasty." in page
        response = client.post(
            f"/moderate/comments/{comment_id}/reports/decision",
            data={"outcome": "upheld", "csrf_token": csrf_token(client, "/moderate/reported")},
            follow_redirects=True,
        )
        text = response.get_data(as_text=True)
        assert "Reports upheld." in text and "Nothing reported past its threshold." in text
