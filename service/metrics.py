"""Prometheus metrics of the web process and the /metrics endpoint.

Under gunicorn with several workers, set PROMETHEUS_MULTIPROC_DIR (prometheus_client reads it) so
every process writes its samples there and /metrics adds them up. Worker processes given the
same directory (worker/metrics.py: scoring latency, decisions, callbacks) are added up with them;
the queue depth is read from Redis and the models' states from the registry and the workers'
heartbeats at scrape time. With METRICS_TOKEN set, /metrics answers only
a scraper that sends it as a bearer token. No label carries a source's id (it is what an intake
request is addressed to); the drift gauges name a source by its name.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Iterator

import structlog
from flask import Blueprint, Response, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, SummaryMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from core.db import session_scope
from core.drift import SourceDrift, check_drift
from core.registry import list_models
from core.settings import Settings
from core.shadow import agreement_ratios
from core.sources import list_sources
from service import web
from service.errors import Unauthorized
from service.openapi import documented

bp = Blueprint("metrics", __name__)
log = structlog.stdlib.get_logger(__name__)

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


class QueueDepthCollector(Collector):
    """moderation_queue_depth: scoring and delivery tasks waiting in Redis (LLEN at scrape time)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def collect(self) -> Iterator[GaugeMetricFamily]:
        queues = (self.settings.queue_name, self.settings.delivery_queue_name)
        try:
            client = web.redis_client(self.settings)
            depths = [(queue, client.llen(queue)) for queue in queues]
        except (RedisError, OSError) as exc:
            # No sample rather than a wrong one; the scrape itself still succeeds.
            log.warning("queue depth unavailable", error=type(exc).__name__)
            return
        gauge = GaugeMetricFamily(
            "moderation_queue_depth",
            "Tasks waiting in the Celery queue (Redis LLEN at scrape time).",
            labels=["queue"],
        )
        for queue, depth in depths:
            gauge.add_metric([queue], float(depth))
        yield gauge


