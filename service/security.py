"""Refuse URLs no view can serve safely, before any view or query sees them.

A NUL character (%00) in a path or query string names nothing (ids, filters and states are
plain text) and PostgreSQL refuses to compare text with it, which turned such probes into
500s deep inside whichever query met it first. One check here covers every route, present
and future, answering as the views do for any unknown id (404) or bad filter (422).
(The security headers every response carries are set in service.auth.)
"""

from __future__ import annotations

from typing import Any

from flask import Flask, request

from service.errors import NotFound, ValidationFailed

NUL = "\x00"
NUL_MESSAGE = "must not contain NUL (%00) characters"


def refuse_nul_in_url() -> None:
    if NUL in request.path:
        raise NotFound("nothing has a name containing NUL (%00)")
    bad = sorted(
        {name for name, value in request.args.items(multi=True) if NUL in name or NUL in value}
    )
    if bad:
        raise ValidationFailed(
            "invalid query parameter(s): " + ", ".join(name.replace(NUL, "\\0") for name in bad),
            errors=[{"field": name.replace(NUL, "\\0"), "message": NUL_MESSAGE} for name in bad],
        )


def init_security(app: Flask) -> None:
    """Install the check; call it after every blueprint, so each documented operation declares
    the answers it may now give (404 with path parameters, 422 with query parameters)."""
    app.before_request(refuse_nul_in_url)
    for rule in app.url_map.iter_rules():
        meta: dict[str, Any] | None = getattr(
            app.view_functions.get(rule.endpoint), "__openapi__", None
        )
        if meta is None:
            continue
        if rule.arguments:
            meta["responses"].setdefault(404, "problem")
        if any(p.get("in") == "query" for p in meta["parameters"]):
            meta["responses"].setdefault(422, "problem")
