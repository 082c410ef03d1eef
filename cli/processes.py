"""`moderation api` and `moderation worker`: one production process each, for compose or systemd.

Both replace themselves with the real server (exec), so the supervisor's signals reach gunicorn
or Celery directly and the process id it watches is the server's own.
"""

from __future__ import annotations

import os
import sys

import click

from core.settings import get_settings, secret_key_problem


def _exec_python_module(module: str, args: list[str]) -> None:
    """Become `python -m module args` (never returns)."""
    argv = [sys.executable, "-m", module, *args]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, argv)


def gunicorn_arguments(bind: str | None, workers: int, threads: int, timeout: int) -> list[str]:
    """gunicorn serving service:create_app(); without --bind gunicorn reads PORT itself."""
    args = [
        "--worker-class", "gthread",
        "--workers", str(workers),
        "--threads", str(threads),
        "--timeout", str(timeout),
        "--graceful-timeout", str(timeout),
        "--access-logfile", "-",
    ]  # fmt: skip
    # Proxy headers stay untrusted unless FORWARDED_ALLOW_IPS (read by gunicorn) says otherwise.
    if bind:
        args += ["--bind", bind]
    return [*args, "service:create_app()"]


def celery_worker_arguments(
    queues: str, concurrency: int | None, beat: bool, schedule: str, loglevel: str
) -> list[str]:
    """celery worker for worker.app on our queues; --beat embeds the sweeper's scheduler."""
    args = ["-A", "worker.app", "worker", "--queues", queues, "--loglevel", loglevel]
    if concurrency:
        args += ["--concurrency", str(concurrency)]
    if beat:
        args += ["--beat", "--schedule", schedule]
    return args


@click.command()
@click.option(
    "--bind",
    default=None,
    help="host:port to listen on (default: gunicorn's, i.e. 0.0.0.0:$PORT or 127.0.0.1:8000).",
)
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1))
@click.option("--threads", default=4, show_default=True, type=click.IntRange(1))
@click.option("--timeout", default=30, show_default=True, type=click.IntRange(1), help="Seconds.")
def api(bind: str | None, workers: int, threads: int, timeout: int) -> None:
    """Serve the HTTP API with gunicorn (gthread); GUNICORN_CMD_ARGS adds more settings."""
    # Checked here too: gunicorn would report the app's refusal as a traceback per worker.
    problem = secret_key_problem(get_settings().secret_key)
    if problem is not None:
        raise click.ClickException(problem)
    _exec_python_module("gunicorn", gunicorn_arguments(bind, workers, threads, timeout))


@click.command()
@click.option(
    "--beat/--no-beat",
    default=False,
    show_default=True,
    help="Also run the sweeper's scheduler in this process (run exactly one of these).",
)
@click.option(
    "--concurrency", default=None, type=click.IntRange(1), help="Processes (default: CPUs)."
)
def worker(beat: bool, concurrency: int | None) -> None:
    """Run a Celery worker (score, deliver, sweep) on REDIS_URL."""
    settings = get_settings()
    schedule = str(settings.var_dir.resolve() / "celerybeat-schedule")
    if beat:
        settings.var_dir.mkdir(parents=True, exist_ok=True)
    _exec_python_module(
        "celery",
        celery_worker_arguments(
            settings.worker_queues, concurrency, beat, schedule, settings.log_level
        ),
    )
