"""`celery -A tests.faults.paused_batch_worker`: the word-list worker whose first batch pauses.

FAULT_PAUSE_AT=scoring pauses inside the model call (nothing of the batch committed yet),
FAULT_PAUSE_AT=after_commit between the batch's commit and the queueing of its deliveries (so
before its messages are acknowledged). The first pool process to get there creates the file
FAULT_PAUSE_FILE and sleeps FAULT_PAUSE_SECONDS: a test kills the worker meanwhile, knowing a
batch is in flight. Later batches, in any process, run at once.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import worker.tasks
from tests.integration.wordlist_worker import celery
from tests.wordlist_scorer import WordListScorer
from worker.scorer import use_scorer


def pause_once(stage: str) -> None:
    """Sleep here if this is the configured stage and no process has paused yet."""
    if os.environ.get("FAULT_PAUSE_AT") != stage:
        return
    marker = Path(os.environ["FAULT_PAUSE_FILE"])
    try:
        with marker.open("x") as handle:
            handle.write(str(os.getpid()))
    except FileExistsError:
        return
    time.sleep(float(os.environ.get("FAULT_PAUSE_SECONDS", "30")))


class PausingScorer(WordListScorer):
    def predict_proba(self, texts: Sequence[str]) -> list[list[float]]:
        pause_once("scoring")
        return super().predict_proba(texts)


# How a batch queues its deliveries: per source (DELIVERY_BATCH_SIZE > 0) or per event.
_queue_delivery = worker.tasks.queue_delivery
_queue_tasks = worker.tasks.queue_tasks


def queue_delivery_after_a_pause(*args: Any, **kwargs: Any) -> bool:
    pause_once("after_commit")
    return _queue_delivery(*args, **kwargs)


def queue_tasks_after_a_pause(*args: Any, **kwargs: Any) -> int:
    pause_once("after_commit")
    return _queue_tasks(*args, **kwargs)


use_scorer(PausingScorer())
worker.tasks.queue_delivery = queue_delivery_after_a_pause
worker.tasks.queue_tasks = queue_tasks_after_a_pause

__all__ = ["celery"]
