"""The sources' signing secrets are encrypted at rest, readable only with the configured key."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from core.db import dispose_engines, get_engine, session_scope
from core.migrate import upgrade
from core.secrets import (
    ENCRYPTED_PREFIX,
    SecretsKeyError,
    decrypt_secret,
    encrypt_secret,
    key_material,
)
from core.settings import Settings, configure
from core.sources import rotate_secret
from core.store import create_source
from core.tables import Source


def stored_columns(settings: Settings, source_id: str) -> tuple[str, str | None]:
    with get_engine(settings).connect() as connection:
        row = connection.execute(
            text("SELECT secret, previous_secret FROM sources WHERE id = :id"), {"id": source_id}
        ).one()
    return row[0], row[1]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
class TestSecretsAtRest:
    def test_source_secret_is_stored_encrypted_and_read_back_in_clear(
        self, settings: Settings
    ) -> None:
        with session_scope(settings) as session:
            created = create_source(session, "cms")
        raw, _ = stored_columns(settings, created.source.id)
        assert raw.startswith(ENCRYPTED_PREFIX)
        assert created.secret not in raw and created.secret[6:] not in raw
        with session_scope(settings) as session:
            source = session.get(Source, created.source.id)
            assert source is not None and source.secret == created.secret

    def test_rotation_keeps_both_secrets_encrypted(self, settings: Settings) -> None:
        with session_scope(settings) as session:
            created = create_source(session, "cms")
        with session_scope(settings) as session:
            rotation = rotate_secret(session, created.source.id)
        raw, raw_previous = stored_columns(settings, created.source.id)
        assert raw_previous is not None and raw_previous.startswith(ENCRYPTED_PREFIX)
        assert rotation.secret not in raw and created.secret not in raw_previous
        with session_scope(settings) as session:
            source = session.get(Source, created.source.id)
            assert source is not None
            assert (source.secret, source.previous_secret) == (rotation.secret, created.secret)


class TestKeys:
    def test_another_key_cannot_read_a_secret(self) -> None:
        stored = encrypt_secret("whsec_abc", Settings(secret_key="one-key"))
        with pytest.raises(SecretsKeyError, match="not the key it was stored with"):
            decrypt_secret(stored, Settings(secret_key="another-key"))

    def test_secrets_key_wins_over_secret_key(self) -> None:
        stored = encrypt_secret("whsec_abc", Settings(secret_key="k1", secrets_key="dedicated"))
        assert decrypt_secret(stored, Settings(secret_key="other", secrets_key="dedicated"))
        with pytest.raises(SecretsKeyError):
            decrypt_secret(stored, Settings(secret_key="k1"))

    def test_rotating_the_key_lists_the_old_one_after_the_new(self) -> None:
        stored = encrypt_secret("whsec_abc", Settings(secrets_key="old"))
        rotated = Settings(secrets_key="new, old")
        assert decrypt_secret(stored, rotated) == "whsec_abc"
        again = encrypt_secret("whsec_abc", rotated)
        assert decrypt_secret(again, Settings(secrets_key="new")) == "whsec_abc"

    def test_plain_text_is_never_taken_for_a_secret(self) -> None:
        with pytest.raises(SecretsKeyError, match="not encrypted"):
            decrypt_secret("whsec_abc", Settings(secret_key="k"))

    def test_a_server_database_without_any_key_is_refused(self) -> None:
        settings = Settings(database_url="postgresql://db.example.org/moderation")
        with pytest.raises(SecretsKeyError, match="set SECRETS_KEY"):
            key_material(settings)

    def test_sqlite_without_keys_uses_the_key_file_up_keeps(self, tmp_path: Path) -> None:
        settings = Settings(var_dir=tmp_path / "var")
        (material,) = key_material(settings)
        assert (tmp_path / "var" / "secret_key").read_text() == material


class TestMigration:
    def test_upgrade_encrypts_existing_plain_secrets(self, tmp_path: Path) -> None:
        settings = configure(
            var_dir=tmp_path / "var",
            database_url=f"sqlite:///{tmp_path / 'old.sqlite'}",
            secret_key="migration-key",
            log_json=False,
        )
        try:
            upgrade(settings, "0004")
            with get_engine(settings).begin() as connection:
                connection.exec_driver_sql(
                    "INSERT INTO sources (id, name, secret, previous_secret, token_sha256,"
                    " thresholds, blocklist, max_links, max_body_chars, created_at, updated_at)"
                    " VALUES ('src_old', 'old', 'whsec_current', 'whsec_before', 'abc',"
                    " '{}', '[]', 2, 1500, '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
                )
            upgrade(settings)
            raw, raw_previous = stored_columns(settings, "src_old")
            assert raw.startswith(ENCRYPTED_PREFIX) and "whsec_current" not in raw
            assert raw_previous is not None and "whsec_before" not in raw_previous
            with session_scope(settings) as session:
                source = session.get(Source, "src_old")
                assert source is not None
                assert (source.secret, source.previous_secret) == ("whsec_current", "whsec_before")
        finally:
            dispose_engines()
            configure()
