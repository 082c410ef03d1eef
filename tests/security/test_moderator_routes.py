"""Every moderator route refuses an anonymous caller, found from the URL map (new routes too)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.routing import Rule

from tests.service.review_support import csrf_token

PROTECTED_PREFIXES = ("/v1/review", "/v1/admin", "/moderate", "/admin")
_ARGUMENT = re.compile(r"<(?:(?P<converter>[a-z]+)(?:\([^)]*\))?:)?(?P<name>\w+)>")


def concrete_path(rule: Rule) -> str:
    """The rule with each argument filled in (ints get 1, anything else a plausible id)."""

    def fill(match: re.Match[str]) -> str:
        return "1" if match.group("converter") in ("int", "float") else "cmt_0123456789abcdef"

    return _ARGUMENT.sub(fill, rule.rule)


def protected_routes(app: Flask) -> Iterator[tuple[str, str]]:
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(PROTECTED_PREFIXES):
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                yield method, concrete_path(rule)


class TestModeratorRoutes:
    def test_moderator_routes_are_many_enough_to_mean_something(self, app: Flask) -> None:
        routes = list(protected_routes(app))
        assert len(routes) >= 20, routes
        assert {path.split("/")[1] for _, path in routes} >= {"v1", "moderate", "admin"}

    def test_moderator_routes_refuse_anonymous_caller(
        self, app: Flask, client: FlaskClient
    ) -> None:
        # A real CSRF token of this anonymous session, so each form post meets the login check
        # (not only the CSRF check, which would hide a view that forgot it).
        token = csrf_token(client)
        allowed: list[str] = []
        for method, path in protected_routes(app):
            if path.startswith("/v1/"):
                response = client.open(path, method=method, json={}, headers={"X-CSRFToken": token})
                ok = response.status_code == 401 and response.mimetype == (
                    "application/problem+json"
                )
            else:
                response = client.open(path, method=method, data={"csrf_token": token})
                location = response.headers.get("Location", "")
                ok = response.status_code in (302, 303) and "/login" in location
            if not ok:
                allowed.append(f"{method} {path} -> {response.status_code}")
        assert allowed == [], "anonymous caller not refused:\n" + "\n".join(allowed)

    @pytest.mark.parametrize(
        "header",
        ["Bearer ", "Bearer not-a-token", "Basic YWRtaW46YWRtaW4=", "bearer", "Token abc"],
    )
    def test_moderator_api_refuses_bad_authorization(
        self, app: Flask, client: FlaskClient, header: str
    ) -> None:
        refused = {
            path: client.open(path, method=method, headers={"Authorization": header}).status_code
            for method, path in protected_routes(app)
            if path.startswith("/v1/") and method == "GET"
        }
        assert refused and set(refused.values()) == {401}, refused
