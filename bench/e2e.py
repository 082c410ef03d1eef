"""End to end, both scoring designs in one run: POST to decision delivered to a local CMS.

Usage: python -m bench e2e [--seconds 20] [--latency-seconds 30] [--connections 16]
       [--batch-size N] [--concurrency N] [--smoke]

For each design, one comment per task (SCORE_BATCH_SIZE=1) and batches (SCORE_BATCH_SIZE, the
default unless --batch-size), it runs `moderation api` (gunicorn, 2 gthread workers x 4 threads),
`moderation worker` (Celery prefork on the scoring queue, one process per CPU, the shipped model)
and `moderation deliverer` (Celery threads on the delivery queue, no model) as production does, on a
scratch PostgreSQL database and the local Redis, with every decision delivered to a CMS endpoint in
this process (HTTP/1.1, answers 200). Phase 1 loads the intake with wrk for --seconds (pre-signed,
unique requests) and waits until every accepted comment is decided and its event delivered: the rate
is delivered comments divided by the time from the first POST to the last callback's arrival, and
the CPU per comment is summed over the API, the worker, the deliverer, PostgreSQL and Redis. For the
batched design only, once phase 1's queues are empty, phase 2 posts at half its rate, open loop, and
takes each comment's latency from the database (decision created_at - comment received_at). The
model's own scoring CPU (measured here, in this process, on the same bodies: one text at a time for
the per-comment design, whole batches for the other) is subtracted to compare what the designs cost
around the model.

Targets: batched/per-comment rate >= 4; p99 post-to-decision at half the batched rate <= 1 s;
CPU per comment outside the model, batched/per-comment <= 0.2; each worker process <= 500 MB.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from bench import _load

TARGET_RATE_RATIO = 4.0
TARGET_P99_SECONDS = 1.0
TARGET_CPU_RATIO = 0.2
TARGET_RSS_BYTES = 500 * 1024 * 1024
BATCH_LINE = re.compile(r'"size": (\d+)|size=(\d+)')


@dataclass(frozen=True)
class DesignRun:
    """What phase 1 measured for one design."""

    name: str
    batch_size: int
    accepted: int
    delivered: int
    intake_rate: float
    rate: float
    cpu_ms: dict[str, float]
    # The worker's Celery main process alone (receiving, buffering and acking messages).
    worker_main_ms: float
    model_ms: float
    worker_rss: int
    deliverer_rss: int
    largest_batch: int

    @property
    def cpu_total_ms(self) -> float:
        return sum(self.cpu_ms.values())

    @property
    def cpu_outside_model_ms(self) -> float:
        return max(0.0, self.cpu_total_ms - self.model_ms)


def model_cpu_ms(batch_size: int, comments: int = 400) -> float:
    """CPU ms per comment of the model's own work on the benchmark's bodies: scores, highlights,
    and explanations for what it flags or rejects, one text at a time (batch_size 1) or in
    batches of batch_size, as each design scores."""
    import numpy as np

    import models
    from core.moderation import labelled

    scorer = models.load()
    bodies = [_load.comment_body(i) for i in range(comments)]
    # The flag thresholds: at or above any of them the model flags, and the worker explains why.
    flag = np.array([scorer.thresholds.get(label, 0.5) for label in scorer.labels])

    def explain_flagged(texts: list[str], rows: np.ndarray) -> None:
        for text, row in zip(texts, rows, strict=True):
            if (row >= flag).any():
                scorer.explain(text)

    scorer.predict_proba(bodies[:8])  # first-call costs (caches, lazy imports) left out
    started = time.process_time()
    if batch_size == 1:
        for body in bodies:
            row, _ = scorer.assess(body)
            labelled(scorer, row)
            explain_flagged([body], row[None, :])
    else:
        for start in range(0, len(bodies), batch_size):
            chunk = bodies[start : start + batch_size]
            rows = scorer.predict_proba(chunk)
            for body, row in zip(chunk, rows, strict=True):
                scorer.highlights(body, row)
            explain_flagged(chunk, rows)
    return 1000 * (time.process_time() - started) / len(bodies)


def largest_batch(log_path: Path) -> int:
    """The largest batch the worker's log reports ("score batch: done", size=N)."""
    sizes = [
        int(a or b)
        for line in log_path.read_text(errors="replace").splitlines()
        if "score batch: done" in line
        for a, b in BATCH_LINE.findall(line)
    ]
    return max(sizes, default=1)


