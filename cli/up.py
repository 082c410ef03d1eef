"""`moderation up`: the whole service in one process tree, for a laptop or a first look.

It migrates the database, starts a private Redis unless REDIS_URL is set, then the API (gunicorn,
2 gthread workers, the same server as production) and one Celery worker with the sweeper
embedded (-B). Ctrl-C (SIGINT), SIGTERM or SIGHUP stops the API and the worker, waits for them,
then stops Redis and exits 0. Children log to var/log/ so the terminal keeps the instructions.
"""

from __future__ import annotations

import errno
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import click
import httpx
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from cli.embedded import EmbeddedRedis, EmbeddedRedisError
from cli.supervise import child_process, holding_stop_signals, stop_process_group
from core.migrate import upgrade
from core.settings import Settings, get_settings, secret_key_problem

HEALTH_TIMEOUT_SECONDS = 60.0
READY_TIMEOUT_SECONDS = 120.0
CHILD_STOP_TIMEOUT_SECONDS = 20.0
POLL_INTERVAL_SECONDS = 0.2
LOG_TAIL_LINES = 15


class UpError(click.ClickException):
    """A failure `up` reports as one readable line before exiting non-zero."""


class Stopping(Exception):
    """Raised in the main thread by SIGINT/SIGTERM/SIGHUP: stop everything and exit 0."""


@dataclass
class Child:
    """A supervised child process and the log file it writes to."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path


@dataclass
class ProcessTree:
    """What `up` started, stopped in reverse order of importance: API and worker, then Redis."""

    children: list[Child] = field(default_factory=list)
    redis: EmbeddedRedis | None = None

    def stop(self) -> None:
        for child in self.children:
            if child.process.poll() is None:
                child.process.terminate()
        for child in self.children:
            stop_process_group(child.process, CHILD_STOP_TIMEOUT_SECONDS)
        if self.redis is not None:
            self.redis.stop()


def first_comment_snippet(api: str, source_file: Path) -> str:
    """The python one-liner printed by `up` and the README: post a signed comment, show it."""
    return (
        "import json,time,uuid,datetime as d,httpx,standardwebhooks as w;"
        f's=json.load(open("{source_file}"));'
        'b=json.dumps({"id":"cms-"+uuid.uuid4().hex[:8],"thread":{"id":"article-1"},'
        '"author":{"name":"Reader","email":"reader@example.org"},'
        '"body":"Thank you, this article was clear and helpful."});'
        'i="msg_"+uuid.uuid4().hex;t=d.datetime.now(d.timezone.utc);'
        f'r=httpx.post("{api}/v1/sources/"+s["id"]+"/comments",content=b,'
        'headers={"content-type":"application/json","webhook-id":i,'
        '"webhook-timestamp":str(int(t.timestamp())),'
        '"webhook-signature":w.Webhook(s["secret"]).sign(i,t,b)});'
        "print(r.status_code,r.text);"
        f'h={{"authorization":"Bearer "+s["token"]}};u="{api}/v1/comments/"+r.json()["id"];'
        "g=(time.sleep(0.2) or httpx.get(u,headers=h).json() for _ in range(50));"
        'g=next((x for x in g if x.get("status")!="pending"),None);'
        'print(json.dumps(g,indent=2) if g else "still pending after 10 s: see step 3")'
    )


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address the API binds.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
def up(host: str, port: int) -> None:
    """Run the API, a worker and the sweeper together until Ctrl-C."""
    settings = get_settings()
    tree = ProcessTree()
    with _signals_raise_stopping():
        try:
            api = _start(settings, host, port, tree)
            _supervise(tree, api)
        except Stopping:
            click.echo("\nStopping: API and worker first, then Redis...", err=True)
        finally:
            with _signals_ignored():
                tree.stop()
    click.echo("Stopped.", err=True)


def _start(settings: Settings, host: str, port: int, tree: ProcessTree) -> str:
    """Start everything and print the banner; returns the API's base URL."""
    # A key the user set is used as is; only an unset one is replaced by var/secret_key.
    problem = secret_key_problem(settings.secret_key) if settings.secret_key else None
    if problem is not None:
        raise UpError(problem)
    _check_port_free(host, port)
    var_dir = _writable_var_dir(settings.var_dir)
    log_dir = var_dir / "log"
    log_dir.mkdir(exist_ok=True)
    database_url = settings.sqlalchemy_url
    _migrate(settings, database_url)

    redis_url = settings.redis_url
    if not redis_url:
        tree.redis = EmbeddedRedis(settings.embedded_redis_socket, var_dir, log_dir / "redis.log")
        try:
            tree.redis.start()
        except EmbeddedRedisError as exc:
            raise UpError(str(exc)) from exc
        redis_url = tree.redis.url

    api = f"http://{_display_host(host)}:{port}"
    env = _child_environment(settings, var_dir, database_url, redis_url, api)
    python = sys.executable
    api_command = [
        python, "-m", "gunicorn",
        "--bind", _bind_address(host, port),
        "--workers", "2", "--worker-class", "gthread", "--threads", "4",
        "--graceful-timeout", "10",
        "--no-control-socket",  # gunicorn's default socket is per user: two `up`s would share it
        "service:create_app()",
    ]  # fmt: skip
    worker_command = [
        python, "-m", "celery", "-A", "worker.app", "worker",
        "--beat", "--schedule", str(var_dir / "celerybeat-schedule"),
        "--queues", settings.worker_queues,
        "--concurrency", "1",
        "--loglevel", settings.log_level,
    ]  # fmt: skip
    for name, command in (("api", api_command), ("worker", worker_command)):
        log_path = log_dir / f"{name}.log"
        with holding_stop_signals(), log_path.open("ab") as log_file:
            # The child keeps its own descriptor of the log once started.
            tree.children.append(
                Child(name, child_process(command, env=env, output=log_file), log_path)
            )

    _wait_until(f"{api}/healthz", tree, HEALTH_TIMEOUT_SECONDS, "the API did not answer /healthz")
    _print_banner(api, var_dir, database_url, redis_url, tree)
    return api


