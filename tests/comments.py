"""A valid comment as the CMS sends it, for tests that store one without going through intake."""

from __future__ import annotations

from core.store import IncomingComment


def incoming(body: str, external_id: str = "cms-1") -> IncomingComment:
    return IncomingComment(
        external_id=external_id,
        thread_id="article-7",
        author_name="Reader",
        author_email="reader@example.org",
        body=body,
    )
