"""The moderators' Unscored tab: comments the scorer has not decided within their source's wait."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from flask.testing import FlaskClient

from core.db import session_scope
from core.domain import Status
from core.settings import Settings
from core.sources import SourceChanges, update_source
from core.store import NewSource
from core.tables import Comment, Revision
from core.unscored import settle_unscored
from tests.service.review_support import Account, add_comment, bearer, make_account, sign_in

pytestmark = pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)

LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)


@pytest.fixture
def moderator(settings: Settings) -> Account:
    return make_account(settings, "moderator")


def overdue(settings: Settings, source_id: str, mode: str) -> str:
    """A pending comment of a `mode` source, past its wait and settled by the sweeper."""
    with session_scope(settings) as session:
        update_source(session, source_id, SourceChanges(unscored_mode=mode))
    comment_id = add_comment(settings, source_id, status=Status.PENDING)
    with session_scope(settings) as session:
        session.query(Revision).filter(Revision.comment_id == comment_id).update(
            {"received_at": LONG_AGO}
        )
        settle_unscored(session, datetime.now(UTC), limit=10_000)
    return comment_id


@pytest.fixture
def settled(settings: Settings, source: NewSource) -> tuple[str, str]:
    """(held, provisional): one comment of each, at the test's source."""
    held = overdue(settings, source.source.id, "fail-closed")
    return held, overdue(settings, source.source.id, "fail-open")


class TestUnscoredTab:
    def test_queue_api_unscored_lists_held_and_provisional_comments(
        self,
        client: FlaskClient,
        settings: Settings,
        source: NewSource,
        moderator: Account,
        settled: tuple[str, str],
    ) -> None:
        source_id = source.source.id
        held, provisional = settled
        waiting = add_comment(settings, source_id, status=Status.PENDING)
        add_comment(settings, source_id)
        body = client.get(
            f"/v1/review/queue?status=unscored&sort=age&source={source_id}",
            headers=bearer(moderator),
        ).json
        assert body is not None
        assert [item["id"] for item in body["items"]] == [held, provisional]
        assert body["counts"]["unscored"] == 2 and body["total"] == 2
        assert body["counts"]["pending"] == 2  # the held one and the one still within its wait
        with session_scope(settings) as session:
            assert session.get_one(Comment, waiting).unscored is None

    def test_queue_page_unscored_tab_marks_each_comment(
        self, client: FlaskClient, source: NewSource, moderator: Account, settled: tuple[str, str]
    ) -> None:
        source_id = source.source.id
        held, provisional = settled
        sign_in(client, moderator)
        page = client.get(f"/moderate?status=unscored&source={source_id}").get_data(as_text=True)
        assert '<span class="count" data-count="unscored">2</span>' in page
        assert 'aria-current="page" data-status="unscored"' in page
        assert f'data-id="{held}"' in page and f'data-id="{provisional}"' in page
        assert 'data-unscored="provisional">approved provisionally, not scored yet' in page
        assert 'data-unscored="held">pending, not scored yet' in page
        assert "approved provisionally: not scored within 300 s" in page


class TestUnscoredAudit:
    def test_review_audit_filters_the_sweepers_decisions(
        self, client: FlaskClient, source: NewSource, moderator: Account, settled: tuple[str, str]
    ) -> None:
        held, provisional = settled
        body = client.get(
            f"/v1/review/audit?actor=system&source={source.source.id}", headers=bearer(moderator)
        ).json
        assert body is not None
        assert {(d["comment_id"], d["status"]) for d in body["decisions"]} == {
            (held, "pending"),
            (provisional, "approved"),
        }
