from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import redis

from core.settings import Settings
from tests.integration.workers import wait_for
from worker.heartbeat import TTL_SECONDS, Heartbeat, beat, heartbeat_key


@pytest.fixture
def client(settings: Settings) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(settings.redis_client_url)
    yield client
    client.delete(heartbeat_key())
    client.close()


class TestHeartbeatKey:
    def test_heartbeat_key_names_host_and_process(self) -> None:
        assert heartbeat_key() == f"moderation:worker:{socket.gethostname()}:{os.getpid()}"


class TestBeat:
    def test_beat_writes_model_version_and_time_with_ttl(self, client: redis.Redis) -> None:
        beat(client, "model-3")
        value = json.loads(client.get(heartbeat_key()) or b"{}")
        assert value["model_version"] == "model-3"
        at = datetime.fromisoformat(value["at"])
        assert abs(datetime.now(UTC) - at) < timedelta(minutes=1)
        assert 0 < client.ttl(heartbeat_key()) <= TTL_SECONDS


class TestHeartbeat:
    def test_heartbeat_beats_until_stopped_then_removes_key(self, client: redis.Redis) -> None:
        heartbeat = Heartbeat(client, "model-3", every=0.05)
        heartbeat.start()
        wait_for(lambda: client.exists(heartbeat_key()))
        client.delete(heartbeat_key())
        # Refreshed by the thread, not written once.
        wait_for(lambda: client.exists(heartbeat_key()))
        heartbeat.stop()
        assert not client.exists(heartbeat_key())
