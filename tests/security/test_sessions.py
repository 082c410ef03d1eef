"""Sessions end on the server: a session cookie copied before sign-out, a new password or
disabling the account no longer opens the moderator pages or the review API."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from cli.main import cli
from core.settings import Settings
from service.auth import load_user
from tests.service.review_support import PASSWORD, Account, csrf_token, make_account, sign_in

SESSION_COOKIE = "session"


def copied_cookie(client: FlaskClient) -> str:
    cookie = client.get_cookie(SESSION_COOKIE)
    assert cookie is not None, "signing in set no session cookie"
    return cookie.value


def replay(app: Flask, cookie: str) -> FlaskClient:
    """Another browser holding a copy of the cookie (as a thief would)."""
    other = app.test_client()
    other.set_cookie(SESSION_COOKIE, cookie)
    return other


def assert_signed_out(client: FlaskClient) -> None:
    page = client.get("/moderate")
    assert page.status_code == 302 and "/login" in page.headers["Location"]
    api = client.get("/v1/review/queue")
    assert api.status_code == 401
    assert api.mimetype == "application/problem+json"


def assert_signed_in(client: FlaskClient) -> None:
    assert client.get("/moderate").status_code == 200
    assert client.get("/v1/review/queue").status_code == 200


def log_out(client: FlaskClient, _: Account, __: FlaskClient) -> None:
    response = client.post("/logout", data={"csrf_token": csrf_token(client, "/moderate")})
    assert response.status_code == 302


def change_password(_: FlaskClient, account: Account, __: FlaskClient) -> None:
    result = CliRunner().invoke(
        cli, ["users", "password", account.email, "--password-stdin"], input=PASSWORD + "!\n"
    )
    assert result.exit_code == 0, result.output
    assert "sessions have ended" in result.output


def admin_disables(_: FlaskClient, account: Account, admin: FlaskClient) -> None:
    page = admin.get("/admin/users")
    assert page.status_code == 200
    response = admin.post(
        f"/admin/users/{account.id}/active",
        data={"active": "0", "csrf_token": csrf_token(admin, "/admin/users")},
    )
    assert response.status_code == 303


def cli_disables(_: FlaskClient, account: Account, __: FlaskClient) -> None:
    result = CliRunner().invoke(cli, ["users", "disable", account.email])
    assert result.exit_code == 0, result.output


Ending = Callable[[FlaskClient, Account, FlaskClient], None]


class TestSessionRevocation:
    @pytest.mark.parametrize(
        "end",
        [log_out, change_password, admin_disables, cli_disables],
        ids=["logout", "password-change", "admin-disables", "cli-disables"],
    )
    def test_copied_cookie_stops_working_when_the_session_ends(
        self, app: Flask, settings: Settings, end: Ending
    ) -> None:
        account = make_account(settings)
        browser = app.test_client()
        sign_in(browser, account)
        stolen = copied_cookie(browser)
        assert_signed_in(replay(app, stolen))

        admin = app.test_client()
        sign_in(admin, make_account(settings, role="admin"))
        end(browser, account, admin)

        assert_signed_out(replay(app, stolen))
        assert_signed_out(browser)

    def test_logout_ends_the_accounts_other_sessions_too(
        self, app: Flask, settings: Settings
    ) -> None:
        account = make_account(settings)
        laptop, phone = app.test_client(), app.test_client()
        sign_in(laptop, account)
        sign_in(phone, account)
        log_out(laptop, account, laptop)
        assert_signed_out(phone)

    def test_other_accounts_stay_signed_in(self, app: Flask, settings: Settings) -> None:
        account, colleague = make_account(settings), make_account(settings)
        browser, other = app.test_client(), app.test_client()
        sign_in(browser, account)
        sign_in(other, colleague)
        log_out(browser, account, browser)
        assert_signed_in(other)

    def test_signing_in_again_after_a_new_password_works(
        self, app: Flask, settings: Settings
    ) -> None:
        account = make_account(settings)
        change_password(app.test_client(), account, app.test_client())
        browser = app.test_client()
        sign_in(browser, Account(account.id, account.email, PASSWORD + "!", account.token))
        assert_signed_in(browser)

    def test_a_disabled_accounts_token_is_refused(self, app: Flask, settings: Settings) -> None:
        account = make_account(settings)
        cli_disables(app.test_client(), account, app.test_client())
        response = app.test_client().get(
            "/v1/review/queue", headers={"Authorization": f"Bearer {account.token}"}
        )
        assert response.status_code == 401

    def test_admin_cannot_disable_their_own_account(self, app: Flask, settings: Settings) -> None:
        admin_account = make_account(settings, role="admin")
        admin = app.test_client()
        sign_in(admin, admin_account)
        response = admin.post(
            f"/admin/users/{admin_account.id}/active",
            data={"active": "0", "csrf_token": csrf_token(admin, "/admin/users")},
        )
        assert response.status_code == 303
        assert_signed_in(admin)

    def test_a_session_id_without_its_generation_is_refused(
        self, app: Flask, settings: Settings
    ) -> None:
        # A cookie minted the old way ("<user id>" alone) cannot stand for any session.
        account = make_account(settings)
        with app.test_request_context():
            assert load_user(str(account.id)) is None
            assert load_user(f"{account.id}:1") is None
            moderator = load_user(f"{account.id}:0")
            assert moderator is not None and moderator.get_id() == f"{account.id}:0"
