"""Refuse URLs no view can serve safely, before any view or query sees them.

A NUL character (%00) in a path or query string names nothing (ids, filters and states are
plain text) and PostgreSQL refuses to compare text with it, which turned such probes into
500s deep inside whichever query met it first. One check here covers every route, present
and future. (The security headers every response carries are set in service.auth.)
"""

from __future__ import annotations

from typing import Any

from flask import Flask, request

from service.errors import ApiError

NUL = "\x00"


class MalformedUrl(ApiError):
    status, title, type = 400, "Bad Request", "/problems/malformed-url"


def refuse_nul_in_url() -> None:
    if NUL in request.path:
        raise MalformedUrl("the path must not contain NUL (%00) characters")
    for name, value in request.args.items(multi=True):
        if NUL in name or NUL in value:
            raise MalformedUrl("query parameters must not contain NUL (%00) characters")


def init_security(app: Flask) -> None:
    """Install the check; call it after every blueprint, so each documented operation declares
    the 400 it may now answer."""
    app.before_request(refuse_nul_in_url)
    for view in app.view_functions.values():
        meta: dict[str, Any] | None = getattr(view, "__openapi__", None)
        if meta is not None:
            meta["responses"].setdefault(400, "problem")
