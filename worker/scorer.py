"""The classifier, loaded once per worker process (after fork), never at import or per task."""

from __future__ import annotations

import time

import structlog

from core.moderation import Scorer
from core.settings import Settings

log = structlog.stdlib.get_logger(__name__)

_scorer: Scorer | None = None


def load_scorer(settings: Settings) -> Scorer:
    """The shipped model, or the one in settings.model_dir."""
    import models  # scikit-learn comes with it: only worker processes pay for the import

    started = time.perf_counter()
    scorer: Scorer = models.load(settings.model_dir or None, settings.model_sha256 or None)
    log.info(
        "model loaded",
        model_version=scorer.version,
        seconds=round(time.perf_counter() - started, 2),
    )
    return scorer


def get_scorer(settings: Settings) -> Scorer:
    """This process's classifier, loaded on first use (a prefork child loads it at start)."""
    global _scorer
    if _scorer is None:
        _scorer = load_scorer(settings)
    return _scorer


def use_scorer(scorer: Scorer | None) -> None:
    """Install a classifier for this process and the children it forks (tests, benchmarks)."""
    global _scorer
    _scorer = scorer
