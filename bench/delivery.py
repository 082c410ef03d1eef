"""Callback delivery: one task per event against batched delivery, to a local receiving CMS.

Usage: python -m bench delivery [--events 2000] [--rounds 2] [--batch-size 50] [--parallel 4]
                                [--sources 1] [--smoke]

Each round starts a fresh `celery worker` (the production app and configuration, prefork, one
pool process per CPU, prefetch 1, acks late; the word-list scorer, since nothing is scored) on a
scratch PostgreSQL database and the local Redis, once with DELIVERY_BATCH_SIZE=0 (one
`worker.deliver_event` task per event, the earlier design) and once with --batch-size and
--parallel (one `worker.deliver_due` task per source at a time), alternating. The CMS is
tests/receiver.py's HTTP/1.1 keep-alive receiver in this process, answering 200 at once. Per
round: --events decided events are committed (spread over --sources sources), then queued the
way the scorer queues each one (`worker.delivery.queue_delivery`), and the round waits until
every event is delivered. Measured: delivered events / (last delivered_at - first queueing);
the CPU each delivered event cost in the worker's process tree, PostgreSQL, Redis and the
queueing itself (the receiver's CPU is the CMS's and is not counted); requests and new TCP
connections the receiver saw. Prints the median of each design's rounds and
`RATIO batched/per-event delivery rate X; CPU per delivered event per-event/batched Y`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import _load

WORKER_APP = "tests.integration.wordlist_worker"


@dataclass(frozen=True)
class Round:
    design: str
    events: int
    delivered: int
    requests: int
    connections: int
    seconds: float
    cpu_ms: dict[str, float]

    @property
    def rate(self) -> float:
        return self.delivered / self.seconds if self.seconds > 0 else 0.0

    @property
    def cpu_per_event_ms(self) -> float:
        return sum(self.cpu_ms.values())

    def line(self) -> str:
        parts = " + ".join(f"{role} {ms:.2f}" for role, ms in self.cpu_ms.items())
        return (
            f"{self.design}: {self.delivered}/{self.events} events delivered in "
            f"{self.seconds:.2f} s -> {self.rate:.0f}/s; {self.requests} requests over "
            f"{self.connections} new TCP connections; CPU per event {parts} = "
            f"{self.cpu_per_event_ms:.2f} ms"
        )


def decided_events(settings: Any, source_ids: list[str], count: int) -> list[tuple[str, str]]:
    """(event id, source id) of `count` committed, due comment.approved events."""
    from core.db import session_scope
    from core.domain import Status
    from core.store import IncomingComment, record_decision
    from tests.comments import receive

    made: list[tuple[str, str]] = []
    with session_scope(settings) as session:
        for n in range(count):
            source_id = source_ids[n % len(source_ids)]
            comment = receive(
                session,
                source_id,
                IncomingComment(
                    external_id=f"bench-{uuid.uuid4().hex}",
                    thread_id="t",
                    author_name="Reader",
                    author_email="reader@example.org",
                    body=_load.comment_body(n),
                ),
            )
            _, event = record_decision(session, comment, Status.APPROVED, actor="model", reasons=[])
            made.append((event.id, source_id))
    return made


def delivered_count(settings: Any, source_ids: list[str]) -> int:
    """Delivered events of the round's sources (a cheap poll: it runs while the load does)."""
    from sqlalchemy import func, select

    from core.db import session_scope
    from core.tables import Event

    with session_scope(settings) as session:
        query = select(func.count()).where(
            Event.source_id.in_(source_ids), Event.state == "delivered"
        )
        return int(session.scalar(query) or 0)


def delivered_times(settings: Any, event_ids: list[str]) -> list[float]:
    from sqlalchemy import select

    from core.db import session_scope
    from core.tables import Event

    with session_scope(settings) as session:
        rows = session.scalars(
            select(Event.delivered_at).where(
                Event.id.in_(event_ids), Event.delivered_at.is_not(None)
            )
        )
        return [_load._aware(at).timestamp() for at in rows]