class ModelInfoCollector(Collector):
    """moderation_model_info{version,state}: the registry's models by state (1 each), and the
    worker processes scoring with a version (state "serving") or refusing the live one
    (state "load_failed"), from their heartbeats; moderation_shadow_agreement_ratio{version}
    for the model in shadow. Read at scrape time."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from service.workers import worker_heartbeats

        gauge = GaugeMetricFamily(
            "moderation_model_info",
            "Models by state: registry states are 1 per model; serving and load_failed count "
            "the worker processes scoring with a version or refusing to load it.",
            labels=["version", "state"],
        )
        agreement = GaugeMetricFamily(
            "moderation_shadow_agreement_ratio",
            "Share of the shadow model's would-be decisions equal to the live decisions, since "
            "it went into shadow.",
            labels=["version"],
        )
        try:
            with session_scope(self.settings) as session:
                for model in list_models(session):
                    gauge.add_metric([model.version, model.state], 1.0)
                for version, ratio in agreement_ratios(session).items():
                    agreement.add_metric([version], ratio)
        except SQLAlchemyError as exc:
            log.warning("model registry unavailable", error=type(exc).__name__)
        try:
            beats = worker_heartbeats(web.redis_client(self.settings))
        except (RedisError, OSError) as exc:
            log.warning("worker heartbeats unavailable", error=type(exc).__name__)
            beats = []
        counts: dict[tuple[str, str], int] = {}
        for beat in beats:
            key = (str(beat["model_version"]), "serving")
            counts[key] = counts.get(key, 0) + 1
            error = beat.get("model_error")
            if isinstance(error, dict) and error.get("version"):
                key = (str(error["version"]), "load_failed")
                counts[key] = counts.get(key, 0) + 1
        for (version, state), count in sorted(counts.items()):
            gauge.add_metric([version, state], float(count))
        yield gauge
        yield agreement


# Drift is computed from the database at most this often per process (and logged then).
DRIFT_REFRESH_SECONDS = 300.0


class DriftCollector(Collector):
    """moderation_score_psi{source,label}, moderation_override_ratio{source} and
    moderation_drift_alert{source,signal} (core.drift), by source name, refreshed every
    DRIFT_REFRESH_SECONDS; a label or source without enough history has no sample."""

    _cached: tuple[float, str, list[SourceDrift]] | None = None

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def _drifts(self) -> list[SourceDrift]:
        now = time.monotonic()
        cached = DriftCollector._cached
        if cached is not None and cached[1] == self.settings.sqlalchemy_url:
            if now - cached[0] < DRIFT_REFRESH_SECONDS:
                return cached[2]
        with session_scope(self.settings) as session:
            drifts = [check_drift(session, source) for source in list_sources(session)]
        DriftCollector._cached = (now, self.settings.sqlalchemy_url, drifts)
        return drifts

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            drifts = self._drifts()
        except SQLAlchemyError as exc:
            log.warning("drift unavailable", error=type(exc).__name__)
            return
        psi = GaugeMetricFamily(
            "moderation_score_psi",
            "Population stability index of a label's scores, last 7 days against the source's "
            "first 30 days (alert above 0.2).",
            labels=["source", "label"],
        )
        overrides = GaugeMetricFamily(
            "moderation_override_ratio",
            "Share of the last 24 hours' model decisions a moderator overruled.",
            labels=["source"],
        )
        alerts = GaugeMetricFamily(
            "moderation_drift_alert",
            "1 when a drift signal (psi_<label> or override) is in alert.",
            labels=["source", "signal"],
        )
        for drift in drifts:
            for label in drift.labels:
                if label.psi is not None:
                    psi.add_metric([drift.source_name, label.label], label.psi)
                    alerts.add_metric([drift.source_name, f"psi_{label.label}"], float(label.alert))
            if drift.overrides.ratio is not None:
                overrides.add_metric([drift.source_name], drift.overrides.ratio)
                alerts.add_metric([drift.source_name, "override"], float(drift.overrides.alert))
        yield from (psi, overrides, alerts)


class AppealsCollector(Collector):
    """moderation_appeals{state} and moderation_appeal_resolution_seconds (sum and count over
    the resolved appeals), from the database at scrape time."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def collect(self) -> Iterator[GaugeMetricFamily | SummaryMetricFamily]:
        from core.appeals import appeal_stats

        try:
            with session_scope(self.settings) as session:
                stats = appeal_stats(session)
        except SQLAlchemyError as exc:
            log.warning("appeals unavailable", error=type(exc).__name__)
            return
        counts = GaugeMetricFamily(
            "moderation_appeals", "Authors' appeals of rejections, by state.", labels=["state"]
        )
        for state, count in stats.counts.items():
            counts.add_metric([state], float(count))
        yield counts
        yield SummaryMetricFamily(
            "moderation_appeal_resolution_seconds",
            "Time from an appeal's receipt to its resolution, over the resolved appeals.",
            count_value=stats.resolved,
            sum_value=stats.resolution_seconds,
        )


def _check_token(expected: str) -> None:
    scheme, _, token = (request.headers.get("Authorization") or "").partition(" ")
    given = token.strip() if scheme.lower() == "bearer" else ""
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise Unauthorized(
            "send METRICS_TOKEN as Authorization: Bearer <token>",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )


@bp.get("/metrics")
@documented(
    summary="Prometheus metrics (a bearer token is required when METRICS_TOKEN is set)",
    tags=["operations"],
    responses={200: "text/plain", 401: "problem"},
    security=["metricsToken"],
)
def metrics() -> Response:
    settings = web.settings()
    if settings.metrics_token:
        _check_token(settings.metrics_token)
    scrape_time = CollectorRegistry()
    scrape_time.register(QueueDepthCollector(settings))
    scrape_time.register(ModelInfoCollector(settings))
    scrape_time.register(AppealsCollector(settings))
    scrape_time.register(DriftCollector(settings))
    body = generate_latest(_registry()) + generate_latest(scrape_time)
    return Response(body, mimetype=CONTENT_TYPE_LATEST)
