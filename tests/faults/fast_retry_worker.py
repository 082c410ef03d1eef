"""`celery -A tests.faults.fast_retry_worker`: the word-list worker with callback waits in seconds.

The production schedule waits 5 s, then 5 min, and parks a failing source for 30 s and more;
the same code with these waits lets a test watch retries and the breaker within seconds.
"""

from __future__ import annotations

from datetime import timedelta

import core.deliveries
import worker.sweeper
from tests.integration.wordlist_worker import celery

core.deliveries.RETRY_DELAYS = tuple(
    timedelta(seconds=s) for s in (1, 1, 2, 2, 3, 3, 4)[: len(core.deliveries.RETRY_DELAYS)]
)
core.deliveries.BREAKER_COOLDOWNS = tuple(
    timedelta(seconds=1) for _ in core.deliveries.BREAKER_COOLDOWNS
)
worker.sweeper.EVENT_GRACE = timedelta(milliseconds=500)

__all__ = ["celery"]