def wait_delivered(settings: Any, source_ids: list[str], expected: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while delivered_count(settings, source_ids) < expected and time.monotonic() < deadline:
        time.sleep(0.5)


def run_round(
    design: str,
    batch_size: int,
    database_url: str,
    folder: Path,
    *,
    events: int,
    sources: int,
    parallel: int,
) -> Round:
    import os

    from core.db import session_scope
    from core.settings import configure
    from core.store import create_source
    from service.queue import create_client
    from tests.receiver import running_receiver
    from worker.delivery import queue_delivery

    queue = f"bench-delivery-{uuid.uuid4().hex[:8]}"
    settings = configure(
        database_url=database_url,
        redis_url=_load.redis_url(),
        queue_name=queue,
        secret_key=_load.SECRET_KEY,
        delivery_batch_size=batch_size,
        delivery_parallel_requests=parallel,
        log_json=True,
    )
    env = _load.service_env(
        database_url,
        queue,
        DELIVERY_BATCH_SIZE=str(batch_size),
        DELIVERY_PARALLEL_REQUESTS=str(parallel),
        MODERATION_VAR_DIR=str(folder / "var"),
    )
    argv = [
        sys.executable, "-m", "celery", "-A", WORKER_APP, "worker", "--pool", "prefork",
        "--concurrency", str(os.cpu_count() or 2), "-Q", settings.worker_queues,
        "-n", f"{queue}@%h", "--loglevel", "info",
    ]  # fmt: skip
    sender = create_client(settings)
    with running_receiver(keep_alive=True) as receiver:
        with session_scope(settings) as session:
            source_ids = [
                create_source(session, f"bench-cms-{n}", callback_url=receiver.url).source.id
                for n in range(sources)
            ]
        worker = _load.start(f"worker-{design}-{queue}", argv, env, folder)
        try:
            _load.wait_worker_ready(worker)
            # Warm-up: first connections, lazy imports, the pool processes' first tasks.
            warm = decided_events(settings, source_ids, 20)
            for event_id, source_id in warm:
                queue_delivery(sender, event_id, source_id, settings)
            wait_delivered(settings, source_ids, len(warm), timeout=120)
            receiver.requests.clear()
            receiver.connections = 0

            made = decided_events(settings, source_ids, events)
            trees = {"worker": worker.process.pid}
            cpu_before = _load.cpu_by_role(trees)
            started = time.time()
            producer_started = time.thread_time()
            for event_id, source_id in made:
                queue_delivery(sender, event_id, source_id, settings)
            producer = time.thread_time() - producer_started
            wait_delivered(settings, source_ids, len(warm) + events, timeout=max(120, events / 5))
            cpu_after = _load.cpu_by_role(trees)
            times = delivered_times(settings, [e for e, _ in made])
        finally:
            worker.stop()
            _load.forget_queue(queue)
    used = {role: max(0.0, cpu_after[role] - cpu_before.get(role, 0.0)) for role in cpu_after}
    used["queueing"] = producer
    delivered = len(times)
    return Round(
        design=design,
        events=events,
        delivered=delivered,
        requests=len(receiver.requests),
        connections=receiver.connections,
        seconds=(max(times) - started) if times else 0.0,
        cpu_ms={role: 1000 * s / max(1, delivered) for role, s in used.items()},
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--sources", type=int, default=1)
    parser.add_argument(
        "--parallel", type=int, default=4, help="DELIVERY_PARALLEL_REQUESTS of the batched design"
    )
    parser.add_argument("--smoke", action="store_true", help="a few seconds: 100 events, 1 round")
    args = parser.parse_args()
    if args.smoke:
        args.events, args.rounds = 100, 1
    folder = _load.work_dir()
    print(_load.machine_line(), flush=True)
    print(_load.log_dir_note(folder), flush=True)
    designs = {
        "per-event": 0,
        f"batched ({args.batch_size}, {args.parallel} in flight)": args.batch_size,
    }
    results: dict[str, list[Round]] = {name: [] for name in designs}
    with _load.scratch_database() as database_url:
        for _ in range(args.rounds):
            for name, size in designs.items():
                result = run_round(
                    name,
                    size,
                    database_url,
                    folder,
                    events=args.events,
                    sources=args.sources,
                    parallel=args.parallel,
                )
                print(result.line(), flush=True)
                results[name].append(result)
    per_event, batched = (results[name] for name in designs)
    lost = [r for r in (*per_event, *batched) if r.delivered < r.events]
    rate_ratio = statistics.median(r.rate for r in batched) / max(
        statistics.median(r.rate for r in per_event), 1e-9
    )
    cpu_ratio = statistics.median(r.cpu_per_event_ms for r in per_event) / max(
        statistics.median(r.cpu_per_event_ms for r in batched), 1e-9
    )
    print(
        f"RATIO batched/per-event delivery rate {rate_ratio:.2f}; CPU per delivered event "
        f"per-event/batched {cpu_ratio:.2f} ({args.events} events, {args.sources} source(s), "
        f"{args.rounds} round(s), medians)",
        flush=True,
    )
    if lost:
        print(f"NOT ALL DELIVERED: {[r.line() for r in lost]}", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
