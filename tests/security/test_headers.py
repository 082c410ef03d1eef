"""Security headers on every response (API, pages, errors, static files) and a strict CSP."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from core.settings import Settings
from tests.service.review_support import make_account, sign_in

# Reached anonymously: API answers and refusals, pages, errors, static files.
ANONYMOUS_PATHS = [
    "/healthz",
    "/openapi.json",
    "/metrics",
    "/v1/comments/cmt_x",
    "/v1/review/queue",
    "/v1/sources/nope/comments",
    "/login",
    "/moderate",
    "/no-such-page",
    "/static/moderation.css",
    "/static/review.js",
]
SIGNED_IN_PAGES = ["/moderate", "/moderate/audit", "/admin/users", "/admin/sources"]


def assert_common_headers(response: TestResponse) -> None:
    assert response.headers.get("X-Content-Type-Options") == "nosniff"
    assert response.headers.get("X-Frame-Options") == "DENY"
    assert response.headers.get("Referrer-Policy") in ("same-origin", "no-referrer")


def csp_directives(response: TestResponse) -> dict[str, str]:
    policy = response.headers.get("Content-Security-Policy", "")
    directives = {}
    for part in policy.split(";"):
        name, _, value = part.strip().partition(" ")
        if name:
            directives[name] = value.strip()
    return directives


def assert_strict_csp(response: TestResponse) -> None:
    csp = csp_directives(response)
    assert csp.get("frame-ancestors") == "'none'"
    assert csp.get("object-src") == "'none'"
    assert "default-src" in csp
    for directive in ("default-src", "script-src", "style-src"):
        value = csp.get(directive, csp.get("default-src", ""))
        assert "'unsafe-inline'" not in value and "'unsafe-eval'" not in value, (directive, value)
        assert "*" not in value.split(), (directive, value)


class TestSecurityHeaders:
    @pytest.mark.parametrize("path", ANONYMOUS_PATHS)
    def test_security_headers_on_every_anonymous_response(
        self, client: FlaskClient, path: str
    ) -> None:
        response = client.post(path) if path.startswith("/v1/sources/") else client.get(path)
        try:
            assert_common_headers(response)
            if response.mimetype == "text/html":
                assert_strict_csp(response)
        finally:
            response.close()  # static files answer with an open file

    @pytest.mark.parametrize("path", SIGNED_IN_PAGES)
    def test_security_headers_and_csp_on_moderator_pages(
        self, client: FlaskClient, settings: Settings, path: str
    ) -> None:
        sign_in(client, make_account(settings, role="admin"))
        response = client.get(path)
        assert response.status_code == 200
        assert response.mimetype == "text/html"
        assert_common_headers(response)
        assert_strict_csp(response)
        # Pages show comments and e-mail addresses: no shared cache may keep them.
        assert "no-store" in response.headers.get("Cache-Control", "")

    def test_security_headers_pages_carry_no_inline_script(
        self, client: FlaskClient, settings: Settings
    ) -> None:
        # The CSP forbids inline scripts; a page that had one would break, so none may exist.
        sign_in(client, make_account(settings, role="admin"))
        for path in SIGNED_IN_PAGES + ["/login"]:
            html = client.get(path).get_data(as_text=True)
            for tag in html.split("<script")[1:]:
                assert "src=" in tag.split(">", 1)[0], (path, tag[:200])
            assert " onclick=" not in html and " onload=" not in html and "style=" not in html

    def test_security_headers_session_cookie_is_httponly_and_samesite(
        self, client: FlaskClient, settings: Settings
    ) -> None:
        sign_in(client, make_account(settings))
        cookie = client.get_cookie("session")
        assert cookie is not None
        assert cookie.http_only
        assert (cookie.same_site or "").lower() in ("lax", "strict")
