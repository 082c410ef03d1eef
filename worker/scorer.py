"""The classifier, loaded once per worker process (after fork), never at import or per task."""

from __future__ import annotations

import logging
import time

from core.moderation import Scorer
from core.settings import Settings

log = logging.getLogger(__name__)

_scorer: Scorer | None = None


def load_scorer(settings: Settings) -> Scorer:
    """The shipped model, or the one in settings.model_dir."""
    import models  # scikit-learn comes with it: only worker processes pay for the import

    started = time.perf_counter()
    scorer: Scorer = models.load(settings.model_dir or None)
    log.info("model %s loaded in %.2f s", scorer.version, time.perf_counter() - started)
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
