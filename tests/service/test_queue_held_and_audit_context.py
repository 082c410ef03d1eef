"""What a moderator sees beside the comments: how many others hold (not counted in the tabs),
and an audit log that shows which comment each decision was about, not only its id."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from core import review
from core.db import session_scope
from core.settings import Settings
from core.store import NewSource, create_source
from tests.service.review_support import XSS_BODY, Account, add_comment, make_account, sign_in

pytestmark = pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)


def claim_for(settings: Settings, account: Account, comment_id: str) -> None:
    with session_scope(settings) as session:
        review.claim(session, comment_id, account.id)


class TestHeldCounts:
    def test_comments_held_by_others_are_counted_apart_and_said_on_the_page(
        self, client: FlaskClient, settings: Settings, source: NewSource
    ) -> None:
        ann = make_account(settings, "moderator", email="ann@example.org")
        bob = make_account(settings, "moderator", email="bob@example.org")
        ids = [add_comment(settings, source.source.id, author=f"R{n}") for n in range(4)]
        claim_for(settings, bob, ids[0])
        claim_for(settings, bob, ids[1])

        # PostgreSQL's database is shared by the run's tests: look at this test's source only.
        mine = review.QueueFilters(source=source.source.id)
        with session_scope(settings) as session:
            for_ann = review.list_queue(session, mine, ann.id)
            for_bob = review.list_queue(session, mine, bob.id)
        assert (for_ann.counts["flagged"], for_ann.held["flagged"]) == (2, 2)
        assert (for_bob.counts["flagged"], for_bob.held["flagged"]) == (4, 0)

        sign_in(client, ann)
        page = client.get(f"/moderate?source={source.source.id}").get_data(as_text=True)
        assert "2 more held by other moderators (not counted)" in page
        as_bob = client.application.test_client()
        sign_in(as_bob, bob)
        page = as_bob.get(f"/moderate?source={source.source.id}").get_data(as_text=True)
        assert "held by other moderators" not in page


class TestAuditContext:
    def test_audit_rows_name_the_comment_its_author_source_and_thread(
        self, client: FlaskClient, settings: Settings, source: NewSource
    ) -> None:
        with session_scope(settings) as session:
            other = create_source(session, "Evening Post").source.id
        long_body = "word " * 100
        add_comment(settings, source.source.id, body=long_body, author="Long Writer")
        add_comment(settings, other, body=XSS_BODY, author="Mallory", thread="article-3")

        found: dict[str, review.AuditComment] = {}
        with session_scope(settings) as session:
            for source_id in (source.source.id, other):
                rows = review.audit(session, review.AuditFilters(source=source_id)).rows
                found.update({row.comment.author_name: row.comment for row in rows})
        assert found["Long Writer"].source_name == "Test CMS"
        assert len(found["Long Writer"].excerpt) == review.AUDIT_EXCERPT_CHARS
        assert found["Long Writer"].excerpt.endswith("…")
        assert found["Mallory"].excerpt == XSS_BODY
        assert (found["Mallory"].source_name, found["Mallory"].thread_id) == (
            "Evening Post",
            "article-3",
        )

        sign_in(client, make_account(settings, "moderator"))
        page = client.get(f"/moderate/audit?source={source.source.id}").get_data(as_text=True)
        assert "Test CMS" in page and "Long Writer" in page
        assert "<script>" not in page.split("<main", 1)[1]
        # A source filter still narrows the log now that every row joins its comment.
        filtered = client.get(f"/moderate/audit?source={other}").get_data(as_text=True)
        assert "Mallory" in filtered and "Long Writer" not in filtered
