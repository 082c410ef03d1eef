"""`moderation up`: the whole service in one process tree, for a laptop or a first look.

It migrates the database, starts a private Redis unless REDIS_URL is set, then the API (gunicorn,
2 gthread workers, the same server as production), one scoring Celery worker with the sweeper
embedded (-B) and one deliverer (the callbacks, in threads), as `moderation worker --beat` and
`moderation deliverer` would. A child that dies once everything is up is started again after a
RestartBackoff delay, with one log line per death and per restart; meanwhile the API keeps taking
comments (they wait in the database for the sweeper) and /readyz names the child that is down,
read from the status file `up` keeps in var/. Only Ctrl-C (SIGINT), SIGTERM or SIGHUP stops the
tree: the API and the workers first, then Redis, and `up` exits 0. Children log to var/log/ so the
terminal keeps the instructions.
"""

from __future__ import annotations

import errno
import json
import logging
import os
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
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Protocol

import click
import httpx
import redis
import structlog
from redis.backoff import NoBackoff
from redis.retry import Retry
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from cli.embedded import EmbeddedRedis, EmbeddedRedisError
from cli.processes import celery_deliverer_arguments
from cli.supervise import (
    RestartBackoff,
    child_process,
    holding_stop_signals,
    stop_process_group,
)
from core.logging import configure_logging
from core.migrate import upgrade
from core.secrets import local_secret_key
from core.settings import Settings, get_settings, secret_key_problem
from worker.heartbeat import KEY_PREFIX as HEARTBEAT_PREFIX

log = structlog.stdlib.get_logger(__name__)

HEALTH_TIMEOUT_SECONDS = 60.0
READY_TIMEOUT_SECONDS = 120.0
CHILD_STOP_TIMEOUT_SECONDS = 20.0
POLL_INTERVAL_SECONDS = 0.2
LOG_TAIL_LINES = 15
# The file in var/ where `up` says which children run; the API's /readyz reports it.
STATUS_FILE = "up-status.json"
# How often `up` looks for the first heartbeat of a (re)started worker.
HEARTBEAT_POLL_SECONDS = 1.0


class UpError(click.ClickException):
    """A failure `up` reports as one readable line before exiting non-zero."""


class Stopping(Exception):
    """Raised in the main thread by SIGINT/SIGTERM/SIGHUP: stop everything and exit 0."""


class Supervised(Protocol):
    """A child `up` starts, watches and starts again: a command, or the private Redis."""

    @property
    def name(self) -> str: ...

    @property
    def log_path(self) -> Path: ...

    @property
    def process(self) -> subprocess.Popen[bytes] | None: ...

    def start(self) -> None: ...

    def reap(self) -> None: ...


@dataclass
class Child:
    """A supervised child process: its command line, environment and the log file it writes to."""

    name: str
    command: list[str]
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with holding_stop_signals(), self.log_path.open("ab") as log_file:
            # The child keeps its own descriptor of the log once started.
            self.process = child_process(self.command, env=self.env, output=log_file)

    def reap(self) -> None:
        """After the leader died: kill what it forked (a pool process, the beat), none may stay."""
        if self.process is not None:
            stop_process_group(self.process, CHILD_STOP_TIMEOUT_SECONDS)


@dataclass
class RedisChild:
    """The private Redis as a supervised child (it comes back with its append-only file only)."""

    server: EmbeddedRedis
    name: str = "redis"

    @property
    def log_path(self) -> Path:
        return self.server.log_path

    @property
    def process(self) -> subprocess.Popen[bytes] | None:
        return self.server.process

    def start(self) -> None:
        self.server.start()

    def reap(self) -> None:
        self.server.stop()