def throughput_phase(
    name: str,
    stack: _load.Stack,
    database_url: str,
    folder: Path,
    receiver: _load.CallbackReceiver,
    *,
    batch_size: int,
    seconds: float,
    connections: int,
    wrk_threads: int,
) -> DesignRun:
    """Phase 1 of one design: a wrk burst, then every comment decided and delivered."""
    source = _load.create_bench_source(database_url, receiver.url)
    run_id = uuid.uuid4().hex[:8]
    per_thread = max(100, int(400 * seconds / wrk_threads))
    prefix = _load.write_wrk_requests(folder, source, run_id, per_thread, wrk_threads)
    trees = {
        "api": stack.api.process.pid,
        "worker": stack.worker.process.pid,
        "deliverer": stack.deliverer.process.pid,
    }
    rss = _load.RssSampler(stack.worker.process.pid)
    deliverer_rss = _load.RssSampler(stack.deliverer.process.pid)
    main_before = _load.main_process_cpu(stack.worker)
    cpu_before = _load.cpu_by_role(trees)
    started = time.time()
    result = _load.run_wrk(
        stack.base_url,
        prefix,
        seconds=seconds,
        threads=wrk_threads,
        connections=connections,
        folder=folder,
    )
    # Requests still in flight when wrk stops are stored too: count what the database holds.
    accepted, _ = _load.count_comments(database_url, source.id)
    _load.wait_decided(database_url, source.id, accepted, timeout=max(120.0, seconds * 20))
    delivered = _load.wait_delivered(
        database_url, source.id, accepted, timeout=max(120.0, seconds * 20)
    )
    cpu_ms = _load.cpu_ms_by_role(cpu_before, _load.cpu_by_role(trees), delivered)
    main_ms = 1000 * (_load.main_process_cpu(stack.worker) - main_before) / max(1, delivered)
    worker_rss = rss.stop()
    run_deliverer_rss = deliverer_rss.stop()
    elapsed = receiver.last_arrival() - started
    rate = delivered / elapsed if elapsed > 0 else 0.0
    intake_rate = result.count(202) / result.seconds
    run = DesignRun(
        name=name,
        batch_size=batch_size,
        accepted=accepted,
        delivered=delivered,
        intake_rate=intake_rate,
        rate=rate,
        cpu_ms=cpu_ms,
        worker_main_ms=main_ms,
        model_ms=model_cpu_ms(batch_size, comments=100 if seconds < 5 else 400),
        worker_rss=worker_rss,
        deliverer_rss=run_deliverer_rss,
        largest_batch=largest_batch(stack.worker.log_path) if batch_size > 1 else 1,
    )
    parts = " + ".join(f"{role} {ms:.2f}" for role, ms in cpu_ms.items())
    print(
        f"{name}: wrk {result.seconds:.1f} s, {connections} connections: {accepted} accepted "
        f"({intake_rate:.1f}/s at intake, intake p99 {result.p99_ms:.0f} ms), {delivered} "
        f"decided and delivered, last callback {elapsed:.1f} s after the first POST -> "
        f"{rate:.1f} comments/s end to end\n    CPU per comment: {parts} = "
        f"{run.cpu_total_ms:.2f} ms, of which the worker's main process {main_ms:.2f} ms and the "
        f"model's own scoring {run.model_ms:.2f} ms; "
        f"largest worker process {worker_rss / 2**20:.0f} MB, deliverer "
        f"{run_deliverer_rss / 2**20:.0f} MB; largest batch {run.largest_batch}",
        flush=True,
    )
    return run


def latency_phase(
    stack: _load.Stack,
    database_url: str,
    receiver: _load.CallbackReceiver,
    *,
    rate: float,
    seconds: float,
) -> tuple[float, float, int, int]:
    """(p50 s, p99 s, posted, decided) for comments posted open loop at `rate`/s."""
    source = _load.create_bench_source(database_url, receiver.url)
    run = _load.paced_post(stack.base_url, source, uuid.uuid4().hex[:8], rate=rate, seconds=seconds)
    posted = len(run.posted)
    decided = _load.wait_decided(database_url, source.id, posted, timeout=max(60.0, seconds * 4))
    latencies = [lat for _, lat in _load.decision_latencies(database_url, source.id)]
    p50, p99 = _load.percentile(latencies, 50), _load.percentile(latencies, 99)
    print(
        f"batched, phase 2: {rate:.1f}/s for {seconds:.0f} s: {posted} accepted, statuses "
        f"{run.statuses}, late sends {run.late}, {decided} decided; post-to-decision p50 "
        f"{p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, max "
        f"{max(latencies, default=0) * 1000:.0f} ms",
        flush=True,
    )
    return p50, p99, posted, decided


