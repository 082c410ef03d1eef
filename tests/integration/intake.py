"""Posting comments the way a CMS does: a signed webhook through the Flask app."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask.testing import FlaskClient
from standardwebhooks import Webhook

from core.store import NewSource


def post_comment(
    client: FlaskClient, source: NewSource, body: str, external_id: str | None = None
) -> dict[str, Any]:
    """POST a signed comment to the intake and return the 202 response's JSON."""
    payload = json.dumps(
        {
            "id": external_id or f"cms-{uuid.uuid4().hex[:8]}",
            "thread": {"id": "article-7"},
            "author": {"name": "Reader", "email": "reader@example.org"},
            "body": body,
        }
    )
    webhook_id = f"msg_{uuid.uuid4().hex}"
    now = datetime.now(UTC)
    response = client.post(
        f"/v1/sources/{source.source.id}/comments",
        data=payload,
        headers={
            "Content-Type": "application/json",
            "webhook-id": webhook_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(source.secret).sign(webhook_id, now, payload),
        },
    )
    assert response.status_code == 202, response.get_data(as_text=True)
    result: dict[str, Any] = response.get_json()
    return result


def read_comment(client: FlaskClient, source: NewSource, comment_id: str) -> dict[str, Any]:
    """GET /v1/comments/{id} as the source that sent it."""
    response = client.get(
        f"/v1/comments/{comment_id}", headers={"Authorization": f"Bearer {source.token}"}
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    result: dict[str, Any] = response.get_json()
    return result


def decided_view(
    client: FlaskClient, source: NewSource, comment_id: str
) -> Callable[[], dict[str, Any]]:
    """A predicate for wait_for: the comment as the API shows it, once it is no longer pending."""

    def check() -> dict[str, Any]:
        view = read_comment(client, source, comment_id)
        return view if view["status"] != "pending" else {}

    return check