@dataclass
class ProcessTree:
    """What `up` started, stopped in reverse order of importance: API and worker, then Redis."""

    var_dir: Path = Path("var")
    started_at: float = field(default_factory=time.monotonic)
    started_wall: datetime = field(default_factory=lambda: datetime.now(UTC))
    children: list[Child] = field(default_factory=list)
    redis: EmbeddedRedis | None = None

    def stop(self) -> None:
        running = [child.process for child in self.children if child.process is not None]
        for process in running:
            if process.poll() is None:
                process.terminate()
        for process in running:
            stop_process_group(process, CHILD_STOP_TIMEOUT_SECONDS)
        if self.redis is not None:
            self.redis.stop()

    def supervised(self) -> list[Supervised]:
        """Redis first: a restart round brings the broker back before what needs it."""
        redis_child: list[Supervised] = [RedisChild(self.redis)] if self.redis is not None else []
        return [*redis_child, *self.children]


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
    configure_logging(settings)
    # Only `up`'s own lines on the terminal, not one per readiness probe.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    tree = ProcessTree()
    with _signals_raise_stopping():
        try:
            api = _start(settings, host, port, tree)
            _supervise(tree, api, settings)
        except Stopping:
            click.echo("\nStopping: API and workers first, then Redis...", err=True)
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
    var_dir = tree.var_dir = _writable_var_dir(settings.var_dir)
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
    status = StatusFile(var_dir / STATUS_FILE)
    status.path.unlink(missing_ok=True)
    env["MODERATION_UP_STATUS"] = str(status.path)
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
        "--queues", settings.queue_name,
        "--concurrency", "1",
        "--loglevel", settings.log_level,
    ]  # fmt: skip
    deliverer_command = [
        python,
        "-m",
        "celery",
        *celery_deliverer_arguments(settings.delivery_queue_name, 2, settings.log_level),
    ]
    children = (("api", api_command), ("worker", worker_command), ("deliverer", deliverer_command))
    for name, command in children:
        child = Child(name, command, env, log_dir / f"{name}.log")
        tree.children.append(child)
        child.start()

    _wait_until(f"{api}/healthz", tree, HEALTH_TIMEOUT_SECONDS, "the API did not answer /healthz")
    _print_banner(api, var_dir, database_url, redis_url, tree)
    return api


def _supervise(tree: ProcessTree, api: str, settings: Settings) -> None:
    """Watch the children until a signal; start each one that dies again, after a backoff.

    Meanwhile it says once when /readyz turns ready (the worker loaded the model), or, if that
    takes too long, which readiness checks still fail.
    """
    readiness = ReadinessReport(api, time.monotonic() + READY_TIMEOUT_SECONDS)
    status = StatusFile(tree.var_dir / STATUS_FILE)
    heartbeats = HeartbeatProbe(settings.redis_client_url if tree.redis is None else tree.redis.url)
    watches = [
        Watch(
            child,
            RestartBackoff(),
            # The worker counts as up once it beats (its model is loaded), not when it starts.
            state="starting" if child.name == "worker" else "running",
            started_at=tree.started_at,
            started_wall=tree.started_wall,
        )
        for child in tree.supervised()
    ]
    status.write(watches)
    try:
        while True:
            now = time.monotonic()
            changed = False
            for watch in watches:
                changed |= watch.step(now, heartbeats)
            if changed:
                status.write(watches)
            readiness.poll()
            time.sleep(POLL_INTERVAL_SECONDS)
    finally:
        heartbeats.close()


