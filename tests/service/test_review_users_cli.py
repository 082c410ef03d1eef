"""`moderation users add|token`: accounts and review API tokens from the command line."""

from __future__ import annotations

import subprocess

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient

from cli import users as users_cli
from cli.main import cli
from core.accounts import authenticate
from core.db import session_scope
from core.settings import Settings
from tests.cli.helpers import MODERATION, clean_environment
from tests.service.review_support import PASSWORD, make_account


def run(*args: str, input: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), input=input)
    return result.exit_code, result.output


class TestUsersAdd:
    def test_users_add_reads_the_password_from_stdin(self, settings: Settings) -> None:
        code, output = run(
            "users",
            "add",
            "Ann@Example.org",
            "--role",
            "admin",
            "--password-stdin",
            input=PASSWORD + "\n",
        )
        assert code == 0, output
        assert "Created admin account ann@example.org." in output
        assert PASSWORD not in output
        with session_scope(settings) as session:
            user = authenticate(session, "ann@example.org", PASSWORD)
            assert user is not None and user.role == "admin"

    def test_users_add_generates_and_prints_a_password_once(self, settings: Settings) -> None:
        code, output = run("users", "add", "bob@example.org")
        assert code == 0, output
        password = output.split("Password (shown once): ")[1].strip()
        with session_scope(settings) as session:
            user = authenticate(session, "bob@example.org", password)
            assert user is not None and user.role == "moderator"

    def test_users_add_prompts_twice_at_a_terminal(
        self, settings: Settings, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(users_cli, "_interactive", lambda: True)
        code, output = run("users", "add", "cy@example.org", input=f"{PASSWORD}\n{PASSWORD}\n")
        assert code == 0, output
        assert "shown once" not in output
        with session_scope(settings) as session:
            assert authenticate(session, "cy@example.org", PASSWORD) is not None

    def test_users_add_refuses_differing_passwords(
        self, settings: Settings, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(users_cli, "_interactive", lambda: True)
        code, output = run("users", "add", "di@example.org", input=f"{PASSWORD}\nother-one-x\n")
        assert code == 1
        assert "the passwords differ" in output

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["not-an-email", "--generate"], "not a valid e-mail address"),
            (["e@example.org", "--password-stdin"], "at least 12 characters"),
        ],
    )
    def test_users_add_refuses_bad_input_in_one_line(
        self, settings: Settings, args: list[str], message: str
    ) -> None:
        code, output = run("users", "add", *args, input="short\n")
        assert code == 1
        assert message in output
        assert "Traceback" not in output

    def test_users_add_refuses_an_existing_account(self, settings: Settings) -> None:
        make_account(settings, email="dup@example.org")
        code, output = run("users", "add", "dup@example.org", "--generate")
        assert code == 1
        assert "already exists" in output

    def test_users_add_refuses_an_unknown_role(self, settings: Settings) -> None:
        code, output = run("users", "add", "r@example.org", "--role", "owner")
        assert code == 2
        assert "owner" in output

    def test_users_add_console_script_end_to_end(self, settings: Settings) -> None:
        result = subprocess.run(
            [MODERATION, "users", "add", "eve@example.org", "--password-stdin"],
            input=PASSWORD + "\n",
            capture_output=True,
            text=True,
            timeout=120,
            env=clean_environment(DATABASE_URL=settings.database_url),
        )
        assert result.returncode == 0, result.stderr
        with session_scope(settings) as session:
            assert authenticate(session, "eve@example.org", PASSWORD) is not None


class TestUsersToken:
    def test_users_token_mints_a_working_bearer_token(
        self, settings: Settings, client: FlaskClient
    ) -> None:
        account = make_account(settings)
        code, output = run("users", "token", account.email, "--name", "script")
        assert code == 0, output
        token = output.strip()
        response = client.get("/v1/review/queue", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200

    def test_users_token_refuses_an_unknown_account(self, settings: Settings) -> None:
        code, output = run("users", "token", "ghost@example.org")
        assert code == 1
        assert "no account for ghost@example.org" in output
