"""`moderation api`, `moderation worker` and `moderation deliverer`: one production process each,
for compose or systemd.

The worker scores (a prefork pool, one process per CPU, each with the model); the deliverer POSTs
the callbacks (a pool of threads in one process, no model): waiting on a CMS is I/O, so a scoring
batch never waits behind a delivery batch. Each replaces itself with the real server (exec), so the
supervisor's signals reach gunicorn or Celery directly and the process id it watches is the server's
own.
"""

from __future__ import annotations

import os
import sys

import click

from core.settings import get_settings, secret_key_problem

# Delivery batches one deliverer runs at once: threads waiting on CMSs cost little CPU.
DELIVERER_THREADS = 4


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


def celery_deliverer_arguments(queue: str, threads: int, loglevel: str) -> list[str]:
    """celery worker for worker.app on the delivery queue only, `threads` tasks at a time in one
    process (the threads pool never fires worker_process_init: the model is not loaded). One
    message per thread in flight: with late acks the rest wait in Redis for any deliverer."""
    return [
        "-A", "worker.app", "worker", "--queues", queue, "--loglevel", loglevel,
        "--pool", "threads", "--concurrency", str(threads), "--prefetch-multiplier", "1",
    ]  # fmt: skip


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
    """Run the scoring Celery worker (score, sweep) on REDIS_URL; callbacks need a deliverer."""
    settings = get_settings()
    schedule = str(settings.var_dir.resolve() / "celerybeat-schedule")
    if beat:
        settings.var_dir.mkdir(parents=True, exist_ok=True)
    _exec_python_module(
        "celery",
        celery_worker_arguments(
            settings.queue_name, concurrency, beat, schedule, settings.log_level
        ),
    )


@click.command()
@click.option(
    "--threads",
    default=DELIVERER_THREADS,
    show_default=True,
    type=click.IntRange(1),
    help="Delivery batches at a time (each POSTs DELIVERY_PARALLEL_REQUESTS at once).",
)
def deliverer(threads: int) -> None:
    """Run the callback Celery worker (deliver) on REDIS_URL: threads, no model."""
    settings = get_settings()
    _exec_python_module(
        "celery",
        celery_deliverer_arguments(settings.delivery_queue_name, threads, settings.log_level),
    )
