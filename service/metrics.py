"""Prometheus metrics of the web process and the /metrics endpoint.

Under gunicorn with several workers, set PROMETHEUS_MULTIPROC_DIR (prometheus_client reads it) so
every process writes its samples there and /metrics adds them up.
"""

from __future__ import annotations

from flask import Blueprint, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

bp = Blueprint("metrics", __name__)

INTAKE_REQUESTS = Counter(
    "moderation_intake_requests",
    "Intake requests by outcome: accepted, duplicate, edited or rejected_<status>.",
    ["outcome"],
)
INTAKE_SECONDS = Histogram(
    "moderation_intake_seconds",
    "Time to answer an intake request, in seconds.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)


def observe_intake(outcome: str, seconds: float) -> None:
    INTAKE_REQUESTS.labels(outcome=outcome).inc()
    INTAKE_SECONDS.observe(seconds)


def _registry() -> CollectorRegistry:
    """This process's registry, or the sum of all processes' in multiprocess mode."""
    registry = CollectorRegistry()
    try:
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    except ValueError:
        # PROMETHEUS_MULTIPROC_DIR is not set: a single process, its own default registry.
        return REGISTRY
    return registry


@bp.get("/metrics")
def metrics() -> Response:
    return Response(generate_latest(_registry()), mimetype=CONTENT_TYPE_LATEST)
