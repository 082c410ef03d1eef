"""The Celery application: one factory from settings, and the module-level app for `celery -A`."""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery
from celery.signals import worker_process_init, worker_process_shutdown

from core.settings import Settings, get_settings
from worker import SWEEP

log = logging.getLogger(__name__)


def create_celery(settings: Settings) -> Celery:
    """A Celery app for these settings; building it connects nowhere."""
    app = Celery(
        "moderation",
        broker=settings.broker_url,
        include=["worker.tasks", "worker.delivery"],
    )
    app.conf.update(
        task_default_queue=settings.queue_name,
        task_ignore_result=True,
        # A message is acknowledged only after its task ran, and given back if the process
        # running it dies: with idempotent tasks a crash repeats work instead of losing it.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_serializer="json",
        accept_content=["json"],
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        beat_schedule={
            "sweep": {
                "task": SWEEP,
                "schedule": settings.sweep_interval_seconds,
                # A sweep not run by the time the next one is due is worthless.
                "options": {
                    "queue": settings.queue_name,
                    "expires": settings.sweep_interval_seconds,
                },
            }
        },
    )
    return app


@worker_process_init.connect
def load_model_in_child(**_: Any) -> None:
    """A prefork child loads the model as it starts, so the first comment is not slow."""
    from worker.clients import get_redis
    from worker.heartbeat import ensure_heartbeat
    from worker.scorer import get_scorer

    settings = get_settings()
    try:
        scorer = get_scorer(settings)
        ensure_heartbeat(get_redis(settings), scorer.version)
    except Exception:  # noqa: BLE001 - logged; tasks try again lazily and the sweeper catches up
        log.exception("worker: could not load the model at start")


@worker_process_shutdown.connect
def stop_heartbeat_in_child(**_: Any) -> None:
    from worker.heartbeat import stop_heartbeat

    stop_heartbeat()


celery = create_celery(get_settings())
