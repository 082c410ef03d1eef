"""Rate limit on the intake, per source: one noisy or compromised CMS cannot starve the others.

Counted in Redis (shared by every API process) with Flask-Limiter. A Redis outage must not
refuse comments the database can still store, so storage errors are swallowed and each process
falls back to counting in memory until Redis answers again.
"""

from __future__ import annotations

import math
import time
from typing import Any, cast

from flask import Flask, Response, request
from flask_limiter import Limiter, RateLimitExceeded, RequestLimit

from core.settings import Settings
from service.errors import ApiError, problem_response

INTAKE_ENDPOINT = "intake.post_comment"
KEY_PREFIX = "moderation:ratelimit"
# Redis is asked on every intake request: a dead one must cost milliseconds, not seconds.
STORAGE_TIMEOUT_SECONDS = 0.5


class TooManyRequests(ApiError):
    status, title, type = 429, "Too Many Requests", "/problems/rate-limited"


def source_key() -> str:
    """The source named in the path: each CMS has its own budget."""
    source_id = (request.view_args or {}).get("source_id")
    return f"source:{source_id}" if source_id else "source:none"


def storage_uri(settings: Settings) -> str:
    """The Redis URL in the `limits` package's notation (it names unix sockets redis+unix)."""
    url = settings.redis_client_url
    if url.startswith("unix://"):
        return "redis+unix://" + url[len("unix://") :]
    return url


def _refuse(limit: RequestLimit) -> Response:
    retry_after = max(1, math.ceil(limit.reset_at - time.time()))
    return problem_response(
        TooManyRequests(
            f"more than {limit.limit} intake requests from this source; retry later",
            headers={"Retry-After": str(retry_after)},
        )
    )


def init_limits(app: Flask) -> Limiter:
    """Limit the intake view per source; declare the 429 in its OpenAPI operation."""
    settings: Settings = app.config["MODERATION_SETTINGS"]
    limiter = Limiter(
        source_key,
        app=app,
        storage_uri=storage_uri(settings),
        # Typed str | int by Flask-Limiter, but redis-py takes its timeouts in float seconds.
        storage_options=cast(
            dict[str, Any],
            {
                "socket_connect_timeout": STORAGE_TIMEOUT_SECONDS,
                "socket_timeout": STORAGE_TIMEOUT_SECONDS,
            },
        ),
        # One INCR per request (a moving window keeps a list per source and costs more).
        strategy="fixed-window",
        key_prefix=KEY_PREFIX,
        swallow_errors=True,
        in_memory_fallback=[settings.intake_rate_limit],
        in_memory_fallback_enabled=True,
    )
    # The breach callback built the problem+json 429; the generic HTTP error handler must not
    # replace it with a bare one.
    app.register_error_handler(RateLimitExceeded, lambda error: error.get_response())
    view = app.view_functions[INTAKE_ENDPOINT]
    limited = limiter.limit(settings.intake_rate_limit, key_func=source_key, on_breach=_refuse)
    # Flask-Limiter types its decorator as possibly returning a coroutine function; ours is sync.
    app.view_functions[INTAKE_ENDPOINT] = limited(view)  # type: ignore[assignment]
    meta: dict[str, Any] | None = getattr(view, "__openapi__", None)
    if meta is not None:
        meta["responses"].setdefault(429, "problem")
    return limiter
