"""End to end: comments/s from POST to decision, then p50/p99 post-to-decision latency at half rate.

Usage: python -m bench e2e [--seconds 20] [--latency-seconds 30] [--connections 16] [--smoke]

Runs `moderation api` (gunicorn, 2 gthread workers x 4 threads) and `moderation worker` (Celery
prefork, one process per CPU, the shipped model) as production does, on a scratch PostgreSQL
database and the local Redis. Phase 1 loads the intake with wrk for --seconds (pre-signed, unique
requests) and waits for every accepted comment to be decided: the throughput is accepted comments
divided by the time from the first POST to the last decision (decisions.created_at). Once phase
1's callbacks have left the queues, phase 2 posts at half that rate, open loop, and takes each
comment's latency from the database (decision created_at - comment received_at). Targets:
>= 500 comments/s, p99 <= 1 s.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from pathlib import Path

from bench import _load

TARGET_RATE = 500.0
TARGET_P99_SECONDS = 1.0


def throughput_phase(
    stack: _load.Stack,
    database_url: str,
    folder: Path,
    *,
    seconds: float,
    connections: int,
    wrk_threads: int,
) -> tuple[float, float, int]:
    """(accepted/s at intake, decided comments/s end to end, accepted) of a wrk burst."""
    source = _load.create_bench_source(database_url)
    run_id = uuid.uuid4().hex[:8]
    per_thread = max(100, int(400 * seconds / wrk_threads))
    prefix = _load.write_wrk_requests(folder, source, run_id, per_thread, wrk_threads)
    trees = {"api": stack.api.process.pid, "worker": stack.worker.process.pid}
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
    decided = _load.wait_decided(
        database_url, source.id, accepted, timeout=max(120.0, seconds * 20)
    )
    cpu = _load.cpu_per_request_ms(cpu_before, _load.cpu_by_role(trees), decided, "comment")
    latencies = _load.decision_latencies(database_url, source.id)
    last_decision = max((at for at, _ in latencies), default=None)
    elapsed = (last_decision.timestamp() - started) if last_decision else 0.0
    e2e_rate = decided / elapsed if elapsed > 0 else 0.0
    intake_rate = result.count(202) / result.seconds
    print(
        f"phase 1: wrk {result.seconds:.1f} s, {connections} connections: {accepted} accepted "
        f"({intake_rate:.1f}/s at intake, intake p99 {result.p99_ms:.0f} ms), "
        f"{decided} decided, last decision {elapsed:.1f} s after the first POST "
        f"-> {e2e_rate:.1f} comments/s end to end\n         {cpu}",
        flush=True,
    )
    return intake_rate, e2e_rate, accepted


def latency_phase(
    stack: _load.Stack, database_url: str, *, rate: float, seconds: float
) -> tuple[float, float, int, int]:
    """(p50 s, p99 s, posted, decided) for comments posted open loop at `rate`/s."""
    source = _load.create_bench_source(database_url)
    run = _load.paced_post(stack.base_url, source, uuid.uuid4().hex[:8], rate=rate, seconds=seconds)
    posted = len(run.posted)
    decided = _load.wait_decided(database_url, source.id, posted, timeout=max(60.0, seconds * 4))
    latencies = [lat for _, lat in _load.decision_latencies(database_url, source.id)]
    p50, p99 = _load.percentile(latencies, 50), _load.percentile(latencies, 99)
    print(
        f"phase 2: {rate:.1f}/s for {seconds:.0f} s: {posted} accepted, statuses {run.statuses}, "
        f"late sends {run.late}, {decided} decided; post-to-decision p50 {p50 * 1000:.0f} ms, "
        f"p99 {p99 * 1000:.0f} ms, max {max(latencies, default=0) * 1000:.0f} ms",
        flush=True,
    )
    return p50, p99, posted, decided


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="phase 1 load")
    parser.add_argument("--latency-seconds", type=float, default=30.0, help="phase 2 load")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=None, help="worker processes")
    parser.add_argument("--smoke", action="store_true", help="seconds-long run that cannot rot")
    args = parser.parse_args()
    if args.smoke:
        args.seconds, args.latency_seconds, args.connections, args.wrk_threads = 1.0, 2.0, 2, 1

    folder = _load.work_dir()
    print(f"e2e benchmark {_load.now_iso()}; {_load.machine_line()}; {_load.log_dir_note(folder)}")
    queue = f"bench-e2e-{uuid.uuid4().hex[:8]}"
    worker_args = ["--concurrency", str(args.concurrency)] if args.concurrency else []
    with _load.scratch_database() as database_url:
        stack = _load.start_stack(database_url, queue, folder, worker_args=worker_args)
        try:
            warm = _load.warm_up(stack, database_url, comments=4 if args.smoke else 20)
            print(f"warm-up: {warm:.1f} s", flush=True)
            intake_rate, e2e_rate, _ = throughput_phase(
                stack,
                database_url,
                folder,
                seconds=args.seconds,
                connections=args.connections,
                wrk_threads=args.wrk_threads,
            )
            drained = _load.wait_queues_empty(queue)
            print(f"phase 1's callbacks drained {drained:.1f} s later", flush=True)
            half = max(1.0, e2e_rate / 2)
            p50, p99, posted, decided = latency_phase(
                stack, database_url, rate=half, seconds=args.latency_seconds
            )
        finally:
            stack.stop()
            _load.forget_queue(queue)
    rate_verdict = "MET" if e2e_rate >= TARGET_RATE else "MISSED"
    p99_verdict = "MET" if p99 <= TARGET_P99_SECONDS and decided >= posted else "MISSED"
    print(
        f"RATIO e2e/target {e2e_rate / TARGET_RATE:.2f} ({e2e_rate:.1f} comments/s, target >= "
        f"{TARGET_RATE:.0f}: {rate_verdict}); e2e/intake-alone {e2e_rate / intake_rate:.2f}; "
        f"at {half:.1f}/s p50 {p50 * 1000:.0f} ms p99 {p99 * 1000:.0f} ms "
        f"(p99/target {p99 / TARGET_P99_SECONDS:.2f}, target <= 1 s: {p99_verdict})"
        if intake_rate
        else "RATIO e2e/target 0.00 (nothing accepted)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
