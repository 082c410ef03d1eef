"""Shared load-generation code of the service benchmarks: scratch database, signed requests, wrk.

Every benchmark measures its baseline and its subject in the same run with the same client, so
the ratio stays meaningful on a noisy 2-core machine. Nothing here touches the shared `test`
database: each run creates its own PostgreSQL database beside it and drops it afterwards.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
# High enough that the intake rate limit (still checked in Redis on every request) never refuses.
UNLIMITED_RATE = "100000000/minute"
HEALTH_TIMEOUT_SECONDS = 60.0


def admin_database_url() -> str:
    return os.environ.get("BENCH_DATABASE_URL") or os.environ.get(
        "TEST_DATABASE_URL", DEFAULT_PG_URL
    )


def redis_url() -> str:
    return os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL)


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (pct in 0..100); 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


# ---------------------------------------------------------------- database and source


@contextmanager
def scratch_database() -> Iterator[str]:
    """A fresh PostgreSQL database migrated to head, dropped afterwards (never the shared one)."""
    import psycopg
    from sqlalchemy.engine import make_url

    from core.db import dispose_engines
    from core.migrate import upgrade
    from core.settings import Settings

    admin = make_url(admin_database_url().replace("postgresql+psycopg://", "postgresql://"))
    name = f"moderation_bench_{uuid.uuid4().hex[:10]}"
    conninfo = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    url = admin.set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(Settings(database_url=url))
        yield url
    finally:
        dispose_engines()
        with psycopg.connect(conninfo, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass(frozen=True)
class BenchSource:
    """A source the load generator signs for."""

    id: str
    secret: str


# One key per benchmark process: sources it creates and the services it starts share it.
SECRET_KEY = secrets.token_urlsafe(48)


def create_bench_source(database_url: str, callback_url: str | None = None) -> BenchSource:
    """A source; without a callback URL decisions are recorded and no CMS is called."""
    from core.db import session_scope
    from core.settings import configure
    from core.store import create_source

    # The secret is stored encrypted under the key the benchmark's services are given.
    with session_scope(configure(database_url=database_url, secret_key=SECRET_KEY)) as session:
        created = create_source(
            session, name=f"bench-{uuid.uuid4().hex[:6]}", callback_url=callback_url
        )
        return BenchSource(id=created.source.id, secret=created.secret)


def comment_body(index: int) -> str:
    from cli.simulate import SAMPLE_COMMENTS

    return SAMPLE_COMMENTS[index % len(SAMPLE_COMMENTS)]


def signed_request(
    source: BenchSource, run_id: str, index: int, timestamp: int | None = None
) -> tuple[str, dict[str, str], bytes]:
    """(path, headers, body) of one intake request: unique comment id and webhook id, signed now."""
    from cli.simulate import comment_payload
    from service.signing import sign

    body = json.dumps(comment_payload(run_id, index, comment_body(index))).encode()
    webhook_id = f"msg_{run_id}_{index}"
    stamp = int(time.time()) if timestamp is None else timestamp
    headers = {
        "Content-Type": "application/json",
        "webhook-id": webhook_id,
        "webhook-timestamp": str(stamp),
        "webhook-signature": sign(source.secret, webhook_id, stamp, body),
    }
    return f"/v1/sources/{source.id}/comments", headers, body


# ---------------------------------------------------------------- servers


@dataclass
class Server:
    """A process group started for a benchmark (gunicorn or celery) and its log file."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def stop(self, timeout: float = 20.0) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
            except ProcessLookupError:
                return
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]


def service_env(database_url: str, queue: str, **extra: str) -> dict[str, str]:
    """Environment of `moderation api` / `moderation worker` for one benchmark run."""
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url(),
        MODERATION_QUEUE=queue,
        INTAKE_RATE_LIMIT=UNLIMITED_RATE,
        SECRET_KEY=SECRET_KEY,
        LOG_LEVEL=os.environ.get("BENCH_LOG_LEVEL", "INFO"),
        PYTHONPATH=str(REPO_ROOT),
    )
    env.update(extra)
    return env


def start(name: str, argv: list[str], env: dict[str, str], log_dir: Path) -> Server:
    log_path = log_dir / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            argv,
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Server(name, process, log_path)


def gunicorn_argv(bind: str, app: str, workers: int = 2, threads: int = 4) -> list[str]:
    """The production gunicorn settings (cli.processes) serving `app` instead of ours."""
    from cli.processes import gunicorn_arguments

    args = gunicorn_arguments(bind, workers, threads, timeout=30)
    return [sys.executable, "-m", "gunicorn", *args[:-1], app]