def run_design(
    name: str,
    batch_size: int,
    database_url: str,
    folder: Path,
    receiver: _load.CallbackReceiver,
    args: argparse.Namespace,
    *,
    latency: bool,
) -> tuple[DesignRun, tuple[float, float, int, int] | None]:
    """Start a stack whose worker scores with SCORE_BATCH_SIZE=batch_size, measure, stop it."""
    queue = f"bench-e2e-{uuid.uuid4().hex[:8]}"
    worker_args = ["--concurrency", str(args.concurrency)] if args.concurrency else []
    stack = _load.start_stack(
        database_url,
        queue,
        folder,
        worker_args=worker_args,
        worker_env={"SCORE_BATCH_SIZE": str(batch_size)},
        name=f"{name}-",
    )
    try:
        warm = _load.warm_up(
            stack, database_url, comments=4 if args.smoke else 20, callback_url=receiver.url
        )
        print(f"{name}: warm-up {warm:.1f} s", flush=True)
        run = throughput_phase(
            name,
            stack,
            database_url,
            folder,
            receiver,
            batch_size=batch_size,
            seconds=args.seconds,
            connections=args.connections,
            wrk_threads=args.wrk_threads,
        )
        measured = None
        if latency:
            drained = _load.wait_queues_empty(queue)
            print(f"{name}: phase 1's queues drained {drained:.1f} s later", flush=True)
            measured = latency_phase(
                stack,
                database_url,
                receiver,
                rate=max(1.0, run.rate / 2),
                seconds=args.latency_seconds,
            )
    finally:
        stack.stop()
        _load.forget_queue(queue)
    return run, measured


def verdict(met: bool) -> str:
    return "MET" if met else "MISSED"


def main() -> int:
    from core.settings import Settings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="phase 1 load")
    parser.add_argument("--latency-seconds", type=float, default=30.0, help="phase 2 load")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=None, help="worker processes")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=Settings().score_batch_size,
        help="SCORE_BATCH_SIZE of the batched design (default: the setting's default)",
    )
    parser.add_argument("--smoke", action="store_true", help="seconds-long run that cannot rot")
    args = parser.parse_args()
    if args.smoke:
        args.seconds, args.latency_seconds, args.connections, args.wrk_threads = 1.0, 2.0, 2, 1

    folder = _load.work_dir()
    print(f"e2e benchmark {_load.now_iso()}; {_load.machine_line()}; {_load.log_dir_note(folder)}")
    receiver = _load.CallbackReceiver()
    try:
        with _load.scratch_database() as database_url:
            single, _ = run_design(
                "per-comment", 1, database_url, folder, receiver, args, latency=False
            )
            batched, measured = run_design(
                "batched", args.batch_size, database_url, folder, receiver, args, latency=True
            )
    finally:
        receiver.stop()
    assert measured is not None
    p50, p99, posted, decided = measured
    if not (single.rate and batched.rate):
        print("RATIO batched/per-comment rate 0.00 (nothing delivered)")
        return 0
    rate_ratio = batched.rate / single.rate
    cpu_ratio = batched.cpu_outside_model_ms / max(1e-9, single.cpu_outside_model_ms)
    print(
        f"RATIO batched/per-comment rate {rate_ratio:.2f} ({batched.rate:.1f} vs "
        f"{single.rate:.1f} comments/s decided and delivered, batches of {args.batch_size}; "
        f"target >= {TARGET_RATE_RATIO:.0f}: {verdict(rate_ratio >= TARGET_RATE_RATIO)})"
    )
    print(
        f"RATIO p99/target {p99 / TARGET_P99_SECONDS:.2f} (batched at {batched.rate / 2:.1f}/s: "
        f"p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms post-to-decision, {decided}/{posted} "
        f"decided; target <= 1 s: {verdict(p99 <= TARGET_P99_SECONDS and decided >= posted)})"
    )
    print(
        f"RATIO CPU outside the model batched/per-comment {cpu_ratio:.2f} "
        f"({batched.cpu_outside_model_ms:.2f} vs {single.cpu_outside_model_ms:.2f} ms per "
        f"comment decided and delivered; with the model {batched.cpu_total_ms:.2f} vs "
        f"{single.cpu_total_ms:.2f} ms; target <= {TARGET_CPU_RATIO}: "
        f"{verdict(cpu_ratio <= TARGET_CPU_RATIO)})"
    )
    print(
        f"RATIO worker RSS/limit {batched.worker_rss / TARGET_RSS_BYTES:.2f} (largest process "
        f"{batched.worker_rss / 2**20:.0f} MB with batches of up to {batched.largest_batch}, "
        f"per-comment {single.worker_rss / 2**20:.0f} MB; deliverer "
        f"{batched.deliverer_rss / 2**20:.0f} MB; target <= 500 MB: "
        f"{verdict(batched.worker_rss <= TARGET_RSS_BYTES)})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
