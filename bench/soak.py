"""Soak: N minutes at half load, sampling every process's RSS; growth must stay within 10%.

Usage: python -m bench soak [--minutes 10] [--rate R] [--interval 5] [--smoke]

Runs `moderation api` and `moderation worker` as production does (scratch PostgreSQL database,
local Redis). Without --rate it first measures the end-to-end rate for 15 s (as bench e2e does)
and soaks at half of it. Every --interval seconds it samples the RSS (psutil) of each process of
both trees: gunicorn master and workers, celery main process and pool children. Growth per process
is the mean RSS of the last quarter of the samples over the mean of the first quarter, after a
warm-up (the first 10% of the run) is dropped. The ratio printed is the worst process's.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field

import psutil

from bench import _load
from bench.e2e import throughput_phase

TARGET_GROWTH = 0.10


@dataclass
class Sampled:
    """RSS samples (bytes) of one process, named by its role."""

    role: str
    samples: list[tuple[float, int]] = field(default_factory=list)


def processes(stack: _load.Stack) -> dict[int, str]:
    """pid -> role of every process of the api, worker and deliverer trees."""
    found: dict[int, str] = {}
    servers = (("api", stack.api), ("worker", stack.worker), ("deliverer", stack.deliverer))
    for name, server in servers:
        try:
            root = psutil.Process(server.process.pid)
        except psutil.NoSuchProcess:
            continue
        found[root.pid] = f"{name}-main"
        for child in root.children(recursive=True):
            found[child.pid] = f"{name}-child"
    return found


def sample(stack: _load.Stack, table: dict[int, Sampled], started: float) -> None:
    for pid, role in processes(stack).items():
        try:
            rss = psutil.Process(pid).memory_info().rss
        except psutil.NoSuchProcess:
            continue
        table.setdefault(pid, Sampled(role)).samples.append((time.monotonic() - started, rss))


def growth(entry: Sampled, warm_up: float) -> float | None:
    """Last-quarter mean over first-quarter mean of the samples after warm-up, minus 1."""
    values = [rss for at, rss in entry.samples if at >= warm_up]
    if len(values) < 4:
        return None
    quarter = len(values) // 4
    first = statistics.fmean(values[:quarter])
    last = statistics.fmean(values[-quarter:])
    return last / first - 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=None, help="comments/s (default: half e2e)")
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between samples")
    parser.add_argument("--smoke", action="store_true", help="seconds-long run that cannot rot")
    args = parser.parse_args()
    if args.smoke:
        args.minutes, args.interval = 0.1, 0.5
        args.rate = args.rate or 2.0

    folder = _load.work_dir()
    print(f"soak benchmark {_load.now_iso()}; {_load.machine_line()}; {_load.log_dir_note(folder)}")
    queue = f"bench-soak-{uuid.uuid4().hex[:8]}"
    seconds = args.minutes * 60
    table: dict[int, Sampled] = {}
    with _load.scratch_database() as database_url:
        stack = _load.start_stack(database_url, queue, folder)
        try:
            warm = _load.warm_up(stack, database_url, comments=4 if args.smoke else 20)
            print(f"warm-up: {warm:.1f} s", flush=True)
            rate = args.rate
            if rate is None:
                _, e2e_rate, _ = throughput_phase(
                    stack, database_url, folder, seconds=15, connections=16, wrk_threads=2
                )
                rate = max(1.0, e2e_rate / 2)
            print(f"soaking at {rate:.1f} comments/s for {args.minutes:g} min", flush=True)
            source = _load.create_bench_source(database_url)
            stop = threading.Event()
            result: list[_load.PacedRun] = []
            load = threading.Thread(
                target=lambda: result.append(
                    _load.paced_post(
                        stack.base_url, source, uuid.uuid4().hex[:8], rate=rate,
                        seconds=seconds, stop=stop,
                    )
                ),
                daemon=True,
            )  # fmt: skip
            started = time.monotonic()
            load.start()
            while load.is_alive():
                sample(stack, table, started)
                load.join(args.interval)
            sample(stack, table, started)
            run = result[0] if result else _load.PacedRun()
            posted = len(run.posted)
            decided = _load.wait_decided(database_url, source.id, posted, timeout=120.0)
        finally:
            stack.stop()
            _load.forget_queue(queue)

    warm_up = seconds * 0.10
    samples_csv = folder / "rss.csv"
    with samples_csv.open("w") as out:
        out.write("pid,role,seconds,rss_bytes\n")
        for pid, entry in table.items():
            out.writelines(f"{pid},{entry.role},{at:.1f},{rss}\n" for at, rss in entry.samples)
    print(f"samples: {samples_csv}")
    print(f"load: {posted} accepted, statuses {run.statuses}, {decided} decided")
    print(f"{'pid':>7} {'role':<13} {'samples':>7} {'first MB':>9} {'last MB':>8} {'growth':>7}")
    worst = 0.0
    for pid, entry in sorted(table.items(), key=lambda item: item[1].role):
        change = growth(entry, warm_up)
        values = [rss for at, rss in entry.samples if at >= warm_up] or [0]
        shown = "n/a" if change is None else f"{change * 100:+.1f}%"
        print(
            f"{pid:>7} {entry.role:<13} {len(entry.samples):>7} {values[0] / 2**20:>9.1f} "
            f"{values[-1] / 2**20:>8.1f} {shown:>7}"
        )
        if change is not None:
            worst = max(worst, change)
    verdict = "MET" if worst <= TARGET_GROWTH else "MISSED"
    print(
        f"RATIO worst RSS last-quarter/first-quarter {1 + worst:.3f} over {args.minutes:g} min at "
        f"{rate:.1f}/s (growth {worst * 100:+.1f}%, target <= +10%: {verdict})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
