"""Running the real `moderation` console script as a subprocess, with a clean environment."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

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
