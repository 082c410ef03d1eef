"""CPU per comment of the intake view and of the worker's use case, each in one process.

Usage: python -m bench cpu_profile [--comments 500] [--profile]

Where the end-to-end CPU goes, without gunicorn, Celery or a second process in the way: the
intake through the Flask test client (rate limit, signature, validation, the transaction and the
publish to the real Redis), then `moderate_comment` with the shipped model on the stored
comments (load, score, highlight, policy, decision and event, commit). Both use a scratch
PostgreSQL database. Prints CPU ms per comment (time.process_time, so other load on the machine
does not count) and, as a ratio, against the bare Flask endpoint of bench/intake.py served the
same way. --profile adds the top of a cProfile of each (CPU clock).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import time
import uuid
from collections.abc import Callable

from bench import _load


def cpu_ms_per_call(calls: list[Callable[[], object]], profile: bool) -> float:
    """CPU ms per call of `calls`, run once each; with `profile`, print where it went."""
    profiler = cProfile.Profile(time.process_time) if profile else None
    started = time.process_time()
    if profiler is not None:
        profiler.enable()
    for call in calls:
        call()
    if profiler is not None:
        profiler.disable()
    elapsed = time.process_time() - started
    if profiler is not None:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(30)
        print(out.getvalue())
    return 1000 * elapsed / max(1, len(calls))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--comments", type=int, default=500)
    parser.add_argument("--profile", action="store_true", help="print a cProfile of each part")
    parser.add_argument("--smoke", action="store_true", help="seconds-long run that cannot rot")
    args = parser.parse_args()
    n = 20 if args.smoke else args.comments
    warm = 5 if args.smoke else 50
    print(f"cpu_profile {_load.now_iso()}; {_load.machine_line()}; {n} comments")

    queue = f"bench-cpu-{uuid.uuid4().hex[:8]}"
    with _load.scratch_database() as database_url:
        source = _load.create_bench_source(database_url)
        os.environ.update(_load.service_env(database_url, queue))
        try:
            from core.db import session_scope
            from core.moderation import moderate_comment
            from core.settings import configure
            from service.app import create_app

            settings = configure()  # the environment service_env just set
            client = create_app(settings=settings).test_client()
            bare = _load.create_bare_app().test_client()
            run = uuid.uuid4().hex[:8]
            requests = [_load.signed_request(source, run, i) for i in range(warm + n)]

            def post(app_client: object, index: int) -> Callable[[], object]:
                path, headers, body = requests[index]

                def call() -> object:
                    response = app_client.post(path, headers=headers, data=body)  # type: ignore[attr-defined]
                    assert response.status_code == 202, response.get_data(as_text=True)
                    return response

                return call

            for index in range(warm):
                post(bare, index)()
            bare_ms = cpu_ms_per_call([post(bare, warm + i) for i in range(n)], profile=False)
            for index in range(warm):
                post(client, index)()
            intake_ms = cpu_ms_per_call(
                [post(client, warm + i) for i in range(n)], profile=args.profile
            )
            print(f"intake  {intake_ms:6.2f} ms CPU per accepted comment (in one process)")
            print(f"bare    {bare_ms:6.2f} ms CPU per request (the same test client)")

            from sqlalchemy import select

            import models
            from core.tables import Comment

            scorer = models.load(settings.model_dir or None, settings.model_sha256 or None)
            with session_scope(settings) as session:
                ids = list(
                    session.scalars(
                        select(Comment.id)
                        .where(Comment.source_id == source.id)
                        .order_by(Comment.received_at)
                    )
                )

            def decide(comment_id: str) -> Callable[[], object]:
                def call() -> object:
                    with session_scope(settings) as session:
                        return moderate_comment(session, comment_id, scorer)

                return call

            for comment_id in ids[:warm]:
                decide(comment_id)()
            worker_ms = cpu_ms_per_call([decide(i) for i in ids[warm:]], profile=args.profile)
            print(f"worker  {worker_ms:6.2f} ms CPU per decided comment (moderate_comment alone)")
            print(
                f"RATIO intake/bare CPU {intake_ms / bare_ms:.2f}; worker/bare CPU "
                f"{worker_ms / bare_ms:.2f} (no target: where the CPU goes)"
            )
        finally:
            _load.forget_queue(queue)
    return 0


if __name__ == "__main__":
    sys.exit(main())
