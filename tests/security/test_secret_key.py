"""SECRET_KEY signs moderator sessions: the service refuses to start without a strong one."""

from __future__ import annotations

import secrets
import subprocess
from pathlib import Path

import pytest
from flask import Flask

from core.settings import Settings
from service import create_app
from service.app import InsecureSecretKey
from tests.cli.helpers import MODERATION, clean_environment
from tests.service.review_support import make_account

# What create_app signed sessions with when SECRET_KEY was unset (a published value).
OLD_DEFAULT_KEY = "dev-only-not-secret"
WEAK_KEYS = ["", OLD_DEFAULT_KEY, "test-secret-key", "a" * 64, "abcd" * 16]


def forged_session_cookie(key: str, user_id: int) -> str:
    """A Flask session cookie naming user_id as signed in, signed offline with key."""
    forger = Flask("forger")
    forger.secret_key = key
    serializer = forger.session_interface.get_signing_serializer(forger)  # type: ignore[attr-defined]
    assert serializer is not None
    # Flask-Login's id is "<user id>:<session generation>"; a new account's generation is 0.
    return str(serializer.dumps({"_user_id": f"{user_id}:0", "_fresh": True}))


class TestSecretKey:
    @pytest.mark.parametrize("key", WEAK_KEYS)
    def test_secret_key_missing_or_weak_is_refused_by_create_app(
        self, settings: Settings, key: str
    ) -> None:
        with pytest.raises(InsecureSecretKey, match="SECRET_KEY"):
            create_app({"TESTING": True}, settings=settings.model_copy(update={"secret_key": key}))

    @pytest.mark.parametrize("key", [secrets.token_urlsafe(32), secrets.token_hex(16)])
    def test_secret_key_random_is_accepted(self, settings: Settings, key: str) -> None:
        app = create_app(settings=settings.model_copy(update={"secret_key": key}))
        assert app.secret_key == key

    @pytest.mark.parametrize("key", [None, OLD_DEFAULT_KEY, "short"])
    def test_secret_key_api_command_refuses_to_start_with_one_line(
        self, tmp_path: Path, key: str | None
    ) -> None:
        env = clean_environment(
            DATABASE_URL=f"sqlite:///{tmp_path / 'moderation.sqlite'}",
            MODERATION_VAR_DIR=str(tmp_path / "var"),
        )
        if key is not None:
            env["SECRET_KEY"] = key
        result = subprocess.run(
            [MODERATION, "api", "--bind", "127.0.0.1:1"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode != 0
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "SECRET_KEY" in lines[0]
        assert "gunicorn" not in result.stdout + result.stderr.lower()

    def test_secret_key_forged_with_old_default_does_not_reach_admin_users(
        self, app: Flask, settings: Settings
    ) -> None:
        admin = make_account(settings, role="admin")
        client = app.test_client()
        client.set_cookie("session", forged_session_cookie(OLD_DEFAULT_KEY, admin.id))
        refused = client.get("/admin/users")
        assert refused.status_code == 302 and refused.headers["Location"].startswith("/login")
        # The same forgery with the app's real key does open the page: the cookie is well made.
        client.set_cookie("session", forged_session_cookie(settings.secret_key, admin.id))
        assert client.get("/admin/users").status_code == 200
