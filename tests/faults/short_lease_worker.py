"""`celery -A tests.faults.short_lease_worker`: the fast-retry worker with a 4 s claim lease.

A batch's claims outlive a killed worker by their lease (60 s in production); with 4 s, and
attempts of at most 1 s, a test sees the sweeper send them again within seconds.
"""

from __future__ import annotations

from datetime import timedelta

import core.deliveries
import worker.delivery
from tests.faults.fast_retry_worker import celery

core.deliveries.CLAIM_LEASE = timedelta(seconds=4)
worker.delivery.TOTAL_TIMEOUT_SECONDS = 1.0
worker.delivery.CONNECT_TIMEOUT_SECONDS = 1.0
worker.delivery.LEASE_MARGIN_SECONDS = 0.5

__all__ = ["celery"]