def _supervise(tree: ProcessTree, api: str) -> None:
    """Wait for a signal; a child that exits on its own ends `up` with its log's last lines.

    Meanwhile it says once when /readyz turns ready (the worker loaded the model), or, if that
    takes too long, which readiness checks still fail.
    """
    readiness = ReadinessReport(api, time.monotonic() + READY_TIMEOUT_SECONDS)
    while True:
        for child in tree.children:
            _raise_if_exited(child)
        readiness.poll()
        if tree.redis is not None and tree.redis.process is not None:
            if tree.redis.process.poll() is not None:
                raise UpError(f"the private Redis stopped unexpectedly; see {tree.redis.log_path}")
        time.sleep(POLL_INTERVAL_SECONDS)


@dataclass
class ReadinessReport:
    """Tells the person at the terminal when the service can decide comments, or why not yet."""

    api: str
    deadline: float
    done: bool = False
    next_check: float = 0.0

    def poll(self) -> None:
        now = time.monotonic()
        if self.done or now < self.next_check:
            return
        self.next_check = now + 1.0
        try:
            response = httpx.get(f"{self.api}/readyz", timeout=2)
            body = response.json()
        except (httpx.HTTPError, ValueError):
            return
        if response.status_code == 200:
            versions = ", ".join(body.get("model_versions") or []) or "loaded"
            click.echo(f"Ready: the worker scores comments (model {versions}).")
            self.done = True
        elif now > self.deadline:
            failed = ", ".join(body.get("failed") or []) or "unknown"
            checks = body.get("checks") or {}
            details = "; ".join(f"{name}: {checks.get(name, '?')}" for name in failed.split(", "))
            click.echo(
                f"Not ready after {READY_TIMEOUT_SECONDS:.0f} s ({details}); comments are "
                "stored and will be scored once it is. See the worker log.",
                err=True,
            )
            self.done = True


def _raise_if_exited(child: Child) -> None:
    code = child.process.poll()
    if code is None:
        return
    tail = _tail(child.log_path)
    raise UpError(
        f"the {child.name} stopped unexpectedly (exit code {code}); see {child.log_path}"
        + (f"\n{tail}" if tail else "")
    )


def _tail(path: Path) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join("    " + line for line in lines[-LOG_TAIL_LINES:])


