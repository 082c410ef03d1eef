"""PostgreSQL's one-statement intake: a new comment with its webhook id and revision, or nothing."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from core.db import autocommit_connection, session_scope
from core.settings import Settings
from core.store import (
    IncomingComment,
    Receipt,
    WebhookReplayed,
    accept_comment,
    accept_new_comment,
    create_source,
)
from core.tables import Comment, Revision, SeenWebhook

pytestmark = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)


def incoming(external_id: str, body: str = "A fine comment.") -> IncomingComment:
    return IncomingComment(
        external_id=external_id,
        thread_id="thread-1",
        author_name="Ann",
        author_email="ann@example.org",
        body=body,
    )


def counts(settings: Settings, source_id: str) -> tuple[int, int, int]:
    """(comments, revisions, webhook ids) stored for the source."""
    with session_scope(settings) as session:
        comments = session.scalar(
            select(func.count()).select_from(Comment).where(Comment.source_id == source_id)
        )
        revisions = session.scalar(
            select(func.count())
            .select_from(Revision)
            .join(Comment)
            .where(Comment.source_id == source_id)
        )
        webhooks = session.scalar(select(func.count()).where(SeenWebhook.source_id == source_id))
    return int(comments or 0), int(revisions or 0), int(webhooks or 0)


@pytest.fixture
def source_id(settings: Settings) -> str:
    with session_scope(settings) as session:
        return create_source(session, f"cms-{uuid.uuid4().hex[:6]}").source.id


class TestAcceptNewComment:
    def test_accept_new_comment_stores_comment_revision_and_webhook_id(
        self, settings: Settings, source_id: str
    ) -> None:
        with autocommit_connection(settings) as connection:
            accepted = accept_new_comment(connection, source_id, "msg_1", incoming("c1"))
        assert accepted is not None and accepted.receipt is Receipt.CREATED
        assert counts(settings, source_id) == (1, 1, 1)
        with session_scope(settings) as session:
            comment = session.get(Comment, accepted.comment_id)
            assert comment is not None
            assert (comment.status, comment.revision, comment.scores) == ("pending", 1, None)
            assert [r.number for r in comment.revisions] == [1]

    def test_accept_new_comment_writes_nothing_for_a_comment_seen_before(
        self, settings: Settings, source_id: str
    ) -> None:
        with session_scope(settings) as session:
            accept_comment(session, source_id, "msg_1", incoming("c1"))
        with autocommit_connection(settings) as connection:
            assert (
                accept_new_comment(connection, source_id, "msg_2", incoming("c1", "Edited."))
                is None
            )
        # Not even the webhook id: accept_comment stores it with the edit.
        assert counts(settings, source_id) == (1, 1, 1)

    def test_accept_new_comment_refuses_a_replayed_webhook_id_and_writes_nothing(
        self, settings: Settings, source_id: str
    ) -> None:
        with autocommit_connection(settings) as connection:
            assert accept_new_comment(connection, source_id, "msg_1", incoming("c1")) is not None
            with pytest.raises(WebhookReplayed):
                accept_new_comment(connection, source_id, "msg_1", incoming("c2"))
        assert counts(settings, source_id) == (1, 1, 1)
