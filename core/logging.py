"""Structured logs (JSON lines) with a request id that follows a comment from intake to callback.

Every process calls configure_logging() once at start. The web process binds a request id per
request (bind_request_id); it travels to Celery tasks in the message header REQUEST_ID_HEADER, and
the worker binds it again while it runs the task, so `grep request_id` shows one comment's path.
Plain `logging.getLogger(__name__)` records and structlog loggers go through the same renderer.
"""

from __future__ import annotations

import logging
import re
import sys
import uuid
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog

from core.settings import Settings, get_settings

# Celery message header (and HTTP header X-Request-Id) carrying the request id.
REQUEST_ID_HEADER = "request_id"
HTTP_REQUEST_ID_HEADER = "X-Request-Id"
# An incoming X-Request-Id is reused only when it looks like an id, never arbitrary text.
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")

# Keys whose values must never reach a log line: comment text, credentials, personal data.
SENSITIVE_KEYS = frozenset(
    {
        "body",
        "text",
        "secret",
        "signature",
        "webhook-signature",
        "webhook_signature",
        "email",
        "author_email",
        "token",
        "password",
        "authorization",
    }
)
REDACTED = "[redacted]"


def redact_sensitive(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: a value logged under a sensitive key is replaced, whoever logged it."""
    for key in event_dict.keys() & SENSITIVE_KEYS:
        event_dict[key] = REDACTED
    return event_dict


_HANDLER_NAME = "moderation-structlog"


def _shared_processors() -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact_sensitive,
    ]


def configure_logging(settings: Settings | None = None) -> None:
    """Route structlog and stdlib logging to stderr as JSON lines (or readable lines locally).

    Idempotent: calling it again replaces only the handler it installed before, so test
    runners' capture handlers stay in place.
    """
    settings = settings or get_settings()
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if settings.log_json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            *_shared_processors(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_shared_processors(),
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for existing in list(root.handlers):
        if existing.get_name() == _HANDLER_NAME:
            root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(settings.log_level.upper())


def new_request_id() -> str:
    return uuid.uuid4().hex


def request_id_from(value: str | None) -> str:
    """The caller's request id when it is a safe token, else a fresh one."""
    if value and _SAFE_REQUEST_ID.match(value):
        return value
    return new_request_id()


def bind_request_id(request_id: str) -> None:
    """Start a fresh log context (one request or one task) carrying request_id."""
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=request_id)


def current_request_id() -> str | None:
    value = structlog.contextvars.get_contextvars().get("request_id")
    return str(value) if value is not None else None


def request_id_headers() -> dict[str, str]:
    """Headers to put on a queued task so the worker logs under the same request id."""
    request_id = current_request_id()
    return {REQUEST_ID_HEADER: request_id} if request_id else {}


def request_id_of_task(headers: Mapping[str, Any] | None) -> str:
    """The request id a task message carries (a fresh one when it was queued without one)."""
    return request_id_from(str((headers or {}).get(REQUEST_ID_HEADER) or "") or None)


def clear_log_context() -> None:
    structlog.contextvars.clear_contextvars()
