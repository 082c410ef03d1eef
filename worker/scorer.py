"""The classifier of this worker process: loaded after fork, swapped by worker.follower.

The score task reads the current scorer once per comment, so a swap takes effect between two
comments, and every decision names the version that made it."""

from __future__ import annotations

import structlog

from core.moderation import Scorer
from core.settings import Settings

log = structlog.stdlib.get_logger(__name__)

_scorer: Scorer | None = None
# The registry's shadow model, when there is one (scores after each live decision, decides nothing).
_shadow: Scorer | None = None
# A scorer installed by hand (tests, benchmarks) is kept: the registry is not followed.
_pinned = False


def load_scorer(settings: Settings) -> Scorer:
    """The shipped model, or the one in settings.model_dir (checked against MODEL_SHA256)."""
    import models  # scikit-learn comes with it: only worker processes pay for the import

    scorer: Scorer = models.load(settings.model_dir or None, settings.model_sha256 or None)
    log.info("model loaded", model_version=scorer.version, source="configured")
    return scorer


def get_scorer(settings: Settings) -> Scorer:
    """This process's classifier: on first use the registry's live model (worker.follower,
    which then keeps it current), the configured one when the registry cannot give it."""
    global _scorer
    if _scorer is None:
        from worker.follower import start_following

        _scorer = start_following(settings)
    return _scorer


def current_scorer() -> Scorer | None:
    return _scorer


def install(scorer: Scorer) -> None:
    """Swap in another classifier (the follower, after loading and checking it)."""
    global _scorer
    _scorer = scorer


def current_shadow() -> Scorer | None:
    return _shadow


def install_shadow(scorer: Scorer | None) -> None:
    global _shadow
    _shadow = scorer


def pinned() -> bool:
    return _pinned


def use_scorer(scorer: Scorer | None) -> None:
    """Install a classifier for this process and the children it forks (tests, benchmarks); it
    stays: the registry is not followed."""
    global _scorer, _pinned
    _scorer, _pinned = scorer, scorer is not None
