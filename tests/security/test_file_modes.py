"""What `up` and the embedded database leave on disk is for their owner only: var/ 0700, the
SQLite file (and its -wal / -shm) and the secret key file 0600, even under a lax umask."""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from cli.up import _writable_var_dir
from core.db import make_engine
from core.secrets import local_secret_key
from tests.cli.helpers import MODERATION, clean_environment, free_port
from tests.cli.test_up import start_up, still_running, wait_ready


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@contextmanager
def lax_umask() -> Iterator[None]:
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


class TestFileModes:
    def test_db_upgrade_creates_var_0700_and_the_sqlite_file_0600(self, tmp_path: Path) -> None:
        with lax_umask():
            result = subprocess.run(
                [MODERATION, "db", "upgrade"],
                cwd=tmp_path,
                env=clean_environment(),
                capture_output=True,
                text=True,
                timeout=120,
            )
        assert result.returncode == 0, result.stderr
        assert mode(tmp_path / "var") == 0o700
        assert mode(tmp_path / "var" / "moderation.sqlite") == 0o600

    def test_sqlite_wal_and_shm_files_are_0600_too(self, tmp_path: Path) -> None:
        database = tmp_path / "data" / "moderation.sqlite"
        with lax_umask():
            engine = make_engine(f"sqlite:///{database}")
            try:
                with engine.begin() as connection:
                    connection.exec_driver_sql("CREATE TABLE t (x INTEGER)")
                    connection.exec_driver_sql("INSERT INTO t VALUES (1)")
                written = {p.name: mode(p) for p in database.parent.iterdir()}
            finally:
                engine.dispose()
        assert written["moderation.sqlite"] == 0o600
        assert {name: m for name, m in written.items() if name.endswith(("-wal", "-shm"))} == {
            "moderation.sqlite-wal": 0o600,
            "moderation.sqlite-shm": 0o600,
        }

    def test_an_existing_world_readable_sqlite_file_is_tightened(self, tmp_path: Path) -> None:
        database = tmp_path / "old.sqlite"
        database.touch()
        database.chmod(0o644)
        make_engine(f"sqlite:///{database}").dispose()
        assert mode(database) == 0o600

    def test_secret_key_file_is_0600_and_kept(self, tmp_path: Path) -> None:
        with lax_umask():
            key = local_secret_key(tmp_path / "var")
        path = tmp_path / "var" / "secret_key"
        assert mode(path) == 0o600
        assert mode(tmp_path / "var") == 0o700
        assert len(key) >= 48 and local_secret_key(tmp_path / "var") == key

    def test_an_existing_lax_var_dir_and_key_file_are_tightened(self, tmp_path: Path) -> None:
        var = tmp_path / "var"
        var.mkdir(mode=0o755)
        var.chmod(0o755)
        (var / "secret_key").write_text("k" * 64)
        (var / "secret_key").chmod(0o644)
        _writable_var_dir(var)
        assert local_secret_key(var) == "k" * 64
        assert mode(var) == 0o700
        assert mode(var / "secret_key") == 0o600

    @pytest.mark.slow
    @pytest.mark.integration
    def test_up_leaves_owner_only_files(self, tmp_path: Path) -> None:
        with lax_umask():
            run = start_up(tmp_path, free_port())
        try:
            run.wait_for_banner()
            wait_ready(run.api)
            var = run.var_dir
            assert mode(var) == 0o700
            assert mode(var / "moderation.sqlite") == 0o600
            assert mode(var / "secret_key") == 0o600
        finally:
            leftovers = run.descendants()
            if run.process.poll() is None:
                run.interrupt()
            for process in still_running(leftovers):
                process.kill()
