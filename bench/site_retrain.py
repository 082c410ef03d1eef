"""How long `moderation train --with-decisions` takes with N site labels (target: 20,000 in at
most 15 minutes), against the full public sets of the shipped model.

Usage: .venv/bin/python -m bench site_retrain [--labels 20000] [--sample FRACTION]

The site labels are comments of sets the shipped model never trained on (OLID, Kaggle insults,
SFU, UCC: evaluation only, never saved), labelled by their own raters plus a house rule the
public model does not know (any comment naming a rival paper is rejected as toxic), decided
over 60 days. Reading the labels from the database is not timed here (`labels export` of 20,000
takes seconds). Prints the seconds of each step and `RATIO site_retrain/target`.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TARGET_SECONDS = 15 * 60
SITE_SETS = ("olid", "kaggle-insults", "sfu-constructiveness-toxicity", "unhealthy-comments-ucc")
RIVAL = "the Evening Courier"


def site_rows(n: int, seed: int = 0) -> list[dict[str, object]]:
    from models.datasets import load_sets

    frame = load_sets(SITE_SETS)
    frame = frame[frame["toxic"].notna()].sample(frac=1.0, random_state=seed)
    rng = random.Random(seed)
    start = datetime(2026, 9, 1, tzinfo=UTC)
    rows = []
    for index, (text, toxic) in enumerate(zip(frame["text"], frame["toxic"], strict=True)):
        if len(rows) == n:
            break
        rule = rng.random() < 0.1
        body = f"{text} As {RIVAL} said." if rule else str(text)
        rejected = rule or toxic >= 0.5
        labels = (
            {"toxic": 1}
            if rejected
            else dict.fromkeys(("toxic", "identity_hate", "threat", "spam"), 0)
        )
        rows.append(
            {
                "text": body,
                **labels,
                "decided_at": (start + timedelta(seconds=index * 60 * 86400 / n)).isoformat(),
                "reason_code": "toxic" if rejected else "ok",
                "source": "bench",
                "comment_id": f"cmt_{index:06d}",
            }
        )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=int, default=20_000)
    parser.add_argument("--sample", type=float, default=None, help="Of the public rows.")
    args = parser.parse_args()
    from models.reproducible import pin_blas

    pin_blas()
    import models
    from models.artifact import SHIPPED_DIR, read_manifest
    from models.datasets import load_sets
    from models.site_build import build_site_candidate

    started = time.perf_counter()
    live = models.load()
    manifest = read_manifest(SHIPPED_DIR)
    public = load_sets([entry["name"] for entry in manifest["training_sets"]])
    if args.sample:
        public = public.sample(frac=args.sample, random_state=0).reset_index(drop=True)
    rows = site_rows(args.labels)
    print(f"{len(rows)} site labels, {len(public)} public rows", flush=True)

    def progress(step: str, fraction: float) -> None:
        print(f"{time.perf_counter() - started:7.1f} s {100 * fraction:3.0f}% {step}", flush=True)

    with tempfile.TemporaryDirectory() as out:
        built = build_site_candidate(
            live=live,
            live_manifest=manifest,
            public=public,
            site_rows=rows,
            out=Path(out),
            command="bench site_retrain",
            progress=progress,
        )
    seconds = time.perf_counter() - started
    print(json.dumps({"steps": built["step_seconds"], "site_heldout": built["site_heldout"]}))
    print(f"weight {built['site_labels']['weight']:g}; total {seconds:.0f} s")
    print(f"RATIO site_retrain/target {seconds / TARGET_SECONDS:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
