"""Running the real `moderation` console script as a subprocess, with a clean environment."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

MODERATION = str(Path(sys.executable).parent / "moderation")
# Settings the developer's shell may carry that would point a test at the wrong place.
SERVICE_VARIABLES = (
    "DATABASE_URL",
    "REDIS_URL",
    "MODERATION_VAR_DIR",
    "MODERATION_QUEUE",
    "SECRET_KEY",
    "PUBLIC_URL",
    "METRICS_TOKEN",
    "GUNICORN_CMD_ARGS",
    "PORT",
)


def clean_environment(**overrides: str) -> dict[str, str]:
    """This process's environment without the service's settings, plus overrides."""
    env = {k: v for k, v in os.environ.items() if k not in SERVICE_VARIABLES}
    env.update(overrides)
    return env


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


BANNER_END = "Press Ctrl-C to stop."
START_TIMEOUT = 120.0
STOP_TIMEOUT = 45.0


@dataclass
class UpRun:
    """One `moderation up` subprocess, its working directory and its captured output."""

    process: subprocess.Popen[bytes]
    workdir: Path
    output_path: Path
    port: int

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def var_dir(self) -> Path:
        return self.workdir / "var"

    def output(self) -> str:
        return self.output_path.read_text(errors="replace")

    def wait_for_banner(self) -> str:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            text = self.output()
            if BANNER_END in text:
                return text
            if self.process.poll() is not None:
                raise AssertionError(f"up exited with {self.process.returncode}:\n{text}")
            time.sleep(0.1)
        raise AssertionError(f"up printed no banner within {START_TIMEOUT} s:\n{self.output()}")

    def descendants(self) -> list[psutil.Process]:
        return psutil.Process(self.process.pid).children(recursive=True)

    def kill_tree(self) -> None:
        """After a test that failed half-way: kill `up` and all it started, leave nothing behind."""
        if self.process.poll() is None:
            leftovers = self.descendants()
            self.process.kill()
            self.process.wait()
            for process in still_running(leftovers):
                process.kill()

    def interrupt(self) -> int:
        """Ctrl-C as a terminal sends it, then wait for `up` to finish stopping."""
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(STOP_TIMEOUT)


def start_up(workdir: Path, port: int, *args: str, **env: str) -> UpRun:
    output_path = workdir / "up-output.txt"
    with output_path.open("wb") as output:
        process = subprocess.Popen(
            [MODERATION, "up", "--port", str(port), *args],
            cwd=workdir,
            env=clean_environment(**env),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return UpRun(process, workdir, output_path, port)


def still_running(processes: list[psutil.Process]) -> list[psutil.Process]:
    alive = []
    for process in processes:
        try:
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                alive.append(process)
        except psutil.NoSuchProcess:
            pass
    return alive


def wait_ready(api: str, timeout: float = START_TIMEOUT) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    body: dict[str, object] = {}
    while time.monotonic() < deadline:
        response = httpx.get(f"{api}/readyz", timeout=5)
        body = response.json()
        if response.status_code == 200:
            return body
        time.sleep(0.25)
    raise AssertionError(f"/readyz not ready within {timeout} s: {body}")