@dataclass
class Watch:
    """What `up` knows of one child: running (since when), starting, or dead until restart_at."""

    child: Supervised
    backoff: RestartBackoff
    state: str = "running"
    started_at: float = field(default_factory=time.monotonic)
    started_wall: datetime = field(default_factory=lambda: datetime.now(UTC))
    deaths_in_a_row: int = 0
    restarts: int = 0
    restart_at: float = 0.0
    restart_wall: datetime | None = None
    last_exit: str = ""

    def step(self, now: float, heartbeats: HeartbeatProbe) -> bool:
        """Notice a death, restart when due, notice a restarted worker ready; True if changed."""
        process = self.child.process
        if self.state in ("running", "starting"):
            code = None if process is None else process.poll()
            if code is None and process is not None:
                if self.state == "starting" and heartbeats.beat_since(self.started_wall):
                    self.state = "running"
                    if self.restarts:
                        log.info("child ready", child=self.child.name, pid=process.pid)
                    return True
                return False
            self._died(now, describe_exit(code), process.pid if process is not None else None)
            return True
        if self.state == "restarting" and now >= self.restart_at:
            self._restart(now)
            return True
        return False

    def _died(self, now: float, how: str, pid: int | None) -> None:
        self.child.reap()
        uptime = now - self.started_at
        self.deaths_in_a_row = self.backoff.deaths_in_a_row(self.deaths_in_a_row, uptime)
        delay = self.backoff.delay(self.deaths_in_a_row)
        self.state, self.restart_at, self.last_exit = "restarting", now + delay, how
        self.restart_wall = datetime.now(UTC) + timedelta(seconds=delay)
        log.warning(
            "child died",
            child=self.child.name,
            pid=pid,
            exit=how,
            uptime_seconds=round(uptime, 1),
            restart_in_seconds=delay,
            deaths_in_a_row=self.deaths_in_a_row,
            log_path=str(self.child.log_path),
        )

    def _restart(self, now: float) -> None:
        self.restarts += 1
        self.started_at, self.started_wall = now, datetime.now(UTC)
        try:
            self.child.start()
        except (EmbeddedRedisError, OSError) as exc:
            self._died(now, f"could not start: {exc}", None)
            return
        process = self.child.process
        self.state = "starting" if self.child.name == "worker" else "running"
        log.info(
            "child restarted",
            child=self.child.name,
            pid=process.pid if process is not None else None,
            restarts=self.restarts,
        )

    def as_status(self) -> dict[str, object]:
        process = self.child.process
        detail = ""
        if self.state == "starting":
            detail = "started, waiting for its first heartbeat (model loaded)"
        elif self.state == "restarting" and self.restart_wall is not None:
            due = self.restart_wall.isoformat(timespec="milliseconds")
            detail = f"died ({self.last_exit}); starting again at {due}"
        return {
            "state": self.state,
            "detail": detail,
            "pid": process.pid if process is not None and self.state != "restarting" else None,
            "restarts": self.restarts,
            "since": self.started_wall.isoformat(),
            "last_exit": self.last_exit or None,
        }


def describe_exit(code: int | None) -> str:
    if code is None:
        return "not running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


@dataclass
class StatusFile:
    """var/up-status.json: each child's state, replaced whole so a reader never sees half."""

    path: Path

    def write(self, watches: list[Watch]) -> None:
        body = {
            "pid": os.getpid(),
            "updated_at": datetime.now(UTC).isoformat(),
            "children": {watch.child.name: watch.as_status() for watch in watches},
        }
        partial = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        partial.write_text(json.dumps(body, indent=2))
        os.replace(partial, self.path)


class HeartbeatProbe:
    """Looks in Redis for a worker heartbeat newer than a (re)start, at most once a second."""

    def __init__(self, url: str) -> None:
        self.client = redis.Redis.from_url(
            url, socket_timeout=0.5, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0)
        )
        self.next_look = 0.0

    def beat_since(self, started: datetime) -> bool:
        now = time.monotonic()
        if now < self.next_look:
            return False
        self.next_look = now + HEARTBEAT_POLL_SECONDS
        # A beat's "at" has microseconds; the clock of the start is compared a little loosely.
        since = started - timedelta(seconds=1)
        try:
            for key in self.client.scan_iter(match=f"{HEARTBEAT_PREFIX}*", count=100):
                raw = self.client.get(key)
                at = json.loads(raw).get("at") if raw else None
                if at and datetime.fromisoformat(at) >= since:
                    return True
        except (redis.RedisError, ValueError, AttributeError):
            return False
        return False

    def close(self) -> None:
        self.client.close()


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
    """While starting, a dead child is a mistake to report (a port, a setting), not to retry."""
    code = child.process.poll() if child.process is not None else None
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
        # Owner-only: it holds the database, the secret key and the Redis socket.
        var_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        var_dir.chmod(0o700)
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
    """A random SECRET_KEY kept in var/ (0600), so moderator sessions survive a restart of `up`."""
    return local_secret_key(var_dir)


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
