"""Prometheus metrics of the worker: scoring latency, decisions, callback attempts and failures.

The worker serves no HTTP. Its pool processes write their samples to PROMETHEUS_MULTIPROC_DIR
(prometheus_client's multiprocess mode, read at import) and the API's /metrics adds up every
process that shares that directory: `moderation up` gives the API and the worker the same one.
Without the variable the samples stay in the process (tests read them from REGISTRY).
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

SCORING_SECONDS = Histogram(
    "moderation_scoring_seconds",
    "Time to decide one comment in the worker (load, model, policy, commit), in seconds.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
# No label names a source: /metrics may be read by more people than the admin pages, and a
# source id is what an intake request is addressed to. Per-source delivery health is on the
# admin's deliveries page.
DECISIONS = Counter(
    "moderation_decisions",
    "Decisions made by the model, by outcome (approved, flagged, rejected...).",
    ["outcome"],
)
CALLBACK_ATTEMPTS = Counter(
    "moderation_callback_attempts",
    "Callback POSTs to the sources' CMSs.",
)
CALLBACK_FAILURES = Counter(
    "moderation_callback_failures",
    "Callback POSTs that failed, by reason (http_<status> or network).",
    ["reason"],
)


def observe_scoring(seconds: float) -> None:
    SCORING_SECONDS.observe(seconds)


def observe_decision(outcome: str) -> None:
    DECISIONS.labels(outcome=outcome).inc()


def observe_callback(status_code: int | None, failed: bool) -> None:
    """Count one attempt and, when it failed, why: the HTTP status, or the network."""
    CALLBACK_ATTEMPTS.inc()
    if failed:
        reason = f"http_{status_code}" if status_code is not None else "network"
        CALLBACK_FAILURES.labels(reason=reason).inc()
