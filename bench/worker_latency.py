"""Queue-to-decision latency through a real, warm worker, as a ratio of in-process moderation.

Usage: .venv/bin/python bench/worker_latency.py [--n 50] [--app worker.app] [--postgres ADMIN_URL]

Runs against the real Redis (REDIS_URL, default 127.0.0.1:6379) on a private queue and a scratch
SQLite file, or with --postgres a scratch database created beside ADMIN_URL's and dropped after.
Prints, from one run:
  baseline  moderate_comment called in this process (score + policy + commit), p50;
  latency   send_task -> decision committed by a warm worker, one comment at a time, p50/p95,
            and its ratio to the baseline (what the queue and the worker process add);
  burst     n comments queued at once, drained with --prefetch-multiplier 1 and 4 (throughput
            ratio), which is the measurement behind worker_prefetch_multiplier=1.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg  # noqa: E402 - after the path fix above, so `tests` imports from the checkout
import redis  # noqa: E402
from sqlalchemy import select  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from core.db import dispose_engines, session_scope  # noqa: E402
from core.migrate import upgrade  # noqa: E402
from core.moderation import moderate_comment  # noqa: E402
from core.settings import Settings, configure  # noqa: E402
from core.store import IncomingComment, create_source  # noqa: E402
from core.tables import Comment, Source  # noqa: E402
from core.tasks import SCORE_COMMENT  # noqa: E402
from service.queue import create_client  # noqa: E402
from tests.comments import receive  # noqa: E402
from tests.integration.workers import (  # noqa: E402
    REPO_ROOT,
    WorkerProcess,
    forget_queue,
    wait_for,
    worker_env,
)
from worker.scorer import load_scorer  # noqa: E402

BODIES = [
    "Thanks for the clear reporting on the council budget.",
    "You are a pathetic idiot, shut up and die",
    "I disagree with the author, the figures for 2019 look wrong to me.",
    "Buy cheap watches at www.example.com, best prices!!!",
    "Great photos, I walked past that bridge every day as a kid.",
]


def store(settings: Settings, source_id: str, n: int) -> list[str]:
    ids = []
    with session_scope(settings) as session:
        source = session.get_one(Source, source_id)
        for i in range(n):
            comment = receive(
                session,
                source.id,
                IncomingComment(
                    external_id=f"bench-{uuid.uuid4().hex}",
                    thread_id="t",
                    author_name="Reader",
                    author_email="reader@example.org",
                    body=BODIES[i % len(BODIES)],
                ),
            )
            ids.append(comment.id)
    return ids


def decided_at(settings: Settings, comment_ids: list[str]) -> dict[str, datetime]:
    with session_scope(settings) as session:
        rows = session.execute(
            select(Comment.id, Comment.decided_at).where(Comment.id.in_(comment_ids))
        )
        return {cid: at for cid, at in rows if at is not None}


def all_decided(settings: Settings, comment_ids: list[str]) -> dict[str, datetime]:
    """Decision times once every comment is decided, else {} (a wait_for predicate)."""
    times = decided_at(settings, comment_ids)
    return times if len(times) == len(comment_ids) else {}


def start_worker(settings: Settings, app: str, prefetch: int, log_dir: Path) -> WorkerProcess:
    client = redis.Redis.from_url(settings.redis_client_url)
    log_path = log_dir / f"worker-{prefetch}-{uuid.uuid4().hex[:4]}.log"
    command = [
        sys.executable, "-m", "celery", "-A", app, "worker", "--pool", "prefork",
        "--concurrency", "1", "--prefetch-multiplier", str(prefetch), "-Q", settings.queue_name,
        "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "warning",
    ]  # fmt: skip
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=worker_env(settings),
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    worker = WorkerProcess(process=process, log_path=log_path, redis_client=client)
    # "-l warning" hides the ready line; the pool's heartbeat says the model is loaded.
    wait_for(lambda: worker.heartbeats(), timeout=120)
    return worker


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--app", default="worker.app")
    parser.add_argument(
        "--postgres", default="", help="admin URL, e.g. postgresql://postgres@/test"
    )
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="bench-worker-"))
    if not args.postgres:
        run(args, f"sqlite:///{scratch / 'bench.sqlite'}", scratch)
        return
    admin = make_url(args.postgres).set(drivername="postgresql")
    name = f"bench_worker_{uuid.uuid4().hex[:8]}"
    conninfo = admin.render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        run(args, admin.set(database=name).render_as_string(hide_password=False), scratch)
    finally:
        dispose_engines()
        with psycopg.connect(conninfo, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(args: argparse.Namespace, database_url: str, scratch: Path) -> None:
    settings = configure(
        database_url=database_url,
        redis_url=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        queue_name=f"bench-{uuid.uuid4().hex[:8]}",
        var_dir=scratch / "var",
        log_json=False,
    )
    upgrade(settings)
    with session_scope(settings) as session:
        source_id = create_source(session, "bench").source.id
    sender = create_client(settings)
    client = redis.Redis.from_url(settings.redis_client_url)

    # Baseline: the same use case in this process, with the model the worker will use.
    if args.app == "worker.app":
        scorer = load_scorer(settings)
    else:
        from tests.wordlist_scorer import WordListScorer

        scorer = WordListScorer()
    baseline = []
    for comment_id in store(settings, source_id, args.n):
        started = time.perf_counter()
        with session_scope(settings) as session:
            moderate_comment(session, comment_id, scorer)
        baseline.append(time.perf_counter() - started)

    worker = start_worker(settings, args.app, 1, scratch)
    try:
        for comment_id in store(settings, source_id, 3):  # warm-up
            sender.send_task(SCORE_COMMENT, args=[comment_id])
            wait_for(lambda cid=comment_id: decided_at(settings, [cid]), timeout=60)
        latencies = []
        for comment_id in store(settings, source_id, args.n):
            queued = datetime.now(UTC)
            sender.send_task(SCORE_COMMENT, args=[comment_id])
            at = wait_for(lambda cid=comment_id: decided_at(settings, [cid]), timeout=60)
            latencies.append((at[comment_id] - queued).total_seconds())
    finally:
        worker.stop()

    burst_rates = {}
    for prefetch in (1, 4):
        ids = store(settings, source_id, args.n)
        worker = start_worker(settings, args.app, prefetch, scratch)
        try:
            started = datetime.now(UTC)
            for comment_id in ids:
                sender.send_task(SCORE_COMMENT, args=[comment_id])
            done = wait_for(lambda ids=ids: all_decided(settings, ids), timeout=300)
            elapsed = (max(done.values()) - started).total_seconds()
            burst_rates[prefetch] = len(ids) / elapsed
        finally:
            worker.stop()
    forget_queue(client, settings.queue_name)

    base_p50 = statistics.median(baseline)
    p50, p95 = statistics.median(latencies), percentile(latencies, 0.95)
    print(f"model/app: {args.app}  database: {settings.sqlalchemy_url.split(':')[0]}  n={args.n}")
    print(f"baseline in-process moderate_comment p50: {base_p50 * 1000:.1f} ms")
    print(f"queue->decision (warm worker)       p50: {p50 * 1000:.1f} ms  p95: {p95 * 1000:.1f} ms")
    print(f"ratio queue->decision / in-process  p50: {p50 / base_p50:.2f}x")
    print(
        f"burst of {args.n}: prefetch 1: {burst_rates[1]:.1f}/s, prefetch 4: {burst_rates[4]:.1f}/s"
        f"  (ratio 4/1: {burst_rates[4] / burst_rates[1]:.2f}x)"
    )


if __name__ == "__main__":
    main()
