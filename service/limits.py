"""Rate limits, counted in Redis (shared by every API process) with Flask-Limiter.

- The intake, per source: one noisy or compromised CMS cannot starve the others. Only requests
  whose signature verified count against a source, so nobody can spend a source's budget
  without its secret. Counted by the view itself once the signature verified (SourceLimit: one
  Redis round trip, not Flask-Limiter's test before and hit after the view).
- The intake's refused requests (unknown source, bad or missing signature, replay), per client
  address: probing is slowed down, and the source's own comments still pass.
- Failed sign-ins, per client address and e-mail.

A Redis outage must not refuse comments the database can still store, so storage errors are
swallowed and each process falls back to counting in memory until Redis answers again.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from typing import Any, cast

import structlog
from flask import Flask, Response, current_app, flash, g, render_template, request
from flask_limiter import Limit, Limiter, RateLimitExceeded, RequestLimit
from limits import RateLimitItem, parse
from limits.errors import StorageError
from limits.storage import MemoryStorage, Storage
from limits.strategies import FixedWindowRateLimiter
from redis.exceptions import RedisError

from core.settings import Settings
from service import web
from service.errors import ApiError

log = structlog.stdlib.get_logger(__name__)

INTAKE_ENDPOINT = "intake.post_comment"
LOGIN_ENDPOINT = "auth.login"


def key_prefix(settings: Settings) -> str:
    """Redis keys of the limits, under the deployment's queue name ("moderation:ratelimit" by
    default), so services (and test runs) sharing one Redis do not count each other's requests."""
    return f"{settings.queue_name}:ratelimit"


EXTENSION = "moderation_limiter"
# Redis is asked on every intake request: a dead one must cost milliseconds, not seconds.
STORAGE_TIMEOUT_SECONDS = 0.5
# Failed sign-ins allowed per client address and e-mail before the form answers 429.
FAILED_LOGIN_LIMIT = "10/minute"
# Set by the intake once a request's signature verified (and it is no replay).
SIGNATURE_VERIFIED = "intake_signature_verified"


class TooManyRequests(ApiError):
    status, title, type = 429, "Too Many Requests", "/problems/rate-limited"


def mark_signature_verified() -> None:
    """From here on the request counts against its source, not against its address."""
    setattr(g, SIGNATURE_VERIFIED, True)


def signature_verified() -> bool:
    return bool(g.get(SIGNATURE_VERIFIED, False))


def source_key() -> str:
    """The source named in the path: each CMS has its own budget."""
    source_id = (request.view_args or {}).get("source_id")
    return f"source:{source_id}" if source_id else "source:none"


def address_key() -> str:
    return f"address:{request.remote_addr or 'unknown'}"


def login_key() -> str:
    """Client address and e-mail; the address is hashed so no e-mail lands in Redis or a log."""
    email = (request.form.get("email") or "").strip().lower()
    digest = hashlib.sha256(email.encode("utf-8", "replace")).hexdigest()[:24]
    return f"login:{request.remote_addr or 'unknown'}:{digest}"


def storage_uri(settings: Settings) -> str:
    """The Redis URL in the `limits` package's notation (it names unix sockets redis+unix)."""
    url = settings.redis_client_url
    if url.startswith("unix://"):
        return "redis+unix://" + url[len("unix://") :]
    return url


def _retry_after(limit: RequestLimit) -> str:
    return str(max(1, math.ceil(limit.reset_at - time.time())))


# After Redis failed a count, each process counts in memory for this long before trying again.
REDIS_RETRY_SECONDS = 5.0


class SourceLimit:
    """The intake's limit per source: one fixed-window INCR in Redis per signed request.

    The same keys Flask-Limiter would use, in the storage it opened. While Redis is away the
    process counts in its own memory and asks Redis again after REDIS_RETRY_SECONDS, so a dead
    Redis neither refuses comments nor costs each request a connection attempt.
    """

    def __init__(self, settings: Settings, storage: Storage) -> None:
        self.item: RateLimitItem = parse(settings.intake_rate_limit)
        self.prefix = key_prefix(settings)
        self.shared = FixedWindowRateLimiter(storage)
        self.local = FixedWindowRateLimiter(MemoryStorage())
        self.shared_again_at = 0.0

    def hit(self, source_id: str) -> TooManyRequests | None:
        """Count one signed request of the source; the 429 once it is over its limit."""
        keys = (self.prefix, f"source:{source_id}", INTAKE_ENDPOINT)
        strategy = self.local if time.monotonic() < self.shared_again_at else self.shared
        try:
            allowed = strategy.hit(self.item, *keys)
            if allowed:
                return None
            reset_at = strategy.get_window_stats(self.item, *keys).reset_time
        except (RedisError, OSError, StorageError) as exc:
            log.warning(
                "rate limit storage unavailable; counting in memory", error=type(exc).__name__
            )
            self.shared_again_at = time.monotonic() + REDIS_RETRY_SECONDS
            if self.local.hit(self.item, *keys):
                return None
            reset_at = self.local.get_window_stats(self.item, *keys).reset_time
        return TooManyRequests(
            f"more than {self.item} intake requests from this source; retry later",
            headers={"Retry-After": str(max(1, math.ceil(reset_at - time.time())))},
        )


