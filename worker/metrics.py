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
DECISIONS = Counter(
    "moderation_decisions",
    "Decisions made by the model, by outcome (approved, flagged, rejected...) and source id.",
    ["outcome", "source"],
)
CALLBACK_ATTEMPTS = Counter(
    "moderation_callback_attempts",
    "Callback POSTs to a source's CMS, by source id.",
    ["source"],
)
CALLBACK_FAILURES = Counter(
    "moderation_callback_failures",
    "Callback POSTs that failed, by source id and reason (http_<status> or network).",
    ["source", "reason"],
)


def observe_scoring(seconds: float) -> None:
    SCORING_SECONDS.observe(seconds)


def observe_decision(outcome: str, source_id: str) -> None:
    DECISIONS.labels(outcome=outcome, source=source_id).inc()


def observe_callback(source_id: str, status_code: int | None, failed: bool) -> None:
    """Count one attempt and, when it failed, why: the HTTP status, or the network."""
    CALLBACK_ATTEMPTS.labels(source=source_id).inc()
    if failed:
        reason = f"http_{status_code}" if status_code is not None else "network"
        CALLBACK_FAILURES.labels(source=source_id, reason=reason).inc()
