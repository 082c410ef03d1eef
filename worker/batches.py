"""Scoring in batches: celery-batches' Batches, acknowledging exactly as our one-comment task does.

The intake still publishes one `worker.score_comment` message per comment. The worker's main
process buffers those messages and hands a pool process up to SCORE_BATCH_SIZE of them at once,
or whatever has arrived when SCORE_BATCH_WAIT_MS have passed (celery-batches' flush_every and
flush_interval). celery-batches acknowledges a late-acknowledged batch once its task returned; a
pool process that dies mid-batch (kill -9, out of memory) gets no answer from it, and its messages
would stay reserved, unacknowledged, until the worker stops (and the prefetch window they hold
would stay shut). Here they are given back to the queue instead, as Celery's
`reject_on_worker_lost` does for a single task: their comments are decided by the next batch,
once (the claim skips any a batch had committed before it died).
"""

from __future__ import annotations

from collections.abc import Collection
from time import monotonic
from typing import Any

import structlog
from billiard.exceptions import WorkerLostError
from celery.app.trace import LOG_SUCCESS
from celery.app.trace import info as log_task_info
from celery.worker.request import Request
from celery_batches import Batches, SimpleRequest
from celery_batches.trace import apply_batches_task

log = structlog.stdlib.get_logger(__name__)


class ScoringBatches(Batches):  # type: ignore[misc]  # celery-batches ships no type hints
    """Batches whose messages are acknowledged after the batch ran, and given back to the queue
    when the pool process running it was lost."""

    def flush(self, requests: Collection[Request]) -> Any:
        batch = list(requests)
        started = monotonic()

        def on_return(_: Any) -> None:
            # After the task body returned: its decisions are committed (or, on a failure it
            # could not retry, left pending for the sweeper), as for a late-acked single task.
            runtime = monotonic() - started
            for request in batch:
                request.acknowledge()
                # Celery's own line for each message, as the one-comment task logs it.
                log_task_info(
                    LOG_SUCCESS,
                    {
                        "id": request.id,
                        "name": request.name,
                        "return_value": None,
                        "runtime": runtime,
                        "args": request.argsrepr,
                        "kwargs": request.kwargsrepr,
                    },
                )

        def on_error(exc_info: Any) -> None:
            exception = getattr(exc_info, "exception", exc_info)
            # billiard wraps what it raised to carry the traceback (Celery unwraps it too).
            exception = getattr(exception, "exc", exception)
            if isinstance(exception, WorkerLostError):
                log.warning("score batch: pool process lost; messages requeued", size=len(batch))
                for request in batch:
                    request.reject(requeue=True)
            else:
                for request in batch:
                    request.acknowledge()

        return self._pool.apply_async(
            apply_batches_task,
            (self, ([SimpleRequest.from_request(r) for r in batch],), 0, None),
            callback=on_return,
            error_callback=on_error,
        )
