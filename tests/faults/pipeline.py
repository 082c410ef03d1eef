"""Posting comments as a CMS and checking the pipeline's end state: nothing lost, nothing twice."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from flask.testing import FlaskClient
from sqlalchemy import func, select
from standardwebhooks import Webhook
from werkzeug.test import TestResponse

from core.db import session_scope
from core.settings import Settings
from core.store import NewSource
from core.tables import Comment, Decision, DeliveryAttempt, Event, Revision, SeenWebhook
from tests.integration.workers import wait_for
from tests.receiver import Receiver

BENIGN = "Thanks for the clear reporting on the council budget."
TOXIC = "You are a pathetic idiot, shut up and die"


@dataclass(frozen=True)
class SignedComment:
    """One signed intake request, kept so a CMS can send exactly the same one again."""

    external_id: str
    webhook_id: str
    body: bytes


def signed_comment(external_id: str | None = None, text: str = BENIGN) -> SignedComment:
    external_id = external_id or f"cms-{uuid.uuid4().hex[:10]}"
    body = json.dumps(
        {
            "id": external_id,
            "thread": {"id": "article-7", "title": "Budget"},
            "author": {"name": "Reader", "email": "reader@example.org"},
            "body": text,
        }
    ).encode()
    return SignedComment(external_id, f"msg_{uuid.uuid4().hex}", body)


def signed_headers(source: NewSource, hook: SignedComment) -> dict[str, str]:
    """The webhook headers, timestamp now (so a retry of the same id is signed afresh)."""
    now = datetime.now(UTC)
    return {
        "Content-Type": "application/json",
        "webhook-id": hook.webhook_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(source.secret).sign(hook.webhook_id, now, hook.body.decode()),
    }


def post(client: FlaskClient, source: NewSource, hook: SignedComment) -> TestResponse:
    """POST one signed webhook to the API in this process."""
    return client.post(
        f"/v1/sources/{source.source.id}/comments",
        data=hook.body,
        headers=signed_headers(source, hook),
    )


def post_http(
    client: httpx.Client, api: str, source: NewSource, hook: SignedComment
) -> httpx.Response:
    """POST one signed webhook to a running server, as a CMS does."""
    return client.post(
        f"{api}/v1/sources/{source.source.id}/comments",
        content=hook.body,
        headers=signed_headers(source, hook),
    )


@dataclass
class Ledger:
    """What the CMS was told: comment ids it got a 202 for, and every refusal's status."""

    accepted: dict[str, str] = field(default_factory=dict)  # comment id -> external id
    refused: Counter[int] = field(default_factory=Counter)

    def record(self, hook: SignedComment, response: TestResponse | httpx.Response) -> None:
        if response.status_code == 202:
            body = response.json() if isinstance(response, httpx.Response) else response.get_json()
            self.accepted[body["id"]] = hook.external_id
        else:
            self.refused[response.status_code] += 1


def stored_comment_ids(settings: Settings, source: NewSource) -> set[str]:
    with session_scope(settings) as session:
        query = select(Comment.id).where(Comment.source_id == source.source.id)
        return set(session.scalars(query))


def pending_count(settings: Settings) -> int:
    with session_scope(settings) as session:
        return int(session.scalar(select(func.count()).where(Comment.status == "pending")) or 0)


def undelivered_count(settings: Settings) -> int:
    with session_scope(settings) as session:
        query = select(func.count()).where(Event.state != "delivered")
        return int(session.scalar(query) or 0)


def received_by_comment(receiver: Receiver) -> Counter[str]:
    """How many callbacks the CMS got per comment id."""
    return Counter(json.loads(r.body)["data"]["id"] for r in receiver.requests)


def wait_until_settled(
    settings: Settings, receiver: Receiver, accepted: dict[str, str], timeout: float = 60.0
) -> None:
    """Every accepted comment decided, every event delivered and seen by the CMS."""

    def settled() -> bool:
        return (
            pending_count(settings) == 0
            and undelivered_count(settings) == 0
            and set(received_by_comment(receiver)) >= set(accepted)
        )

    try:
        wait_for(settled, timeout=timeout, interval=0.2)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{describe_pipeline(settings, receiver)}") from None


def describe_pipeline(settings: Settings, receiver: Receiver) -> str:
    """Comments, events and attempts as the database has them: what a failed wait shows."""
    lines = []
    with session_scope(settings) as session:
        for comment in session.scalars(select(Comment)):
            lines.append(f"comment {comment.id} {comment.status}")
        for event in session.scalars(select(Event)):
            lines.append(
                f"event {event.id} of {event.comment_id}: {event.state}, "
                f"{event.attempts} attempts, next {event.next_attempt_at}"
            )
        for attempt in session.scalars(select(DeliveryAttempt)):
            lines.append(
                f"attempt {attempt.event_id} #{attempt.number} at {attempt.started_at}: "
                f"{attempt.status_code} {attempt.error}"
            )
    lines.append(f"receiver got {len(receiver.requests)} requests")
    return "\n".join(lines)


def assert_nothing_lost_nothing_twice(
    settings: Settings,
    source: NewSource,
    receiver: Receiver,
    accepted: dict[str, str],
    *,
    redelivery_allowed: bool = False,
) -> dict[str, Any]:
    """accepted == stored == decided == delivered, one decision and one callback per comment.

    redelivery_allowed: a worker killed between a callback's POST and its record may send it
    again (delivery is at least once); the CMS drops the repeat by its webhook-id, so only
    distinct webhook-ids are counted then.
    """
    assert accepted, "the scenario accepted no comment at all"
    with session_scope(settings) as session:
        comments = {
            c.id: c
            for c in session.scalars(select(Comment).where(Comment.source_id == source.source.id))
        }
        decisions = Counter(session.scalars(select(Decision.comment_id)))
        events = {e.comment_id: e for e in session.scalars(select(Event))}
        event_states = Counter(e.state for e in events.values())
        revisionless = [c for c in comments if not comments[c].revisions]
    assert set(comments) == set(accepted), "stored comments differ from those answered 202"
    assert all(c.status != "pending" for c in comments.values()), "a comment was never decided"
    assert decisions == Counter(set(accepted)), f"not one decision per comment: {decisions}"
    assert set(events) == set(accepted) and event_states == {"delivered": len(accepted)}
    assert not revisionless
    webhook_ids = [r.headers["webhook-id"] for r in receiver.requests]
    received = received_by_comment(receiver)
    if redelivery_allowed:
        webhook_ids = sorted(set(webhook_ids))
        received = Counter(set(received))
    assert len(webhook_ids) == len(set(webhook_ids)), "the CMS received a webhook-id twice"
    assert received == Counter(set(accepted)), "duplicate or missing callback"
    assert {r.headers["webhook-id"] for r in receiver.requests} == {e.id for e in events.values()}
    return {"accepted": len(accepted), "decided": len(decisions), "delivered": len(webhook_ids)}


def orphans(settings: Settings, source: NewSource) -> tuple[int, int]:
    """(comments without a revision, webhook ids remembered for no stored comment)."""
    with session_scope(settings) as session:
        no_revision = session.scalar(
            select(func.count())
            .select_from(Comment)
            .where(~select(Revision.id).where(Revision.comment_id == Comment.id).exists())
        )
        webhooks = session.scalar(
            select(func.count()).where(SeenWebhook.source_id == source.source.id)
        )
        comments = session.scalar(select(func.count()).where(Comment.source_id == source.source.id))
    return int(no_revision or 0), int(webhooks or 0) - int(comments or 0)
