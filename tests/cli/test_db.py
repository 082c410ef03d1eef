"""`moderation db upgrade` on a fresh SQLite file, and on a database it cannot reach."""

from __future__ import annotations

import subprocess
from pathlib import Path

from sqlalchemy import create_engine, inspect

from tests.cli.helpers import MODERATION, clean_environment

EXPECTED_TABLES = {
    "sources",
    "comments",
    "revisions",
    "decisions",
    "users",
    "api_tokens",
    "events",
    "delivery_attempts",
    "seen_webhooks",
    "model_versions",
    "model_changes",
    "shadow_scores",
}


class TestDbUpgrade:
    def test_db_upgrade_creates_the_tables_in_a_fresh_sqlite_file(self, tmp_path: Path) -> None:
        database = tmp_path / "fresh.sqlite"
        result = subprocess.run(
            [MODERATION, "db", "upgrade"],
            env=clean_environment(DATABASE_URL=f"sqlite:///{database}"),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        engine = create_engine(f"sqlite:///{database}")
        try:
            tables = set(inspect(engine).get_table_names())
        finally:
            engine.dispose()
        assert EXPECTED_TABLES <= tables
        assert "alembic_version" in tables

    def test_db_upgrade_uses_the_embedded_sqlite_file_without_database_url(
        self, tmp_path: Path
    ) -> None:
        result = subprocess.run(
            [MODERATION, "db", "upgrade"],
            cwd=tmp_path,
            env=clean_environment(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        assert (tmp_path / "var" / "moderation.sqlite").is_file()

    def test_db_upgrade_reports_an_unreachable_database_in_one_line(self, tmp_path: Path) -> None:
        result = subprocess.run(
            [MODERATION, "db", "upgrade"],
            env=clean_environment(DATABASE_URL="postgresql://postgres:pw@127.0.0.1:1/nowhere"),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 1
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1
        assert lines[0].startswith(
            "Error: cannot migrate the database at postgresql+psycopg://postgres:***@127.0.0.1:1/"
        )
        assert "pw@" not in result.stderr
