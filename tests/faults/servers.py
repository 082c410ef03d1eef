"""Private Redis and PostgreSQL servers the fault tests start, stop and break on their own ports.

The shared servers on 6379/5432 are never touched: each server here runs from a temp dir on a
free port, and `stop()`/`start()` simulate an outage and the recovery of exactly that server.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
import redis

START_TIMEOUT = 30.0


def free_port() -> int:
    """A TCP port nothing listens on right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait(check: object, what: str, timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():  # type: ignore[operator]
                return
        except Exception:  # noqa: BLE001 - any failure means "not up yet"
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not come up within {timeout} s")
        time.sleep(0.05)


class RedisServer:
    """A redis-server without persistence: a restart comes back empty, like a lost instance."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="moderation-faults-redis-"))
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server must be on PATH for the fault tests"
        log = (self.dir / "redis.log").open("ab")
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.dir),
            ],  # fmt: skip
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5)
        try:
            _wait(client.ping, f"redis-server on port {self.port}")
        finally:
            client.close()

    def stop(self) -> None:
        """Kill the server at once (SIGKILL): clients see connections refused from now on."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def _postgres_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    assert found, f"no /usr/lib/postgresql/*/bin/{name}: install the postgresql package"
    return found[-1]


class PostgresServer:
    """A private PostgreSQL cluster (initdb + pg_ctl) in a temp dir, trust auth, its own port.

    PostgreSQL refuses to run as root, so as root every command runs as the `postgres` user,
    who then owns the temp dir.
    """

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="moderation-faults-pg-"))
        self.data = self.dir / "data"
        self.sockets = self.dir / "sockets"
        self.log = self.dir / "postgres.log"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self._as_postgres = os.geteuid() == 0
        self.sockets.mkdir()
        if self._as_postgres:
            user = pwd.getpwnam("postgres")
            for path in (self.dir, self.sockets):
                os.chown(path, user.pw_uid, user.pw_gid)

    def _run(self, *command: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if self._as_postgres else []
        result = subprocess.run(
            prefix + list(command), capture_output=True, text=True, timeout=120, check=False
        )
        if result.returncode != 0:
            raise AssertionError(
                f"{command[0]} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
            )

    def init(self) -> None:
        self._run(
            _postgres_bin("initdb"), "-D", str(self.data), "-U", "postgres",
            "--auth=trust", "-E", "UTF8", "--no-sync", "--no-instructions",
        )  # fmt: skip

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c full_page_writes=off -c max_connections=200"
        )
        self._run(
            _postgres_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.log),
            "-o", options, "-w", "-t", "60", "start",
        )  # fmt: skip
        _wait(lambda: psycopg.connect(self.url, connect_timeout=1).close() is None, "postgres")

    def stop(self, mode: str = "immediate") -> None:
        """Stop the server; "immediate" is a crash (no shutdown checkpoint, clients cut off)."""
        if not (self.data / "postmaster.pid").exists():
            return
        self._run(
            _postgres_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop"
        )

    def cleanup(self) -> None:
        try:
            self.stop("immediate")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
