"""Classifier speed, memory and size against alt-profanity-check, on the same comments.

Usage: .venv/bin/python -m bench classifier [--n 1000] [--repeat 5] [--model DIR] [--card]

Prints, from one run:
  single  one comment per call (all four labels, the worker's case): calls per second, ours
          and alt-profanity-check's, and the ratio (target >= 5);
  batch   all comments in one call: comments per second and the ratio (target >= 0.25);
  memory  peak RSS of a fresh process that loads the model and scores the batch (<= 500 MB);
  size    the artifact's model file (<= 25 MB), and it with the embedding file beside it
          (<= 40 MB).
Comments are real ones from the data catalogue (Wikipedia talk, news, Gab, YouTube); the piece
cache is warmed on OTHER comments first, as a running worker's would be. Each timing is the best
of --repeat rounds, measured alternately for both models, in CPU time of this process
(time.process_time), so other load on a shared machine does not skew the ratios; wall-clock
ratios are printed beside them.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SETS = ("jigsaw-toxic-partial", "toxic-spans-semeval2021", "gab-hate-corpus", "youtube-spam")
TARGET_SINGLE = 5.0
TARGET_BATCH = 0.25
TARGET_RSS_MB = 500.0
TARGET_SIZE_MB = 25.0
TARGET_TOTAL_MB = 40.0


def comments(n: int, seed: int = 0) -> tuple[list[str], list[str]]:
    """2n distinct real comments, split into a warm-up half and a measured half."""
    from models.datasets import load_sets

    frame = load_sets(SETS)
    texts = list(frame["text"])
    random.Random(seed).shuffle(texts)
    return texts[:n], texts[n : 2 * n]


def timed(call: Callable[[], object]) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one call."""
    cpu, wall = time.process_time(), time.perf_counter()
    call()
    return time.process_time() - cpu, time.perf_counter() - wall


def peak_rss_mb(model_dir: str | None, texts: Sequence[str]) -> float:
    """Peak RSS of a fresh process that loads the model and scores ``texts``."""
    script = (
        "import json, resource, sys\n"
        "import models\n"
        "texts = json.load(sys.stdin)\n"
        f"c = models.load({model_dir!r})\n"
        "c.predict_proba(texts)\n"
        "[c.predict_proba([t]) for t in texts[:200]]\n"
        "[c.highlights(t) for t in texts[:50]]\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        input=json.dumps(list(texts)),
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    return float(result.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="comments measured")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--model", default=None, help="artifact directory (default: shipped)")
    parser.add_argument(
        "--card", action="store_true", help="also write the printed lines into its MODEL_CARD.md"
    )
    args = parser.parse_args()

    from profanity_check import predict_prob

    import models
    from core.settings import get_settings
    from models.artifact import MANIFEST_FILE, SHIPPED_DIR

    directory = Path(args.model or get_settings().model_dir or SHIPPED_DIR)
    classifier = models.load(directory)
    warm, measured = comments(args.n)
    mean_chars = sum(map(len, measured)) / len(measured)
    classifier.predict_proba(warm)
    predict_prob(warm[:100])

    def ours_single() -> None:
        for text in measured:
            classifier.predict_proba([text])

    def theirs_single() -> None:
        for text in measured:
            predict_prob([text])

    inf = (float("inf"), float("inf"))
    ours_s, theirs_s, ours_b, theirs_b = inf, inf, inf, inf
    for _ in range(args.repeat):
        theirs_s = min(theirs_s, timed(theirs_single))
        ours_s = min(ours_s, timed(ours_single))
        theirs_b = min(theirs_b, timed(lambda: predict_prob(measured)))
        ours_b = min(ours_b, timed(lambda: classifier.predict_proba(measured)))
    n = len(measured)
    single_ratio = theirs_s[0] / ours_s[0]
    batch_ratio = theirs_b[0] / ours_b[0]
    single_wall = theirs_s[1] / ours_s[1]
    batch_wall = theirs_b[1] / ours_b[1]
    manifest = json.loads((directory / MANIFEST_FILE).read_text())
    size_mb = (directory / manifest["model_file"]).stat().st_size / 1e6
    embedding = manifest.get("embedding") or {}
    total_mb = size_mb + ((directory / embedding["file"]).stat().st_size / 1e6 if embedding else 0)
    rss = peak_rss_mb(str(directory), measured)

    def verdict(ok: bool) -> str:
        return "ok" if ok else "BELOW TARGET"

    lines = [
        f"classifier {classifier.version}: {n} comments, mean {mean_chars:.0f} chars",
        f"single  ours {n / ours_s[0]:8.0f} calls/s ({1e3 * ours_s[0] / n:.3f} ms CPU)  "
        f"alt-profanity-check {n / theirs_s[0]:6.0f} calls/s ({1e3 * theirs_s[0] / n:.3f} ms)  "
        f"ratio {single_ratio:6.1f}x (wall {single_wall:.1f}x)  (target >= {TARGET_SINGLE:.0f}x: "
        f"{verdict(single_ratio >= TARGET_SINGLE)})",
        f"batch   ours {n / ours_b[0]:8.0f} texts/s  alt-profanity-check {n / theirs_b[0]:6.0f} "
        f"texts/s  ratio {batch_ratio:6.2f}x (wall {batch_wall:.2f}x)  (target >= {TARGET_BATCH}x: "
        f"{verdict(batch_ratio >= TARGET_BATCH)})",
        f"memory  peak RSS with the model loaded and scoring: {rss:.0f} MB "
        f"(target <= {TARGET_RSS_MB:.0f}: {verdict(rss <= TARGET_RSS_MB)})",
        f"size    {manifest['model_file']}: {size_mb:.1f} MB "
        f"(target <= {TARGET_SIZE_MB:.0f}: {verdict(size_mb <= TARGET_SIZE_MB)}); "
        f"with {embedding.get('file', 'no embedding')}: {total_mb:.1f} MB "
        f"(target <= {TARGET_TOTAL_MB:.0f}: {verdict(total_mb <= TARGET_TOTAL_MB)})",
    ]
    print("\n".join(lines))
    if args.card:
        from models.artifact import CARD_FILE
        from models.card import speed_section, with_speed_section

        card = directory / CARD_FILE
        card.write_text(with_speed_section(card.read_text(), speed_section(lines)))
        print(f"wrote the speed section of {card}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
