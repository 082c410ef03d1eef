"""What every blueprint needs from a request: settings, Redis, JSON bodies and query arguments.

Shared by the API and page modules of every feature, so none of them borrows a helper from
another; domain refusals become problem+json through service.errors.DOMAIN_ERRORS.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit

import redis
from flask import Response, current_app, request
from pydantic import BaseModel, ValidationError
from redis.backoff import NoBackoff
from redis.retry import Retry

from core.settings import Settings
from core.tasks import DELIVER_EVENT, SCORE_COMMENT, queue_task
from service.errors import MalformedJson, NotFound, UnsupportedMediaType, ValidationFailed

M = TypeVar("M", bound=BaseModel)

REDIS_TIMEOUT_SECONDS = 1.0
MAX_TEXT_ARG_CHARS = 320
# A free-text query value: bounded, never a NUL (PostgreSQL text cannot hold one).
TEXT_QUERY_SCHEMA: dict[str, Any] = {
    "type": "string",
    "maxLength": MAX_TEXT_ARG_CHARS,
    "pattern": "^[^\\x00]*$",
}
# Path ids longer than this name no row of ours.
MAX_PATH_ID_CHARS = 200


def settings() -> Settings:
    """The settings this app was built with."""
    configured: Settings = current_app.config["MODERATION_SETTINGS"]
    return configured


def redis_client(configured: Settings) -> redis.Redis:
    """The app's Redis client for probes, built on first use (redis-py reconnects after fork)."""
    client: redis.Redis | None = current_app.extensions.get("moderation.redis")
    if client is None:
        client = redis.Redis.from_url(
            configured.redis_client_url,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            # A probe answers within its timeout: no reconnect-and-retry rounds.
            retry=Retry(NoBackoff(), 0),
        )
        current_app.extensions["moderation.redis"] = client
    return client


def queue_deliveries(event_ids: Iterable[str]) -> None:
    """After commit: ask a worker to deliver each event; if Redis is down the sweeper will."""
    for event_id in event_ids:
        queue_task(current_app.extensions["celery"], DELIVER_EVENT, event_id)


def queue_scoring(comment_ids: Iterable[str]) -> None:
    """After commit: ask a worker to score each comment; if Redis is down the sweeper will."""
    for comment_id in comment_ids:
        queue_task(current_app.extensions["celery"], SCORE_COMMENT, comment_id)


def json_response(model: BaseModel, status: int = 200) -> Response:
    return current_app.response_class(
        model.model_dump_json(), status=status, mimetype="application/json"
    )


def parse_body(model: type[M]) -> M:
    """The JSON body validated against model, or a problem+json naming every bad field."""
    if not request.is_json:
        raise UnsupportedMediaType("send application/json")
    data = request.get_json(silent=True)
    if data is None:
        raise MalformedJson("the body is not valid JSON")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed(
            "the request has invalid fields",
            errors=[
                {"field": ".".join(str(p) for p in err["loc"]) or "body", "message": err["msg"]}
                for err in exc.errors()
            ],
        ) from exc


def known_id(value: str) -> str:
    """A path id no row can have (NUL, lone surrogates) is simply not found."""
    if "\x00" in value or len(value) > MAX_PATH_ID_CHARS:
        raise NotFound(f"no such id {value[:50]!r}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise NotFound("no such id") from None
    return value


def safe_http_url(url: str | None) -> str | None:
    """A link we may render: only absolute http(s) URLs (no javascript:, data: ...)."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return url.strip()


# --- query arguments ----------------------------------------------------------------------


def _refused(name: str, detail: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"{name} {detail}", errors=[{"field": name, "message": message}])


def refuse_empty_args(args: Mapping[str, str], parameters: Sequence[dict[str, Any]]) -> None:
    """API only: an empty value is no date, number or choice, so `until=` is refused like any
    other invalid value (the pages drop their empty form fields before parsing instead)."""
    for parameter in parameters:
        name, schema = parameter["name"], parameter["schema"]
        typed = "enum" in schema or "format" in schema or schema.get("type") == "integer"
        if typed and name in args and not args[name].strip():
            raise _refused(name, "is empty", "must not be empty")


def int_arg(args: Mapping[str, str], name: str, default: int, minimum: int, maximum: int) -> int:
    """A whole number in [minimum, maximum]; anything else is refused, never clamped."""
    raw = args.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise _refused(name, "must be a whole number", "not an integer") from exc
    if not minimum <= value <= maximum:
        bounds = f"between {minimum} and {maximum}"
        raise _refused(name, f"must be {bounds}", f"must be {bounds}")
    return value


def text_arg(args: Mapping[str, str], name: str) -> str | None:
    """A free-text filter: bounded, and never a NUL (PostgreSQL text cannot hold one)."""
    raw = (args.get(name) or "").strip()
    if "\x00" in raw or len(raw) > MAX_TEXT_ARG_CHARS:
        raise _refused(
            name, "is not a usable filter", f"at most {MAX_TEXT_ARG_CHARS} characters, no NUL"
        )
    return raw or None


def choice_arg(args: Mapping[str, str], name: str, allowed: Sequence[str]) -> str | None:
    raw = (args.get(name) or "").strip()
    if not raw:
        return None
    if raw not in allowed:
        one_of = f"must be one of {', '.join(allowed)}"
        raise _refused(name, one_of, one_of)
    return raw


def datetime_arg(
    args: Mapping[str, str], name: str, inclusive_day: bool = False
) -> datetime | None:
    """An ISO date or datetime, in UTC; a bare date as an upper bound means the end of that day."""
    raw = (args.get(name) or "").strip()
    if not raw:
        return None
    if inclusive_day and len(raw) == 10:
        day = datetime_arg(args, name)
        if day is None:
            return None
        try:
            return day + timedelta(days=1)
        except OverflowError:
            # The end of 9999-12-31 is after every time a decision can carry: no upper bound.
            return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as exc:
        raise _refused(name, "must be an ISO 8601 date", "not a date") from exc
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        # E.g. 0001-01-01T00:30+01:00: its UTC time falls outside the years 1 to 9999.
        message = f"must be between {datetime.min.isoformat()}Z and {datetime.max.isoformat()}Z"
        raise _refused(name, message, message) from None
