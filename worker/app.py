"""The Celery application: one factory from settings, and the module-level app for `celery -A`."""

from __future__ import annotations

from typing import Any

import structlog
from celery import Celery, Task
from celery.signals import (
    setup_logging,
    task_postrun,
    task_prerun,
    worker_init,
    worker_process_init,
    worker_process_shutdown,
    worker_shutdown,
)

from core.logging import (
    REQUEST_ID_HEADER,
    bind_request_id,
    clear_log_context,
    configure_logging,
    request_id_of_task,
)
from core.settings import Settings, get_settings
from core.tasks import SWEEP, task_routes
from worker.clients import get_redis
from worker.delivery import close_http_clients
from worker.follower import stop_follower
from worker.heartbeat import ensure_heartbeat, stop_heartbeat
from worker.scorer import get_scorer

log = structlog.stdlib.get_logger(__name__)

# Longest a new pool process may take to load the model and start.
MODEL_LOAD_TIMEOUT_SECONDS = 300.0


def create_celery(settings: Settings) -> Celery:
    """A Celery app for these settings; building it connects nowhere."""
    app = Celery(
        "moderation",
        broker=settings.broker_url,
        include=["worker.tasks", "worker.delivery"],
    )
    app.conf.update(
        task_default_queue=settings.queue_name,
        task_routes=task_routes(settings),
        task_ignore_result=True,
        # A message is acknowledged only after its task ran, and given back if the process
        # running it dies: with idempotent tasks a crash repeats work instead of losing it.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        # One message per pool process in flight, or one batch per pool process when scoring in
        # batches (the main process buffers that many for celery-batches to hand over).
        worker_prefetch_multiplier=settings.score_batch_size,
        # A pool process loads the model before it reports "up" (seconds on a busy machine);
        # Celery's 4 s default would kill every replacement process in a loop.
        worker_proc_alive_timeout=MODEL_LOAD_TIMEOUT_SECONDS,
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
    register_scoring(app, settings)
    return app


def register_scoring(app: Celery, settings: Settings) -> None:
    """The scoring task under its contract name: batched (worker.batches) unless
    SCORE_BATCH_SIZE is 1, which scores each comment in its own task."""
    from worker import tasks

    if settings.score_batch_size > 1:
        app.task(shared=False, **tasks.batch_options(settings))(tasks.score_comments)
    else:
        app.task(shared=False, **tasks.ONE_COMMENT_OPTIONS)(tasks.score_comment)


@setup_logging.connect
def use_our_logging(**_: Any) -> None:
    """Structured logs like the web process (connecting this stops Celery configuring its own)."""
    configure_logging(get_settings())


@task_prerun.connect
def bind_task_request_id(task: Task | None = None, **_: Any) -> None:
    """Log a task under the request id the web process queued it with (one id per comment path)."""
    clear_log_context()
    request = getattr(task, "request", None)
    headers = dict(getattr(request, "headers", None) or {})
    if request is not None and getattr(request, REQUEST_ID_HEADER, None):
        headers[REQUEST_ID_HEADER] = getattr(request, REQUEST_ID_HEADER)
    bind_request_id(request_id_of_task(headers))


@task_postrun.connect
def unbind_task_request_id(**_: Any) -> None:
    clear_log_context()


def consumes_scoring_queue(worker: Any) -> bool:
    """Whether this Celery worker takes the scoring queue (a deliverer takes only callbacks)."""
    consumed = getattr(getattr(worker, "app", None), "amqp", None)
    queues = getattr(getattr(consumed, "queues", None), "consume_from", None)
    return queues is None or get_settings().queue_name in queues


@worker_init.connect
def seed_model_registry(sender: Any = None, **_: Any) -> None:
    """Register the configured model as live before the pool forks, if the registry is empty,
    so the children do not all race to do it (on SQLite some would lose, and wait a check).
    A deliverer leaves that to the scoring workers: it never reads the model."""
    from worker.follower import seed_registry

    if consumes_scoring_queue(sender):
        seed_registry(get_settings())


@worker_process_init.connect
def load_model_in_child(**_: Any) -> None:
    """A prefork child loads the model as it starts, so the first comment is not slow."""
    settings = get_settings()
    try:
        scorer = get_scorer(settings)
        ensure_heartbeat(get_redis(settings), scorer.version)
    except Exception:  # noqa: BLE001 - logged; tasks try again lazily and the sweeper catches up
        log.exception("worker: could not load the model at start")


@worker_process_shutdown.connect
def stop_heartbeat_in_child(**_: Any) -> None:
    stop_follower()
    stop_heartbeat()
    close_http_clients()


@worker_shutdown.connect
def close_connections_at_shutdown(**_: Any) -> None:
    """The threads pool (the deliverer) has no child processes: its connections close here."""
    close_http_clients()


celery = create_celery(get_settings())
