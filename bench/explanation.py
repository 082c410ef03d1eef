"""What the moderator's explanation costs the worker, per comment it flags or rejects.

Usage: .venv/bin/python -m bench explanation [--n 2000] [--model DIR]

Scores real comments (the classifier benchmark's sets) with the model as the worker does
(`assess`), keeps those some label's flag threshold catches, and times, per such comment, the
scoring and the explanation the worker adds (`core.explanations.explain_outcome`): median and
95th percentile in milliseconds, and the added share of the worker's scoring time. Approvals pay
nothing (no explanation is computed for them).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--model", default=None)
    args = parser.parse_args()

    import models
    from bench.classifier import comments
    from core.domain import Status
    from core.explanations import explain_outcome
    from core.thresholds import scorer_thresholds

    classifier = models.load(args.model)
    warm, texts = comments(args.n)
    for text in warm[:200]:
        classifier.assess(text)
    flags = scorer_thresholds(classifier)
    scoring, explaining = [], []
    for text in texts:
        started = time.perf_counter()
        probabilities, _ = classifier.assess(text)
        scored = time.perf_counter()
        caught = any(
            float(p) >= flags.get(label, 0.5)
            for label, p in zip(classifier.labels, probabilities, strict=True)
        )
        if not caught:
            continue
        explain_outcome(classifier, text, Status.FLAGGED)
        explaining.append(time.perf_counter() - scored)
        scoring.append(scored - started)
    if not explaining:
        print("no comment flagged", file=sys.stderr)
        return 1
    ms = [1000 * t for t in explaining]
    print(f"model {classifier.version}: {len(ms)} of {len(texts)} comments flagged")
    print(
        f"scoring   median {1000 * statistics.median(scoring):.2f} ms, "
        f"p95 {1000 * percentile(scoring, 0.95):.2f} ms"
    )
    print(f"explaining median {statistics.median(ms):.2f} ms, p95 {percentile(ms, 0.95):.2f} ms")
    print(f"added to a flagged comment's scoring: {sum(explaining) / sum(scoring):.0%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