def _wait_until(url: str, tree: ProcessTree, timeout: float, failure: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for child in tree.children:
            _raise_if_exited(child)
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(POLL_INTERVAL_SECONDS)
    raise UpError(f"{failure} within {timeout:.0f} s; see {tree.children[0].log_path}")


def _print_banner(
    api: str, var_dir: Path, database_url: str, redis_url: str, tree: ProcessTree
) -> None:
    moderation = shutil.which("moderation") or str(Path(sys.executable).parent / "moderation")
    source_file = var_dir / "demo-source.json"
    safe_db = make_url(database_url).render_as_string(hide_password=True)
    redis_note = " (private, stopped with `up`)" if tree.redis is not None else ""
    logs = f"{var_dir / 'log'}/ ({', '.join(child.log_path.name for child in tree.children)}"
    logs += ", redis.log)" if tree.redis is not None else ")"
    snippet = first_comment_snippet(api, source_file)
    lines = [
        "",
        "moderation is up.",
        f"  API:            {api}   (docs: {api}/openapi.json, probes: /healthz /readyz)",
        f"  Moderator page: {api}/moderate",
        f"  Database:       {safe_db}",
        f"  Redis:          {redis_url}{redis_note}",
        f"  Logs:           {logs}",
        "",
        "Post a first comment, from another terminal:",
        "  1. Register a source; its id, secret and token are shown only this once:",
        f"       {moderation} sources add demo --json > {source_file}",
        "  2. Post a signed comment, then see its decision (status, scores, reasons):",
        f"       {shlex.quote(sys.executable)} -c {shlex.quote(snippet)}",
        "  3. Read it again any time, with the source's token:",
        f'       curl -H "Authorization: Bearer <token from {source_file.name}>" '
        f"{api}/v1/comments/<id>",
        "",
        "Press Ctrl-C to stop.",
    ]
    click.echo("\n".join(lines))


def _check_port_free(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise UpError(
                    f"port {port} on {host} is already in use; stop what uses it or pass --port"
                ) from exc
            raise UpError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc


def _writable_var_dir(var_dir: Path) -> Path:
    var_dir = var_dir.resolve()
    try:
        var_dir.mkdir(parents=True, exist_ok=True)
        probe = var_dir / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise UpError(
            f"cannot write to {var_dir} ({exc.strerror}); run from a writable directory "
            "or set MODERATION_VAR_DIR"
        ) from exc
    return var_dir


def _migrate(settings: Settings, database_url: str) -> None:
    try:
        upgrade(settings)
    except (SQLAlchemyError, OSError) as exc:
        safe = make_url(database_url).render_as_string(hide_password=True)
        lines = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        reason = lines[0] if lines else type(exc).__name__
        raise UpError(f"cannot migrate the database at {safe}: {reason}") from exc


def _child_environment(
    settings: Settings, var_dir: Path, database_url: str, redis_url: str, api: str
) -> dict[str, str]:
    """The parent's environment plus the resolved URLs, so every child agrees on them."""
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        MODERATION_VAR_DIR=str(var_dir),
        SECRET_KEY=settings.secret_key or _local_secret_key(var_dir),
        # Links point at this server; plain http here, so session cookies cannot require TLS.
        PUBLIC_URL=settings.public_url or api,
        PYTHONUNBUFFERED="1",
        # API and worker write their metrics here; the API's /metrics adds them all up.
        PROMETHEUS_MULTIPROC_DIR=os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        or str(_fresh_metrics_dir(var_dir)),
    )
    return env


def _fresh_metrics_dir(var_dir: Path) -> Path:
    """An empty var/metrics: files of processes from an earlier run would be added up forever."""
    folder = var_dir / "metrics"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def _local_secret_key(var_dir: Path) -> str:
    """A random SECRET_KEY kept in var/, so moderator sessions survive a restart of `up`."""
    path = var_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_urlsafe(48)
    path.touch(mode=0o600)
    path.write_text(key)
    return key


def _bind_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _display_host(host: str) -> str:
    """Where a browser on this machine reaches the API (a wildcard bind is not an address)."""
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def _raise_stopping(signum: int, _frame: FrameType | None) -> None:
    raise Stopping(signal.Signals(signum).name)


@contextmanager
def _signals_raise_stopping() -> Iterator[None]:
    previous = {sig: signal.signal(sig, _raise_stopping) for sig in _STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextmanager
def _signals_ignored() -> Iterator[None]:
    """While stopping, a second Ctrl-C must not abandon children half-stopped."""
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in _STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
