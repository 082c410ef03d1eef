"""The tasks the web process, the worker and the CLI queue: names, routes and the one way to send.

Names are the contract between the web process (which sends by name, so it never imports the
worker or scikit-learn) and the worker's registry. Every send happens after the commit that
wrote its outbox row (the pending comment or the pending event): a broker that is away only
delays the task, because the sweeper queues whatever is still pending.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import structlog
from kombu.exceptions import KombuError
from redis.exceptions import RedisError

from core.logging import request_id_headers
from core.settings import Settings

SCORE_COMMENT = "worker.score_comment"
DELIVER_EVENT = "worker.deliver_event"
# Batched delivery (DELIVERY_BATCH_SIZE > 0): the due events of one source, by source id.
DELIVER_DUE = "worker.deliver_due"
SWEEP = "worker.sweep"

# What a broker that is down or unreachable raises from send_task (kombu wraps most of them).
BROKER_UNAVAILABLE = (KombuError, RedisError, OSError)

# The log field naming each task's argument.
_ID_FIELD = {SCORE_COMMENT: "comment_id", DELIVER_EVENT: "event_id", DELIVER_DUE: "source_id"}

log = structlog.stdlib.get_logger(__name__)


class TaskSender(Protocol):
    """What queueing needs of a Celery app (core never imports Celery itself)."""

    def send_task(self, name: str, *args: Any, **kwargs: Any) -> Any: ...


def task_routes(settings: Settings) -> dict[str, dict[str, str]]:
    """Celery task_routes: callbacks wait in their own queue, so they never hold up scoring."""
    deliveries = {"queue": settings.delivery_queue_name}
    return {DELIVER_EVENT: deliveries, DELIVER_DUE: dict(deliveries)}


def queue_task(
    sender: TaskSender,
    name: str,
    object_id: str,
    *,
    countdown: float | None = None,
    retries: int | None = None,
    headers: Mapping[str, str] | None = None,
) -> bool:
    """Queue task `name` for one id, after the commit; False (logged) when the broker is away.

    The outbox row stays pending then, and the sweeper queues it once the broker is back. The
    current request id (or `headers`' one) travels in the message headers, so the worker logs
    under it. `retries`: how many times this task was tried already (a batch's own retry).
    """
    started = time.perf_counter()
    options: dict[str, Any] = {"retries": retries} if retries is not None else {}
    try:
        sender.send_task(
            name,
            args=[object_id],
            countdown=countdown or None,
            headers=dict(headers) if headers is not None else request_id_headers(),
            **options,
        )
    except BROKER_UNAVAILABLE as exc:
        log.warning(
            "task not queued: broker unavailable; the sweeper will queue it",
            task=name,
            error=type(exc).__name__,
            seconds=round(time.perf_counter() - started, 3),
            **{_ID_FIELD.get(name, "id"): object_id},
        )
        return False
    return True


def queue_tasks(
    sender: TaskSender,
    name: str,
    object_ids: Sequence[str],
    *,
    headers: Sequence[Mapping[str, str]] | None = None,
) -> int:
    """queue_task for each id in turn (a batch's events), with each one's own headers; stops at
    the first the broker refuses, since the rest would only wait for it too (their outbox rows
    stay pending for the sweeper). How many were queued."""
    for queued, object_id in enumerate(object_ids):
        own = headers[queued] if headers is not None else None
        if not queue_task(sender, name, object_id, headers=own):
            return queued
    return len(object_ids)
