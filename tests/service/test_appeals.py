"""Appeals: signed like the intake, one per rejection, decided by a second moderator only."""

from __future__ import annotations

import pytest
import redis
from flask.testing import FlaskClient
from sqlalchemy import select

from core.db import session_scope
from core.domain import Status
from core.reasons import ModeratorReason
from core.settings import Settings
from core.store import NewSource, record_decision
from core.tables import Comment, Event
from tests.service.conftest import SignedPost
from tests.service.review_support import (
    Account,
    add_comment,
    bearer,
    csrf_token,
    make_account,
    sign_in,
)

APPEAL = {"author": {"id": "u-9"}, "text": "I was quoting the article, not insulting anyone."}
BOTH_BACKENDS = pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)


def rejected(settings: Settings, source: NewSource, by: Account | None = None) -> str:
    """A comment by u-9 rejected by a moderator (or the model); its external id."""
    comment_id = add_comment(settings, source.source.id, author_id="u-9", status=Status.REJECTED)
    with session_scope(settings) as session:
        comment = session.get_one(Comment, comment_id)
        if by is not None:
            record_decision(
                session,
                comment,
                Status.REJECTED,
                actor="moderator",
                moderator_id=by.id,
                reason_code="toxic",
                reasons=[ModeratorReason(reason_code="toxic", outcome="rejected")],
            )
        return comment.external_id


def appeal(signed_post: SignedPost, external_id: str, **kw: object) -> object:
    return signed_post(kw.pop("body", APPEAL), path=f"comments/{external_id}/appeals", **kw)


@pytest.fixture
def first(settings: Settings) -> Account:
    return make_account(settings, "moderator")


@pytest.fixture
def second(settings: Settings) -> Account:
    return make_account(settings, "moderator")


@BOTH_BACKENDS
class TestAppealIntake:
    def test_appeal_is_accepted_once_per_rejection(
        self, signed_post: SignedPost, settings: Settings, source: NewSource
    ) -> None:
        external_id = rejected(settings, source)
        response = appeal(signed_post, external_id)
        assert response.status_code == 202, response.get_data(as_text=True)
        assert response.get_json()["state"] == "open"
        again = appeal(signed_post, external_id)
        assert again.status_code == 409
        assert again.mimetype == "application/problem+json"

    def test_unknown_comment_is_not_found(self, signed_post: SignedPost) -> None:
        assert appeal(signed_post, "cms-never").status_code == 404

    def test_a_comment_that_is_not_rejected_cannot_be_appealed(
        self, signed_post: SignedPost, settings: Settings, source: NewSource
    ) -> None:
        comment_id = add_comment(settings, source.source.id, author_id="u-9")
        with session_scope(settings) as session:
            external_id = session.get_one(Comment, comment_id).external_id
        assert appeal(signed_post, external_id).status_code == 409

    @pytest.mark.parametrize(
        ("kw", "status"),
        [
            ({"secret": "whsec_" + "A" * 44}, 401),
            ({"timestamp": 1}, 401),
            ({"omit": ("webhook-signature",)}, 401),
            ({"content_type": "text/plain"}, 415),
            ({"body": b"{not json"}, 400),
            ({"body": {"author": {"id": "u-9"}, "text": "x" * 1501}}, 422),
            ({"body": {"author": {"id": "u-9"}, "text": "   "}}, 422),
            ({"body": {"text": "no author"}}, 422),
            ({"body": {"author": {"id": "someone-else"}, "text": "mine"}}, 422),
        ],
    )
    def test_appeal_refuses_what_the_intake_refuses(
        self,
        signed_post: SignedPost,
        settings: Settings,
        source: NewSource,
        kw: dict[str, object],
        status: int,
    ) -> None:
        external_id = rejected(settings, source)
        assert appeal(signed_post, external_id, **kw).status_code == status

    def test_appeal_by_another_author_names_the_author_field(
        self, signed_post: SignedPost, settings: Settings, source: NewSource
    ) -> None:
        external_id = rejected(settings, source)
        body = {"author": {"id": "someone-else"}, "text": "mine"}
        response = appeal(signed_post, external_id, body=body)
        assert response.status_code == 422
        assert [e["field"] for e in response.get_json()["errors"]] == ["author.id"]

    def test_replayed_webhook_id_is_refused(
        self, signed_post: SignedPost, settings: Settings, source: NewSource
    ) -> None:
        external_id = rejected(settings, source)
        assert appeal(signed_post, external_id, webhook_id="msg_once").status_code == 202
        replay = appeal(signed_post, external_id, webhook_id="msg_once")
        assert replay.status_code == 401
        assert replay.get_json()["reason"] == "replayed-webhook-id"


