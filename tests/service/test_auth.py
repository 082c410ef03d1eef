"""Accounts, sign-in and sign-out, cookies, CSRF, API tokens, roles and security headers."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from core.accounts import AccountError, authenticate, create_user
from core.db import session_scope
from core.settings import Settings
from core.store import NewSource
from core.tables import User
from service import create_app
from tests.service.review_support import (
    PASSWORD,
    add_comment,
    bearer,
    csrf_token,
    make_account,
    sign_in,
)


class TestAccounts:
    def test_accounts_store_argon2_hashes_only(self, settings: Settings) -> None:
        account = make_account(settings)
        with session_scope(settings) as session:
            user = session.scalars(select(User).where(User.id == account.id)).one()
            assert user.password_hash.startswith("$argon2id$")
            assert PASSWORD not in user.password_hash

    def test_accounts_refuse_duplicate_email_in_any_case(self, settings: Settings) -> None:
        make_account(settings, email="dup@example.org")
        with session_scope(settings) as session, pytest.raises(AccountError, match="exists"):
            create_user(session, "DUP@example.org", "moderator", PASSWORD)

    @pytest.mark.parametrize(
        ("email", "role", "password", "message"),
        [
            ("not-an-email", "moderator", PASSWORD, "valid e-mail"),
            ("a@example.org", "owner", PASSWORD, "role"),
            ("a@example.org", "moderator", "short", "at least"),
        ],
    )
    def test_accounts_refuse_bad_input(
        self, settings: Settings, email: str, role: str, password: str, message: str
    ) -> None:
        with session_scope(settings) as session, pytest.raises(AccountError, match=message):
            create_user(session, email, role, password)

    def test_accounts_authenticate_checks_password_and_active(self, settings: Settings) -> None:
        account = make_account(settings)
        with session_scope(settings) as session:
            assert authenticate(session, account.email, PASSWORD) is not None
            assert authenticate(session, account.email, PASSWORD + "x") is None
            assert authenticate(session, "nobody@example.org", PASSWORD) is None
            session.get(User, account.id).active = False  # type: ignore[union-attr]
        with session_scope(settings) as session:
            assert authenticate(session, account.email, PASSWORD) is None


class TestLogin:
    def test_login_page_has_a_csrf_token(self, client: FlaskClient) -> None:
        assert csrf_token(client)

    def test_login_signs_in_and_goes_to_the_queue(
        self, client: FlaskClient, settings: Settings
    ) -> None:
        account = make_account(settings)
        response = client.post(
            "/login",
            data={"email": account.email, "password": PASSWORD, "csrf_token": csrf_token(client)},
        )
        assert response.status_code == 302
        assert response.headers["Location"] == "/moderate"
        assert client.get("/moderate").status_code == 200

    def test_login_page_sends_a_signed_in_moderator_on(
        self, client: FlaskClient, settings: Settings
    ) -> None:
        sign_in(client, make_account(settings))
        response = client.get("/login?next=/moderate/audit")
        assert response.status_code == 302
        assert response.headers["Location"] == "/moderate/audit"

    def test_login_refuses_a_wrong_password(self, client: FlaskClient, settings: Settings) -> None:
        account = make_account(settings)
        response = client.post(
            "/login",
            data={"email": account.email, "password": "wrong", "csrf_token": csrf_token(client)},
        )
        assert response.status_code == 401
        assert "Wrong e-mail or password" in response.get_data(as_text=True)
        assert client.get("/moderate").status_code == 302

    def test_login_refuses_a_post_without_csrf_token(
        self, client: FlaskClient, settings: Settings
    ) -> None:
        account = make_account(settings)
        response = client.post("/login", data={"email": account.email, "password": PASSWORD})
        assert response.status_code == 400
        assert client.get("/moderate").status_code == 302

    def test_login_throttles_repeated_failures(
        self, client: FlaskClient, settings: Settings
    ) -> None:
        account = make_account(settings)
        token = csrf_token(client)
        for _ in range(10):
            wrong = {"email": account.email, "password": "wrong", "csrf_token": token}
            assert client.post("/login", data=wrong).status_code == 401
        right = {"email": account.email, "password": PASSWORD, "csrf_token": token}
        response = client.post("/login", data=right)
        assert response.status_code == 429
        assert "Too many failed sign-ins" in response.get_data(as_text=True)
        assert client.get("/moderate").status_code == 302

    @pytest.mark.parametrize(
        ("target", "expected"),
        [
            ("/moderate/audit", "/moderate/audit"),
            ("https://evil.example/", "/moderate"),
            ("//evil.example/", "/moderate"),
            ("/\\evil.example", "/moderate"),
        ],
    )
    def test_login_follows_only_same_site_next(
        self, client: FlaskClient, settings: Settings, target: str, expected: str
    ) -> None:
        account = make_account(settings)
        response = client.post(
            "/login",
            query_string={"next": target},
            data={"email": account.email, "password": PASSWORD, "csrf_token": csrf_token(client)},
        )
        assert response.headers["Location"] == expected

    def test_login_cookie_is_httponly_and_samesite_lax(
        self, client: FlaskClient, settings: Settings
    ) -> None:
        account = make_account(settings)
        response = client.post(
            "/login",
            data={"email": account.email, "password": PASSWORD, "csrf_token": csrf_token(client)},
        )
        cookie = response.headers["Set-Cookie"]
        assert "HttpOnly" in cookie
        assert "SameSite=Lax" in cookie

    def test_login_cookie_is_secure_outside_debug_and_tests(self, settings: Settings) -> None:
        app = create_app(settings=settings)
        client = app.test_client()
        account = make_account(settings)
        response = client.post(
            "/login",
            data={"email": account.email, "password": PASSWORD, "csrf_token": csrf_token(client)},
        )
        assert response.status_code == 302
        assert "Secure" in response.headers["Set-Cookie"]


class TestLogout:
    def test_logout_signs_out(self, client: FlaskClient, settings: Settings) -> None:
        sign_in(client, make_account(settings))
        token = csrf_token(client, "/moderate")
        response = client.post("/logout", data={"csrf_token": token})
        assert response.status_code == 302
        assert client.get("/moderate").status_code == 302

    def test_logout_refuses_a_post_without_csrf_token(
        self, client: FlaskClient, settings: Settings
    ) -> None:
        sign_in(client, make_account(settings))
        assert client.post("/logout").status_code == 400
        assert client.get("/moderate").status_code == 200

    def test_logout_is_not_a_get(self, client: FlaskClient, settings: Settings) -> None:
        sign_in(client, make_account(settings))
        assert client.get("/logout").status_code == 405
        assert client.get("/moderate").status_code == 200


class TestApiTokens:
    def test_api_tokens_authenticate_the_review_api(
        self, client: FlaskClient, settings: Settings
    ) -> None:
        response = client.get("/v1/review/queue", headers=bearer(make_account(settings)))
        assert response.status_code == 200
        assert response.json is not None and "items" in response.json

    @pytest.mark.parametrize(
        "header", ["Bearer modr_not-a-token", "Basic dXNlcjpwYXNz", "Bearer ", "token"]
    )
    def test_api_tokens_refuse_bad_credentials(self, client: FlaskClient, header: str) -> None:
        response = client.get("/v1/review/queue", headers={"Authorization": header})
        assert response.status_code == 401
        assert response.mimetype == "application/problem+json"
        assert response.headers["WWW-Authenticate"] == "Bearer"

    def test_api_tokens_of_inactive_accounts_are_refused(
        self, client: FlaskClient, settings: Settings
    ) -> None:
        account = make_account(settings)
        with session_scope(settings) as session:
            session.get(User, account.id).active = False  # type: ignore[union-attr]
        assert client.get("/v1/review/queue", headers=bearer(account)).status_code == 401

    def test_api_tokens_need_no_csrf_token(
        self, client: FlaskClient, settings: Settings, source: NewSource
    ) -> None:
        comment_id = add_comment(settings, source.source.id)
        response = client.post(
            f"/v1/review/comments/{comment_id}/claim", headers=bearer(make_account(settings))
        )
        assert response.status_code == 200

    def test_api_session_writes_need_the_csrf_header(
        self, client: FlaskClient, settings: Settings, source: NewSource
    ) -> None:
        comment_id = add_comment(settings, source.source.id)
        sign_in(client, make_account(settings))
        refused = client.post(f"/v1/review/comments/{comment_id}/claim")
        assert refused.status_code == 400
        assert refused.mimetype == "application/problem+json"
        token = csrf_token(client, "/moderate")
        accepted = client.post(
            f"/v1/review/comments/{comment_id}/claim", headers={"X-CSRFToken": token}
        )
        assert accepted.status_code == 200

    def test_api_session_reads_work_without_csrf_header(
        self, client: FlaskClient, settings: Settings
    ) -> None:
        sign_in(client, make_account(settings))
        assert client.get("/v1/review/queue").status_code == 200


class TestRoles:
    def test_roles_moderator_is_refused_the_accounts_page(
        self, client: FlaskClient, settings: Settings
    ) -> None:
        sign_in(client, make_account(settings, "moderator"))
        response = client.get("/admin/users")
        assert response.status_code == 403
        assert "This page is for admins." in response.get_data(as_text=True)
        assert client.post("/admin/users", data={"email": "x@example.org"}).status_code in (
            400,
            403,
        )

    def test_roles_moderator_cannot_create_accounts_even_with_csrf(
        self, client: FlaskClient, settings: Settings
    ) -> None:
        sign_in(client, make_account(settings, "moderator"))
        token = csrf_token(client, "/moderate")
        response = client.post(
            "/admin/users",
            data={"email": "new@example.org", "role": "admin", "csrf_token": token},
        )
        assert response.status_code == 403
        with session_scope(settings) as session:
            assert session.scalar(select(User).where(User.email == "new@example.org")) is None

    def test_roles_anonymous_visitor_is_sent_to_login(self, client: FlaskClient) -> None:
        response = client.get("/admin/users")
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login")

    def test_roles_admin_creates_an_account_with_a_one_time_password(
        self, client: FlaskClient, settings: Settings
    ) -> None:
        sign_in(client, make_account(settings, "admin"))
        token = csrf_token(client, "/admin/users")
        response = client.post(
            "/admin/users",
            data={"email": "New.Mod@Example.org", "role": "moderator", "csrf_token": token},
        )
        assert response.status_code == 200
        page = response.get_data(as_text=True)
        assert "new.mod@example.org" in page
        password = page.split('<code class="secret">')[1].split("</code>")[0]
        with session_scope(settings) as session:
            assert authenticate(session, "new.mod@example.org", password) is not None
        assert password not in client.get("/admin/users").get_data(as_text=True)

    def test_roles_admin_accounts_form_enforces_csrf(
        self, client: FlaskClient, settings: Settings
    ) -> None:
        sign_in(client, make_account(settings, "admin"))
        response = client.post("/admin/users", data={"email": "n@example.org", "role": "admin"})
        assert response.status_code == 400

    def test_roles_admin_duplicate_account_is_refused(
        self, client: FlaskClient, settings: Settings
    ) -> None:
        admin = make_account(settings, "admin")
        sign_in(client, admin)
        token = csrf_token(client, "/admin/users")
        response = client.post(
            "/admin/users", data={"email": admin.email, "role": "moderator", "csrf_token": token}
        )
        assert response.status_code == 422
        assert "already exists" in response.get_data(as_text=True)

    def test_roles_accounts_link_shows_for_admins_only(
        self, app: Flask, settings: Settings
    ) -> None:
        moderator, admin = app.test_client(), app.test_client()
        sign_in(moderator, make_account(settings, "moderator"))
        sign_in(admin, make_account(settings, "admin"))
        assert "/admin/users" not in moderator.get("/moderate").get_data(as_text=True)
        assert "/admin/users" in admin.get("/moderate").get_data(as_text=True)


class TestSecurityHeaders:
    @pytest.mark.parametrize("path", ["/login", "/moderate", "/moderate/audit"])
    def test_security_headers_on_pages(
        self, client: FlaskClient, settings: Settings, path: str
    ) -> None:
        if path != "/login":
            sign_in(client, make_account(settings))
        response = client.get(path)
        assert response.status_code == 200
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp
        assert "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"
        assert response.headers["Cache-Control"] == "no-store"

    def test_security_headers_pages_have_no_inline_script(
        self, client: FlaskClient, settings: Settings
    ) -> None:
        sign_in(client, make_account(settings))
        page = client.get("/moderate").get_data(as_text=True)
        assert "<script>" not in page
        assert '<script src="/static/review.js" defer></script>' in page
