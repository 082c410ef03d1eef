"""Queue tasks by name, so the web process never imports the worker or scikit-learn."""

from __future__ import annotations

import base64
import json
import threading
import uuid
from typing import Any

import redis
from celery import Celery
from redis.backoff import NoBackoff
from redis.retry import Retry

from core.settings import Settings
from core.tasks import task_routes

# Redis for the intake's publishes: as quick to give up as the Celery client's transport options.
PUBLISH_TIMEOUT_SECONDS = 1.0


def create_client(settings: Settings) -> Celery:
    """A Celery app used only to send: fails fast when Redis is down (the sweeper catches up)."""
    client = Celery("moderation-client", broker=settings.broker_url, set_as_current=False)
    client.conf.update(
        task_default_queue=settings.queue_name,
        task_routes=task_routes(settings),
        broker_connection_retry_on_startup=False,
        broker_connection_max_retries=0,
        task_publish_retry=False,
        broker_transport_options={
            "socket_connect_timeout": 1,
            "socket_timeout": 1,
            # kombu otherwise retries the connection with backoff for ~6 s before giving up.
            # One immediate retry rides out a stale pooled connection; measured: a refused
            # port fails in ~0.02 s, a Redis that accepts but never answers in ~2 s.
            "max_retries": 1,
            "interval_start": 0,
            "interval_step": 0.2,
            "interval_max": 0.5,
        },
        broker_pool_limit=10,
    )
    return client


class KeptPublisher:
    """`send_task` for the intake's hot path: Celery's own task message, pushed by one kept client.

    Celery's send_task costs about 0.35 ms of CPU per message, most of it kombu's Redis transport
    building a new redis client object and Celery's publish machinery around one LPUSH (0.03
    ms). This writes the very message send_task writes to a Redis broker: the headers, properties
    and body come from the Celery app's own `amqp.as_task_v2` (task protocol 2), wrapped in the
    envelope kombu's Redis transport stores (tests/service/test_queue.py compares the two, so a
    Celery or kombu upgrade that changes either fails there), and LPUSHes it to the task's queue
    (Celery's routes, priority 0) over a redis-py client that keeps its connections and
    reconnects by itself after Redis restarts. Anything else (a countdown, other options) goes
    through Celery's send_task. Raises what redis-py raises when Redis is away
    (core.tasks.BROKER_UNAVAILABLE covers it).
    """

    def __init__(self, app: Celery, settings: Settings) -> None:
        self.app = app
        self.redis_url = settings.redis_client_url
        self.default_queue = settings.queue_name
        self.queues = {name: route["queue"] for name, route in task_routes(settings).items()}
        self._client: redis.Redis | None = None
        self._lock = threading.Lock()

    @property
    def client(self) -> redis.Redis:
        """Built on first use (after gunicorn forks); thread-safe, its pool keeps connections."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = redis.Redis.from_url(
                        self.redis_url,
                        socket_timeout=PUBLISH_TIMEOUT_SECONDS,
                        socket_connect_timeout=PUBLISH_TIMEOUT_SECONDS,
                        # One immediate retry rides out a connection Redis closed meanwhile.
                        retry=Retry(NoBackoff(), 1),
                    )
        return self._client

    def message(self, name: str, args: list[Any], headers: dict[str, str] | None) -> bytes:
        """What Celery's send_task stores in Redis for task `name` with `args` (no countdown)."""
        task_id = str(uuid.uuid4())
        task = self.app.amqp.as_task_v2(task_id, name, args=args, reply_to=self.app.thread_oid)
        body = json.dumps(task.body).encode("utf-8")
        envelope = {
            "body": base64.b64encode(body).decode("ascii"),
            "content-encoding": "utf-8",
            "content-type": "application/json",
            "headers": {**task.headers, **(headers or {})},
            "properties": {
                **task.properties,
                "delivery_mode": 2,
                "delivery_info": {"exchange": "", "routing_key": self.queue_of(name)},
                "priority": 0,
                "body_encoding": "base64",
                "delivery_tag": str(uuid.uuid4()),
            },
        }
        return json.dumps(envelope).encode("utf-8")

    def queue_of(self, name: str) -> str:
        return self.queues.get(name, self.default_queue)

    def send_task(
        self,
        name: str,
        args: list[Any] | None = None,
        countdown: float | None = None,
        headers: dict[str, str] | None = None,
        **options: Any,
    ) -> None:
        if countdown or options:
            self.app.send_task(name, args=args, countdown=countdown, headers=headers, **options)
            return
        self.client.lpush(self.queue_of(name), self.message(name, list(args or []), headers))
