"""Tells /readyz that this worker process has a model loaded: a Redis key with a short TTL.

The value names the model version the process scores with and, while the registry's live model
could not be loaded (worker.follower), which version that was and why."""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import redis
import structlog

log = structlog.stdlib.get_logger(__name__)

KEY_PREFIX = "moderation:worker:"
TTL_SECONDS = 60
# Well under the TTL, so one missed beat does not make the worker look gone.
EVERY_SECONDS = 15.0


def heartbeat_key(hostname: str | None = None, pid: int | None = None) -> str:
    return f"{KEY_PREFIX}{hostname or socket.gethostname()}:{pid or os.getpid()}"


def beat(
    client: redis.Redis, model_version: str, model_error: Mapping[str, Any] | None = None
) -> None:
    """Write (or refresh) this process's heartbeat."""
    value: dict[str, Any] = {"model_version": model_version, "at": datetime.now(UTC).isoformat()}
    if model_error:
        value["model_error"] = dict(model_error)
    client.set(heartbeat_key(), json.dumps(value), ex=TTL_SECONDS)


class Heartbeat:
    """A daemon thread that beats every EVERY_SECONDS until stopped; Redis errors are logged."""

    def __init__(self, client: redis.Redis, model_version: str, every: float = EVERY_SECONDS):
        self.client = client
        self.model_version = model_version
        # {"version", "error"} of a live model this process could not load, else None.
        self.model_error: dict[str, Any] | None = None
        self.every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="moderation-heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop beating and remove the key, so /readyz notices a clean shutdown at once."""
        self._stop.set()
        self._thread.join(timeout=5)
        try:
            self.client.delete(heartbeat_key())
        except redis.RedisError as exc:
            log.warning("heartbeat: could not remove key", error=type(exc).__name__)

    def update(self, model_version: str, model_error: Mapping[str, Any] | None) -> None:
        """A model swap (or a refused one): say so now rather than at the next beat."""
        self.model_version = model_version
        self.model_error = dict(model_error) if model_error else None
        self._beat()

    def _beat(self) -> None:
        try:
            beat(self.client, self.model_version, self.model_error)
        except redis.RedisError as exc:
            log.warning("heartbeat: Redis unavailable", error=type(exc).__name__)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._beat()
            self._stop.wait(self.every)


_running: tuple[int, Heartbeat] | None = None


def ensure_heartbeat(client: redis.Redis, model_version: str) -> None:
    """Start this process's heartbeat once (a forked child starts its own)."""
    global _running
    if _running is not None and _running[0] == os.getpid():
        return
    heartbeat = Heartbeat(client, model_version)
    heartbeat.start()
    _running = (os.getpid(), heartbeat)


def report_model(model_version: str, model_error: Mapping[str, Any] | None = None) -> None:
    """Tell this process's heartbeat (if it runs) which model it scores with now."""
    if _running is not None and _running[0] == os.getpid():
        _running[1].update(model_version, model_error)


def stop_heartbeat() -> None:
    global _running
    if _running is not None and _running[0] == os.getpid():
        _running[1].stop()
    _running = None
