"""Queue tasks by name, so the web process never imports the worker or scikit-learn."""

from __future__ import annotations

from celery import Celery

from core.settings import Settings
from core.tasks import task_routes


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