SOURCE_LIMIT = "moderation_source_limit"


def count_source_request(source_id: str) -> TooManyRequests | None:
    """Count a signed intake request against its source (call once its signature verified)."""
    source_limit: SourceLimit = current_app.extensions[SOURCE_LIMIT]
    return source_limit.hit(source_id)


def _refuse_login(limit: RequestLimit) -> Response:
    # Imported here: the form belongs to the sign-in views, which import nothing of this module.
    from service.auth import LoginForm

    log.warning("sign-in throttled")
    flash("Too many failed sign-ins. Wait a minute and try again.", "error")
    response = Response(render_template("login.html", form=LoginForm()), status=429)
    response.headers["Retry-After"] = _retry_after(limit)
    return response


def _only(endpoint: str) -> Callable[[], bool]:
    """exempt_when for a limit of one view (default and fallback limits apply to every view)."""
    return lambda: request.endpoint != endpoint


def _limits(settings: Settings) -> list[Limit]:
    return [
        Limit(
            FAILED_LOGIN_LIMIT,
            key_function=login_key,
            methods=["POST"],
            exempt_when=_only(LOGIN_ENDPOINT),
            deduct_when=lambda response: response.status_code == 401,
            on_breach=_refuse_login,
        ),
    ]


def count_refused_intake() -> TooManyRequests | None:
    """Count a refused intake request against its client address; the 429 once over the limit.

    Counted only once a request is refused, never before: a valid comment sent from the same
    address (a shared proxy, say) is not held back by someone else's bad requests.
    """
    limiter: Limiter = current_app.extensions[EXTENSION]
    settings = web.settings()
    item = parse(settings.intake_refused_rate_limit)
    keys = (key_prefix(settings), address_key(), INTAKE_ENDPOINT)
    try:
        # The strategy over Redis, or over memory while Flask-Limiter has Redis marked dead.
        strategy = limiter.limiter
        if strategy.hit(item, *keys):
            return None
        reset_at = strategy.get_window_stats(item, *keys).reset_time
    except (RedisError, OSError, StorageError) as exc:
        # The request is refused anyway; it only goes uncounted.
        log.warning("refused intake request not counted", error=type(exc).__name__)
        return None
    return TooManyRequests(
        f"more than {item} refused intake requests from this address; retry later",
        headers={"Retry-After": str(max(1, math.ceil(reset_at - time.time())))},
    )


def init_limits(app: Flask) -> Limiter:
    """Limit the intake and the sign-in form; declare the intake's 429 in its OpenAPI operation."""
    settings: Settings = app.config["MODERATION_SETTINGS"]
    limits = _limits(settings)
    limiter = Limiter(
        source_key,
        app=app,
        # Default limits rather than decorators, each exempt outside its own view: the very same
        # limits then count while Redis is away, and a request that finds Redis dead midway
        # is not counted twice.
        default_limits=list[str | Callable[[], str] | Limit](limits),
        storage_uri=storage_uri(settings),
        # Typed str | int by Flask-Limiter, but redis-py takes its timeouts in float seconds.
        storage_options=cast(
            dict[str, Any],
            {
                "socket_connect_timeout": STORAGE_TIMEOUT_SECONDS,
                "socket_timeout": STORAGE_TIMEOUT_SECONDS,
            },
        ),
        # One INCR per request (a moving window keeps a list per key and costs more).
        strategy="fixed-window",
        key_prefix=key_prefix(settings),
        swallow_errors=True,
        # Flask-Limiter takes Limit objects here too, though it types the list as strings.
        in_memory_fallback=cast(list[str], limits),
        in_memory_fallback_enabled=True,
    )
    app.extensions[EXTENSION] = limiter
    # The intake counts its signed requests itself (SourceLimit): Flask-Limiter skips the view
    # (a request filter returns before it resolves any limit; exempt() would resolve them all).
    limiter.request_filter(lambda: request.endpoint == INTAKE_ENDPOINT)
    app.extensions[SOURCE_LIMIT] = SourceLimit(settings, limiter.storage)
    # The breach callbacks built the 429s; the generic HTTP error handler must not replace
    # them with bare ones.
    app.register_error_handler(RateLimitExceeded, lambda error: error.get_response())
    meta: dict[str, Any] | None = getattr(app.view_functions[INTAKE_ENDPOINT], "__openapi__", None)
    if meta is not None:
        meta["responses"].setdefault(429, "problem")
    return limiter