@BOTH_BACKENDS
class TestAppealReview:
    def test_the_rejecting_moderator_cannot_decide_the_appeal(
        self,
        client: FlaskClient,
        signed_post: SignedPost,
        settings: Settings,
        source: NewSource,
        first: Account,
    ) -> None:
        appeal_id = appeal(signed_post, rejected(settings, source, by=first)).get_json()["id"]
        response = client.post(
            f"/v1/review/appeals/{appeal_id}/decision",
            headers=bearer(first),
            json={"outcome": "granted"},
        )
        assert response.status_code == 403

    def test_appeals_tab_of_one_source(
        self,
        client: FlaskClient,
        signed_post: SignedPost,
        settings: Settings,
        source: NewSource,
        first: Account,
    ) -> None:
        appeal_id = appeal(signed_post, rejected(settings, source)).get_json()["id"]

        def listed(query: str) -> list[int]:
            response = client.get(f"/v1/review/appeals{query}", headers=bearer(first))
            assert response.status_code == 200, response.get_data(as_text=True)
            return [a["id"] for a in response.get_json()["appeals"]]

        assert listed(f"?source={source.source.id}") == [appeal_id]
        assert listed("?source=src_elsewhere&state=open") == []
        assert appeal_id in listed("")

    def test_a_second_moderator_grants_it_and_the_cms_is_told(
        self,
        client: FlaskClient,
        signed_post: SignedPost,
        settings: Settings,
        source: NewSource,
        first: Account,
        second: Account,
        broker: redis.Redis,
    ) -> None:
        external_id = rejected(settings, source, by=first)
        appeal_id = appeal(signed_post, external_id).get_json()["id"]
        listed = client.get("/v1/review/appeals", headers=bearer(second)).get_json()["appeals"]
        mine = [a for a in listed if a["id"] == appeal_id]
        assert mine and mine[0]["rejection"]["moderator"] == first.email
        response = client.post(
            f"/v1/review/appeals/{appeal_id}/decision",
            headers=bearer(second),
            json={"outcome": "granted", "note": "Fair point."},
        )
        assert response.status_code == 200, response.get_data(as_text=True)
        assert (response.get_json()["state"], response.get_json()["resolved_by"]) == (
            "granted",
            second.id,
        )
        with session_scope(settings) as session:
            comment = session.scalars(
                select(Comment).where(Comment.external_id == external_id)
            ).one()
            assert comment.status == "approved"
            assert comment.decisions[-1].reasons == [
                {"kind": "appeal", "appeal_id": appeal_id, "outcome": "approved"}
            ]
            types = list(
                session.scalars(
                    select(Event.type).where(Event.comment_id == comment.id).order_by(Event.seq)
                )
            )
            assert types[-2:] == ["comment.approved", "comment.appeal_resolved"]
        again = client.post(
            f"/v1/review/appeals/{appeal_id}/decision",
            headers=bearer(first),
            json={"outcome": "denied"},
        )
        assert again.status_code == 409

    def test_denied_appeal_keeps_the_rejection_and_metrics_count_it(
        self,
        client: FlaskClient,
        signed_post: SignedPost,
        settings: Settings,
        source: NewSource,
        second: Account,
        broker: redis.Redis,
    ) -> None:
        external_id = rejected(settings, source)
        appeal_id = appeal(signed_post, external_id).get_json()["id"]
        response = client.post(
            f"/v1/review/appeals/{appeal_id}/decision",
            headers=bearer(second),
            json={"outcome": "denied"},
        )
        assert response.status_code == 200
        with session_scope(settings) as session:
            event = session.scalars(
                select(Event)
                .join(Comment, Comment.id == Event.comment_id)
                .where(Comment.external_id == external_id, Event.type == "comment.appeal_resolved")
            ).one()
            assert event.payload["data"]["appeal"]["outcome"] == "denied"
            assert event.payload["data"]["status"] == "rejected"
        metrics = client.get("/metrics").get_data(as_text=True)
        assert 'moderation_appeals{state="denied"}' in metrics
        assert "moderation_appeal_resolution_seconds_count" in metrics


class TestAppealPage:
    def test_appeals_page_decides_and_hides_the_rejecters_buttons(
        self,
        client: FlaskClient,
        signed_post: SignedPost,
        settings: Settings,
        source: NewSource,
        first: Account,
        second: Account,
        broker: redis.Redis,
    ) -> None:
        appeal(signed_post, rejected(settings, source, by=first))
        sign_in(client, first)
        own = client.get("/moderate/appeals").get_data(as_text=True)
        assert "another moderator decides its appeal" in own and "Grant: approve" not in own
        other = client.application.test_client()
        sign_in(other, second)
        page = other.get("/moderate/appeals").get_data(as_text=True)
        assert APPEAL["text"] in page and "Grant: approve" in page
        appeal_id = client.get("/v1/review/appeals", headers=bearer(second)).get_json()["appeals"][
            0
        ]["id"]
        response = other.post(
            f"/moderate/appeals/{appeal_id}/decision",
            data={"outcome": "denied", "csrf_token": csrf_token(other, "/moderate/appeals")},
            follow_redirects=True,
        )
        assert "Appeal denied." in response.get_data(as_text=True)
        assert "No open appeals." in response.get_data(as_text=True)
