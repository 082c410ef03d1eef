"""How long intake takes to answer 202 when Redis is down, as a ratio of Redis up.

Usage: .venv/bin/python bench/intake_broker_down.py [--n 5] [--redis-url URL]

The comment is committed before it is queued, so a broker outage must cost a bounded delay, not
a hanging request. Prints, from one run, the median intake time (Flask test client, scratch SQLite)
with: the real Redis (baseline); a closed port (connection refused); a socket that accepts but
never answers (a hung Redis), each with its ratio to the baseline.
"""

from __future__ import annotations

import argparse
import secrets
import socket
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import redis

from bench import _load
from core.db import session_scope
from core.migrate import upgrade
from core.settings import Settings
from core.store import create_source
from service import create_app


def intake_seconds(redis_url: str, n: int, var_dir: Path) -> list[float]:
    settings = Settings(
        database_url=f"sqlite:///{var_dir / (uuid.uuid4().hex + '.sqlite')}",
        redis_url=redis_url,
        queue_name=f"bench-intake-{uuid.uuid4().hex[:8]}",
        log_level="ERROR",
        secret_key=secrets.token_urlsafe(48),
    )
    upgrade(settings)
    with session_scope(settings) as session:
        source = create_source(session, "bench")
    client = create_app(settings=settings).test_client()
    seconds: list[float] = []
    bench_source = _load.BenchSource(id=source.source.id, secret=source.secret)
    run_id = uuid.uuid4().hex[:8]
    for i in range(n):
        path, headers, body = _load.signed_request(bench_source, run_id, i)
        started = time.perf_counter()
        response = client.post(path, headers=headers, data=body)
        seconds.append(time.perf_counter() - started)
        assert response.status_code == 202, response.get_data(as_text=True)
    if redis_url.startswith("redis://127.0.0.1:6379"):
        redis.Redis.from_url(redis_url).delete(settings.queue_name)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(128)  # never accepted: connects, then no answer
    cases = {
        "redis up": args.redis_url,
        "refused": "redis://127.0.0.1:1/0",
        "hung": f"redis://127.0.0.1:{silent.getsockname()[1]}/0",
    }
    with tempfile.TemporaryDirectory() as var_dir:
        medians = {
            name: statistics.median(intake_seconds(url, args.n, Path(var_dir)))
            for name, url in cases.items()
        }
    silent.close()
    baseline = medians["redis up"]
    for name, median in medians.items():
        print(f"{name:9s} median {median * 1000:8.1f} ms  ratio {median / baseline:6.1f}x")


if __name__ == "__main__":
    main()
