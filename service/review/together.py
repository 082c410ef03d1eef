"""What moderators share while they work, kept in Redis for as long as it matters: each one's
last action (for its undo window, so undo survives a reload or a second tab) and who is in
the queue now. Redis being away never fails a request: undo then falls back to the last
decision in the database, and presence shows nobody."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import redis
import structlog

from core.settings import Settings
from service.auth import Moderator
from service.web import redis_client

log = structlog.stdlib.get_logger(__name__)

# Someone who has not loaded the queue (or claimed a comment) for this long has left it.
PRESENCE_SECONDS = 120


@dataclass(frozen=True)
class LastAction:
    decision_ids: list[int]
    until: datetime


@dataclass(frozen=True)
class Presence:
    email: str
    seen_at: datetime


def _key(configured: Settings, kind: str, moderator_id: int | str) -> str:
    return f"{configured.queue_name}:review:{kind}:{moderator_id}"


def remember_action(
    configured: Settings, moderator: Moderator, decision_ids: Sequence[int], until: datetime
) -> None:
    left = (until - datetime.now(UTC)).total_seconds()
    if not decision_ids or left <= 0:
        return
    value = json.dumps({"decision_ids": list(decision_ids), "until": until.isoformat()})
    try:
        redis_client(configured).set(
            _key(configured, "last-action", moderator.id), value, px=int(left * 1000)
        )
    except redis.RedisError as exc:
        log.warning("last action not kept", moderator_id=moderator.id, error=type(exc).__name__)


def last_action(configured: Settings, moderator: Moderator) -> LastAction | None:
    """The moderator's last action while it can still be undone, else None."""
    try:
        raw = redis_client(configured).get(_key(configured, "last-action", moderator.id))
    except redis.RedisError as exc:
        log.warning("last action unknown", moderator_id=moderator.id, error=type(exc).__name__)
        return None
    if not raw:
        return None
    data = json.loads(raw)
    until = datetime.fromisoformat(data["until"])
    action = LastAction([int(i) for i in data["decision_ids"]], until)
    return action if action.until > datetime.now(UTC) else None


def forget_action(configured: Settings, moderator: Moderator) -> None:
    try:
        redis_client(configured).delete(_key(configured, "last-action", moderator.id))
    except redis.RedisError as exc:
        log.warning("last action not cleared", moderator_id=moderator.id, error=type(exc).__name__)


def mark_present(configured: Settings, moderator: Moderator) -> None:
    value = json.dumps({"email": moderator.email, "at": datetime.now(UTC).isoformat()})
    try:
        redis_client(configured).set(
            _key(configured, "presence", moderator.id), value, ex=PRESENCE_SECONDS
        )
    except redis.RedisError as exc:
        log.warning("presence not kept", moderator_id=moderator.id, error=type(exc).__name__)


def present(configured: Settings) -> list[Presence]:
    """Everyone seen in the queue within PRESENCE_SECONDS, by e-mail."""
    client = redis_client(configured)
    try:
        keys = list(client.scan_iter(match=_key(configured, "presence", "*"), count=100))
        values = client.mget(keys) if keys else []
    except redis.RedisError as exc:
        log.warning("presence unknown", error=type(exc).__name__)
        return []
    found = [json.loads(raw) for raw in values if raw]
    cutoff = datetime.now(UTC) - timedelta(seconds=PRESENCE_SECONDS)
    people = [Presence(v["email"], datetime.fromisoformat(v["at"])) for v in found]
    return sorted((p for p in people if p.seen_at > cutoff), key=lambda p: p.email)
