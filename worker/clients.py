"""This process's Redis client for the heartbeat and the sweep lease (built after fork, once)."""

from __future__ import annotations

import os

import redis

from core.settings import Settings

_clients: dict[tuple[int, str], redis.Redis] = {}


def get_redis(settings: Settings) -> redis.Redis:
    """One client per process and URL; a forked child builds its own instead of sharing sockets."""
    key = (os.getpid(), settings.redis_client_url)
    client = _clients.get(key)
    if client is None:
        client = _clients[key] = redis.Redis.from_url(
            settings.redis_client_url, socket_connect_timeout=2, socket_timeout=5
        )
    return client
