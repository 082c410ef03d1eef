"""A valid comment as the CMS sends it, stored the way the intake stores one, for tests."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from core.store import IncomingComment, accept_comment
from core.tables import Comment


def incoming(body: str, external_id: str = "cms-1") -> IncomingComment:
    return IncomingComment(
        external_id=external_id,
        thread_id="article-7",
        author_name="Reader",
        author_email="reader@example.org",
        body=body,
    )


def receive(session: Session, source_id: str, comment: IncomingComment) -> Comment:
    """The comment stored through the intake's path (under a fresh webhook id), uncommitted."""
    accepted = accept_comment(session, source_id, f"msg_{uuid.uuid4().hex}", comment)
    return session.get_one(Comment, accepted.comment_id)
