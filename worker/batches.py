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

While every pool process has a batch, a timer flush waits (up to MAX_HOLD_SECONDS): the
messages that arrive meanwhile join the next batch instead of queueing behind as batches of one
or two, so batches grow with the load and a busy worker pays the per-batch costs less often. A
full batch (SCORE_BATCH_SIZE messages) is handed over at once, as celery-batches does.
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

# Longest a timer flush waits for a busy pool: a batch whose answer never came (it should
# always come) cannot stall scoring for longer.
MAX_HOLD_SECONDS = 1.0


class ScoringBatches(Batches):  # type: ignore[misc]  # celery-batches ships no type hints
    """Batches whose messages are acknowledged after the batch ran, and given back to the queue
    when the pool process running it was lost."""

    # Batches handed to the pool and not answered yet, and since when a timer flush waits.
    _in_flight = 0
    _holding_since: float | None = None

    def _do_flush(self) -> None:
        if self._buffer.qsize() < self.flush_every and self._pool_is_busy():
            now = monotonic()
            if self._holding_since is None:
                self._holding_since = now
            if now - self._holding_since < MAX_HOLD_SECONDS:
                return
        self._holding_since = None
        super()._do_flush()

    def _pool_is_busy(self) -> bool:
        try:
            processes = int(self._pool.num_processes)
        except (AttributeError, TypeError):
            return False
        return self._in_flight >= max(1, processes)

    def flush(self, requests: Collection[Request]) -> Any:
        batch = list(requests)
        started = monotonic()
        self._in_flight += 1

        def on_return(_: Any) -> None:
            self._in_flight -= 1
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
            self._in_flight -= 1
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