def moderation_argv(*args: str) -> list[str]:
    """`moderation ARGS` exactly as production runs it."""
    return [_moderation_bin(), *args]


def _moderation_bin() -> str:
    candidate = Path(sys.executable).with_name("moderation")
    return str(candidate) if candidate.exists() else "moderation"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, server: Server, timeout: float = HEALTH_TIMEOUT_SECONDS) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited early:\n{server.log_tail()}")
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{server.name} did not answer {url} within {timeout} s")


def wait_worker_ready(server: Server, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited early:\n{server.log_tail()}")
        if " ready." in server.log_path.read_text(errors="replace"):
            return
        time.sleep(0.3)
    raise RuntimeError(f"{server.name} not ready within {timeout} s")


def create_bare_app() -> Any:
    """The baseline: a Flask JSON endpoint on the intake path; parses the body, answers 202."""
    from flask import Flask, jsonify, request

    app = Flask("bare")

    @app.post("/v1/sources/<source_id>/comments")
    def receive(source_id: str) -> Any:
        data = request.get_json()
        return jsonify(id=str(data.get("id")), status="pending"), 202

    @app.get("/healthz")
    def healthz() -> Any:
        return jsonify(status="ok")

    return app


# ---------------------------------------------------------------- wrk

WRK_SCRIPT = r"""
-- Cycles through pre-generated, pre-signed requests: one file per wrk thread.
local counter = 0
local threads = {}
function setup(thread)
  thread:set("id", counter)
  table.insert(threads, thread)
  counter = counter + 1
end
function init(args)
  requests = {}
  statuses = {}
  local prefix = args[1]
  -- One request a line: path, webhook-id, webhook-timestamp, webhook-signature, body (tabs).
  for line in io.lines(prefix .. id .. ".tsv") do
    local path, wid, stamp, sig, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
    local headers = {
      ["Content-Type"] = "application/json",
      ["webhook-id"] = wid,
      ["webhook-timestamp"] = stamp,
      ["webhook-signature"] = sig,
    }
    table.insert(requests, wrk.format("POST", path, headers, body))
  end
  index = 0
end
function request()
  index = index % #requests + 1
  return requests[index]
end
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
function done(summary, latency, requests)
  local counts = {}
  for _, thread in ipairs(threads) do
    local s = thread:get("statuses")
    for k, v in pairs(s) do counts[tostring(k)] = (counts[tostring(k)] or 0) + v end
  end
  local parts = {}
  for k, v in pairs(counts) do table.insert(parts, string.format('"%s": %d', k, v)) end
  io.write(string.format(
    'WRK_RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, ' ..
    '"errors": %d, "statuses": {%s}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    summary.errors.connect + summary.errors.read + summary.errors.write +
    summary.errors.timeout, table.concat(parts, ", ")))
end
"""


def ensure_wrk() -> str:
    """The wrk binary, installed with apt-get (Debian package `wrk`) when missing."""
    found = shutil.which("wrk")
    if found:
        return found
    print("wrk not found: apt-get install -y wrk", flush=True)
    subprocess.run(
        ["apt-get", "install", "-y", "wrk"],
        check=True,
        stdout=subprocess.DEVNULL,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
    )
    found = shutil.which("wrk")
    if not found:
        raise RuntimeError("wrk is not installed and apt-get could not install it")
    return found


def write_wrk_requests(
    folder: Path, source: BenchSource, run_id: str, per_thread: int, threads: int
) -> str:
    """One file per wrk thread of distinct signed requests, one a line; returns the file prefix."""
    prefix = str(folder / f"requests-{run_id}-")
    now = int(time.time())
    for thread in range(threads):
        with Path(f"{prefix}{thread}.tsv").open("w") as out:
            for i in range(per_thread):
                path, headers, body = signed_request(source, run_id, thread * per_thread + i, now)
                fields = (
                    path,
                    headers["webhook-id"],
                    headers["webhook-timestamp"],
                    headers["webhook-signature"],
                    body.decode(),  # json.dumps escapes tabs and newlines
                )
                out.write("\t".join(fields) + "\n")
    return prefix


@dataclass(frozen=True)
class LoadResult:
    """What one load run measured."""

    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int
    statuses: dict[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def count(self, *statuses: int) -> int:
        return sum(self.statuses.get(str(s), 0) for s in statuses)


def run_wrk(
    base_url: str,
    prefix: str,
    *,
    seconds: float,
    threads: int = 2,
    connections: int = 16,
    folder: Path,
) -> LoadResult:
    script = folder / "cycle.lua"
    script.write_text(WRK_SCRIPT)
    argv = [
        ensure_wrk(),
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        base_url,
        "--",
        prefix,
    ]
    done = subprocess.run(argv, capture_output=True, text=True, check=True)
    for line in done.stdout.splitlines():
        if line.startswith("WRK_RESULT "):
            data = json.loads(line[len("WRK_RESULT ") :])
            return LoadResult(
                requests=int(data["requests"]),
                seconds=data["duration_us"] / 1e6,
                p50_ms=data["p50_us"] / 1000,
                p99_ms=data["p99_us"] / 1000,
                errors=int(data["errors"]),
                statuses={k: int(v) for k, v in data["statuses"].items()},
            )
    raise RuntimeError(f"wrk printed no result:\n{done.stdout}\n{done.stderr}")


# ---------------------------------------------------------------- CPU accounting


def _cpu_seconds(process: Any) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def cpu_by_role(trees: dict[str, int]) -> dict[str, float]:
    """CPU seconds used so far by each named process tree (root pid), PostgreSQL and Redis.

    Differences of two readings say where a load run's CPU went: on a 2-core machine the
    throughput is bounded by the CPU each request costs across all of them.
    """
    import psutil

    roles: dict[int, str] = {}
    for role, pid in trees.items():
        try:
            root = psutil.Process(pid)
            roles.update((p.pid, role) for p in (root, *root.children(recursive=True)))
        except psutil.NoSuchProcess:
            continue
    totals = dict.fromkeys([*trees, "postgres", "redis"], 0.0)
    for process in psutil.process_iter(["name"]):
        try:
            name = process.info["name"] or ""
            role = roles.get(process.pid) or (
                "postgres"
                if name.startswith("postgres")
                else "redis"
                if name.startswith("redis-server")
                else None
            )
            if role is not None:
                totals[role] += _cpu_seconds(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return totals


def main_process_cpu(server: Server) -> float:
    """CPU seconds of a server's root process alone (Celery's main process, not its pool)."""
    import psutil

    try:
        return _cpu_seconds(psutil.Process(server.process.pid))
    except psutil.Error:
        return 0.0


def cpu_ms_by_role(
    before: dict[str, float], after: dict[str, float], requests: int
) -> dict[str, float]:
    """{role: CPU ms per request} between two cpu_by_role readings."""
    return {
        role: 1000 * max(0.0, after[role] - before.get(role, 0.0)) / max(1, requests)
        for role in after
    }


def cpu_per_request_ms(
    before: dict[str, float], after: dict[str, float], requests: int, unit: str = "request"
) -> str:
    """'server 0.31 + postgres 0.08 + redis 0.03 = 0.42 ms CPU per request'."""
    used = {role: max(0.0, after[role] - before.get(role, 0.0)) for role in after}
    per = {role: 1000 * seconds / max(1, requests) for role, seconds in used.items()}
    parts = " + ".join(f"{role} {ms:.2f}" for role, ms in per.items())
    return f"{parts} = {sum(per.values()):.2f} ms CPU per {unit}"


# ---------------------------------------------------------------- paced client


@dataclass
class PacedRun:
    """Comments posted at a steady rate: their ids and the HTTP statuses seen."""

    posted: dict[str, float] = field(default_factory=dict)  # external id -> wall time sent
    statuses: dict[int, int] = field(default_factory=dict)
    late: int = 0  # sends that started more than 100 ms after their slot (client overload)


def paced_post(
    base_url: str,
    source: BenchSource,
    run_id: str,
    *,
    rate: float,
    seconds: float,
    senders: int = 8,
    start_index: int = 0,
    stop: threading.Event | None = None,
) -> PacedRun:
    """Post signed comments open-loop at `rate`/s for `seconds` from a few threads (keep-alive)."""
    import httpx

    run = PacedRun()
    lock = threading.Lock()
    total = max(1, int(rate * seconds))
    started = time.monotonic() + 0.05
    next_index = iter(range(total))
    stop = stop or threading.Event()

    def sender() -> None:
        with httpx.Client(base_url=base_url, timeout=30.0) as client:
            while not stop.is_set():
                with lock:
                    i = next(next_index, None)
                if i is None:
                    return
                slot = started + i / rate
                delay = slot - time.monotonic()
                if delay > 0:
                    if stop.wait(delay):
                        return
                elif delay < -0.1:
                    with lock:
                        run.late += 1
                path, headers, body = signed_request(source, run_id, start_index + i)
                sent = time.time()
                try:
                    status = client.post(path, headers=headers, content=body).status_code
                except httpx.HTTPError:
                    status = 0
                with lock:
                    run.statuses[status] = run.statuses.get(status, 0) + 1
                    if status == 202:
                        run.posted[f"sim-{run_id}-{start_index + i}"] = sent

    pool = [threading.Thread(target=sender, daemon=True) for _ in range(senders)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return run


# ---------------------------------------------------------------- decisions


def decision_latencies(database_url: str, source_id: str) -> list[tuple[datetime, float]]:
    """(decided at, seconds from received_at to the model's decision) for the source's comments."""
    from sqlalchemy import select

    from core.db import session_scope
    from core.settings import Settings
    from core.tables import Comment, Decision

    with session_scope(Settings(database_url=database_url)) as session:
        rows = session.execute(
            select(Comment.received_at, Decision.created_at)
            .join(Decision, Decision.comment_id == Comment.id)
            .where(Comment.source_id == source_id, Decision.actor == "model")
        ).all()
    return [
        (_aware(decided), (_aware(decided) - _aware(received)).total_seconds())
        for received, decided in rows
    ]


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def count_comments(database_url: str, source_id: str) -> tuple[int, int]:
    """(comments stored, comments decided by the model) for the source."""
    from sqlalchemy import func, select

    from core.db import session_scope
    from core.settings import Settings
    from core.tables import Comment, Decision

    with session_scope(Settings(database_url=database_url)) as session:
        stored = session.scalar(
            select(func.count()).select_from(Comment).where(Comment.source_id == source_id)
        )
        decided = session.scalar(
            select(func.count(func.distinct(Decision.comment_id)))
            .join(Comment, Comment.id == Decision.comment_id)
            .where(Comment.source_id == source_id, Decision.actor == "model")
        )
    return int(stored or 0), int(decided or 0)


def work_dir(keep: bool = False) -> Path:
    """A temporary folder for logs and request files (kept when BENCH_KEEP is set)."""
    return Path(tempfile.mkdtemp(prefix="moderation-bench-"))


def log_dir_note(folder: Path) -> str:
    return f"logs and request files: {folder}"


def bind_url(port: int) -> str:
    return f"http://127.0.0.1:{port}"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def machine_line() -> str:
    load = os.getloadavg()
    return f"machine: {os.cpu_count()} CPUs, load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}"


def print_json(label: str, data: dict[str, Any]) -> None:
    print(f"{label} {json.dumps(data, sort_keys=True)}", flush=True)


# ---------------------------------------------------------------- api + worker as in production


@dataclass
class Stack:
    """`moderation api`, `moderation worker` (scoring) and `moderation deliverer` (callbacks) on
    one scratch database and a private queue."""

    api: Server
    worker: Server
    deliverer: Server
    base_url: str

    def stop(self) -> None:
        self.api.stop()
        self.worker.stop()
        self.deliverer.stop()


def start_stack(
    database_url: str,
    queue: str,
    folder: Path,
    *,
    worker_args: Sequence[str] = (),
    worker_env: dict[str, str] | None = None,
    name: str = "",
) -> Stack:
    """Start the three processes exactly as production does and wait until they serve
    (`worker_env`: the worker's and the deliverer's own settings; `name`: prefix of the logs)."""
    metrics_dir = folder / f"{name}prometheus"
    metrics_dir.mkdir(exist_ok=True)
    env = service_env(
        database_url,
        queue,
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
        MODERATION_VAR_DIR=str(folder / f"{name}var"),
    )
    port = free_port()
    api = start(f"{name}api", moderation_argv("api", "--bind", f"127.0.0.1:{port}"), env, folder)
    worker = start(
        f"{name}worker",
        moderation_argv("worker", *worker_args),
        {**env, **(worker_env or {})},
        folder,
    )
    deliverer = start(
        f"{name}deliverer", moderation_argv("deliverer"), {**env, **(worker_env or {})}, folder
    )
    stack = Stack(api, worker, deliverer, bind_url(port))
    try:
        wait_http(stack.base_url + "/healthz", api)
        wait_worker_ready(worker)
        wait_worker_ready(deliverer)
    except BaseException:
        stack.stop()
        raise
    return stack


def worker_queues(queue: str) -> tuple[str, str]:
    """The scoring queue (the worker's) and the delivery queue (the deliverer's) of `queue`."""
    from core.settings import Settings

    return queue, Settings(queue_name=queue).delivery_queue_name


def forget_queue(queue: str) -> None:
    """Drop the benchmark's queues (and Celery's unacked bookkeeping stays harmless)."""
    import redis

    redis.Redis.from_url(redis_url()).delete(*worker_queues(queue))


def wait_queues_empty(queue: str, timeout: float = 300.0) -> float:
    """Wait until nothing waits in the scoring or the delivery queue; the seconds it took.

    A phase that starts while the previous one's deliveries are still queued would measure
    that backlog, not its own load.
    """
    import redis

    client = redis.Redis.from_url(redis_url())
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if sum(int(client.llen(name)) for name in worker_queues(queue)) == 0:
            break
        time.sleep(0.5)
    return time.monotonic() - started


def wait_decided(
    database_url: str,
    source_id: str,
    expected: int,
    timeout: float,
    poll: float = 0.5,
    stalled_after: float = 30.0,
) -> int:
    """Poll until `expected` comments of the source are decided; the count seen. Gives up at
    timeout, or when the count has not moved for `stalled_after` s (a task that failed)."""
    deadline = time.monotonic() + timeout
    decided, last_change, last_count = 0, time.monotonic(), -1
    while time.monotonic() < deadline:
        _, decided = count_comments(database_url, source_id)
        if decided >= expected:
            break
        if decided != last_count:
            last_count, last_change = decided, time.monotonic()
        elif time.monotonic() - last_change > stalled_after:
            break
        time.sleep(poll)
    return decided


def warm_up(
    stack: Stack,
    database_url: str,
    comments: int = 20,
    rate: float = 10.0,
    callback_url: str | None = None,
) -> float:
    """Post a few comments and wait for their decisions: first requests and tasks are slow
    (connections, lazy imports, first model call); returns the seconds it took."""
    started = time.monotonic()
    source = create_bench_source(database_url, callback_url)
    run = paced_post(
        stack.base_url, source, "warm" + uuid.uuid4().hex[:6], rate=rate, seconds=comments / rate
    )
    wait_decided(database_url, source.id, len(run.posted), timeout=180.0)
    return time.monotonic() - started


# ---------------------------------------------------------------- a receiving CMS


class CallbackReceiver:
    """A local CMS endpoint: answers every callback 200 over kept-alive HTTP/1.1 connections
    and keeps, per event, the time it arrived (in this process, so its CPU is not counted)."""

    def __init__(self) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.arrivals: dict[str, float] = {}
        self.requests = 0
        lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                self.rfile.read(int(self.headers.get("content-length") or 0))
                with lock:
                    receiver.requests += 1
                    receiver.arrivals.setdefault(self.headers.get("webhook-id", ""), time.time())
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/callbacks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def last_arrival(self) -> float:
        return max(self.arrivals.values(), default=0.0)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def count_delivered(database_url: str, source_id: str) -> int:
    """Events of the source the CMS acknowledged."""
    from sqlalchemy import func, select

    from core.db import session_scope
    from core.settings import Settings
    from core.tables import Event

    with session_scope(Settings(database_url=database_url)) as session:
        return int(
            session.scalar(
                select(func.count()).where(Event.source_id == source_id, Event.state == "delivered")
            )
            or 0
        )


def wait_delivered(
    database_url: str, source_id: str, expected: int, timeout: float, stalled_after: float = 30.0
) -> int:
    """Poll until `expected` events of the source are delivered (or stalled); the count seen."""
    deadline = time.monotonic() + timeout
    delivered, last_change, last_count = 0, time.monotonic(), -1
    while time.monotonic() < deadline:
        delivered = count_delivered(database_url, source_id)
        if delivered >= expected:
            break
        if delivered != last_count:
            last_count, last_change = delivered, time.monotonic()
        elif time.monotonic() - last_change > stalled_after:
            break
        time.sleep(0.5)
    return delivered


class RssSampler:
    """The largest RSS each process of a tree reached, sampled every `interval` s."""

    def __init__(self, pid: int, interval: float = 0.5) -> None:
        self.pid, self.interval = pid, interval
        self.peak: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import psutil

        while not self._stop.wait(self.interval):
            try:
                root = psutil.Process(self.pid)
                for process in (root, *root.children(recursive=True)):
                    rss = process.memory_info().rss
                    self.peak[process.pid] = max(rss, self.peak.get(process.pid, 0))
            except psutil.Error:
                continue

    def stop(self) -> int:
        """Stop sampling; the largest RSS of any one process, in bytes."""
        self._stop.set()
        self._thread.join()
        return max(self.peak.values(), default=0)
