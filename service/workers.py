"""What worker processes report through Redis (worker.heartbeat): read by /readyz and /metrics."""

from __future__ import annotations

import json
from typing import Any

import redis

# Key pattern of the heartbeats each worker process with a model loaded keeps in Redis.
WORKER_HEARTBEAT_PATTERN = "moderation:worker:*"
# Heartbeat keys examined at most; one live worker is enough.
MAX_HEARTBEATS_READ = 100


def worker_heartbeats(client: redis.Redis) -> list[dict[str, Any]]:
    """The heartbeats of the worker processes with a model loaded (worker.heartbeat)."""
    beats = []
    for count, key in enumerate(client.scan_iter(match=WORKER_HEARTBEAT_PATTERN, count=100)):
        if count >= MAX_HEARTBEATS_READ:
            break
        raw = client.get(key)
        try:
            beat = json.loads(raw) if raw else None
        except ValueError:
            continue
        if isinstance(beat, dict) and beat.get("model_version"):
            beats.append(beat)
    return beats
