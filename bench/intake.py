"""Intake throughput and p99 under gunicorn as a ratio of a bare Flask JSON endpoint (>= 0.25).

Usage: python -m bench intake [--seconds 15] [--rounds 2] [--connections 16] [--smoke]

Both servers run with the production gunicorn settings (cli.processes: 2 gthread workers x 4
threads, access log on). Ours is `moderation api` against a scratch PostgreSQL database and the
local Redis: source lookup, replay check, signature, validation, durable commit, rate limit and
enqueue of worker.score_comment. The baseline parses the JSON body and answers 202. One wrk
client (Lua script cycling through pre-signed requests, each with its own webhook-id and comment
id) loads both in alternating rounds; the verdict is the median ratio of the rounds.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import uuid
from pathlib import Path

import redis

from bench import _load

# Issue 24: with the comment committed before the 202, a quarter of a bare endpoint's rate.
TARGET_RATIO = 0.25


def measure(
    name: str,
    argv: list[str],
    env: dict[str, str],
    folder: Path,
    source: _load.BenchSource,
    *,
    seconds: float,
    connections: int,
    wrk_threads: int,
    expected_rate: float,
) -> tuple[_load.LoadResult, str]:
    """Start a server, warm it, load it with wrk for `seconds`, stop it; the result and where
    its CPU went."""
    server = _load.start(name, argv, env, folder)
    try:
        port = int(argv[argv.index("--bind") + 1].rsplit(":", 1)[1])
        base = _load.bind_url(port)
        _load.wait_http(base + "/healthz", server)
        warm_run = uuid.uuid4().hex[:8]
        warm = _load.write_wrk_requests(folder, source, warm_run, 200, wrk_threads)
        _load.run_wrk(
            base, warm, seconds=3, threads=wrk_threads, connections=connections, folder=folder
        )
        per_thread = max(200, int(expected_rate * seconds * 1.5 / wrk_threads))
        run_id = uuid.uuid4().hex[:8]
        prefix = _load.write_wrk_requests(folder, source, run_id, per_thread, wrk_threads)
        cpu_before = _load.cpu_by_role({"server": server.process.pid})
        result = _load.run_wrk(
            base,
            prefix,
            seconds=seconds,
            threads=wrk_threads,
            connections=connections,
            folder=folder,
        )
        cpu = _load.cpu_per_request_ms(
            cpu_before, _load.cpu_by_role({"server": server.process.pid}), result.requests
        )
        return result, cpu
    finally:
        server.stop()


def describe(name: str, result: _load.LoadResult) -> str:
    accepted = result.count(202)
    return (
        f"{name:<7} {accepted / result.seconds:8.1f} accepted/s  ({result.requests} requests in "
        f"{result.seconds:.1f} s, 202: {accepted}, other: "
        f"{ {k: v for k, v in result.statuses.items() if k != '202'} }, socket errors: "
        f"{result.errors})  p50 {result.p50_ms:.1f} ms  p99 {result.p99_ms:.1f} ms"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0, help="load per server and round")
    parser.add_argument("--rounds", type=int, default=2, help="alternating bare/ours rounds")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--smoke", action="store_true", help="seconds-long run that cannot rot")
    args = parser.parse_args()
    if args.smoke:
        args.seconds, args.rounds, args.connections, args.wrk_threads = 1.0, 1, 2, 1

    folder = _load.work_dir()
    print(
        f"intake benchmark {_load.now_iso()}; {_load.machine_line()}; {_load.log_dir_note(folder)}"
    )
    queue = f"bench-intake-{uuid.uuid4().hex[:8]}"
    ratios: list[float] = []
    p99_ratios: list[float] = []
    with _load.scratch_database() as database_url:
        source = _load.create_bench_source(database_url)
        env = _load.service_env(database_url, queue)
        try:
            for round_number in range(1, args.rounds + 1):
                common = {
                    "seconds": args.seconds,
                    "connections": args.connections,
                    "wrk_threads": args.wrk_threads,
                }
                bare_bind = f"127.0.0.1:{_load.free_port()}"
                bare, bare_cpu = measure(
                    "bare",
                    _load.gunicorn_argv(bare_bind, "bench._load:create_bare_app()"),
                    env,
                    folder,
                    source,
                    expected_rate=1500,
                    **common,
                )
                ours_bind = f"127.0.0.1:{_load.free_port()}"
                ours, ours_cpu = measure(
                    "intake",
                    _load.moderation_argv("api", "--bind", ours_bind),
                    env,
                    folder,
                    source,
                    expected_rate=1000,
                    **common,
                )
                bare_rate = bare.count(202) / bare.seconds
                ours_rate = ours.count(202) / ours.seconds
                ratio = ours_rate / bare_rate if bare_rate else 0.0
                p99_ratio = ours.p99_ms / bare.p99_ms if bare.p99_ms else 0.0
                ratios.append(ratio)
                p99_ratios.append(p99_ratio)
                print(f"round {round_number}:")
                print("  " + describe("bare", bare))
                print(f"          {bare_cpu}")
                print("  " + describe("intake", ours))
                print(f"          {ours_cpu}")
                print(f"  throughput ratio {ratio:.2f}, p99 ratio {p99_ratio:.2f}", flush=True)
        finally:
            redis.Redis.from_url(_load.redis_url()).delete(queue)
    ratio = statistics.median(ratios)
    verdict = "MET" if ratio >= TARGET_RATIO else "MISSED"
    print(
        f"RATIO intake/bare throughput {ratio:.2f} (target >= {TARGET_RATIO}: {verdict}); "
        f"p99 intake/bare {statistics.median(p99_ratios):.2f}; median of {len(ratios)} round(s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
