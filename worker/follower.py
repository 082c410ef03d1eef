"""Workers follow the model registry: each pool process swaps to the live model, no restart.

A daemon thread per process asks the registry every MODEL_CHECK_INTERVAL_SECONDS which model
is live. When it is not the one this process scores with, the thread loads it beside the old
one (models.load checks the file against the sha256 the registry took at registration, from the
same bytes it unpickles) and only then swaps the reference the score task reads, so no comment
waits for a load and each decision names the version that made it. A model that fails to load
leaves the old one in use; the failure is logged, put in this process's heartbeat (/readyz and
/metrics read it) and tried again when the registry changes or after RETRY_FAILED_AFTER.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import structlog
from sqlalchemy.exc import SQLAlchemyError

from core.db import dispose_engines, session_scope
from core.moderation import Scorer
from core.registry import SHIPPED_DIRECTORY, RegistryError, ensure_seeded, shadow_model
from core.settings import Settings
from core.tables import ModelVersion
from worker import scorer as scorers
from worker.heartbeat import report_model

log = structlog.stdlib.get_logger(__name__)

# A live model that failed to load is tried again after this long (the file may be fixed).
RETRY_FAILED_AFTER = 300.0


@dataclass(frozen=True)
class Target:
    """A registered model as the worker needs it: what to load and what it must be."""

    version: str
    directory: str
    sha256: str


class ModelRefused(Exception):
    """The registered model cannot be used (missing, changed since registration, wrong)."""


def _target(model: ModelVersion | None) -> Target | None:
    return Target(model.version, model.directory, model.sha256) if model is not None else None


def live_target(settings: Settings) -> Target | None:
    """The registry's live model (seeding an empty registry); None when there is none."""
    return registry_targets(settings)[0]


def registry_targets(settings: Settings) -> tuple[Target | None, Target | None]:
    """The registry's live model (seeding an empty registry) and its shadow model."""
    with session_scope(settings) as session:
        return _target(ensure_seeded(session, settings)), _target(shadow_model(session))


def load_target(target: Target) -> Scorer:
    """Load a registered model, refused unless its file is the one registered under it."""
    import models  # scikit-learn: worker processes only
    from models.artifact import ModelError

    path = None if target.directory == SHIPPED_DIRECTORY else Path(target.directory)
    started = time.perf_counter()
    try:
        loaded: Scorer = models.load(path, target.sha256)
    except (ModelError, OSError) as exc:
        raise ModelRefused(str(exc)) from exc
    if loaded.version != target.version:
        raise ModelRefused(
            f"the model file holds version {loaded.version}, registered as {target.version}"
        )
    log.info(
        "model loaded",
        model_version=target.version,
        sha256=target.sha256[:12],
        seconds=round(time.perf_counter() - started, 2),
    )
    return loaded


class Follower:
    """Keeps this process's scorer on the registry's live model (see the module docstring)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.current: Target | None = None
        self.failed: tuple[Target, float, str] | None = None
        self.shadow: Target | None = None
        self.shadow_failed: tuple[Target, float] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="moderation-follower", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def check(self) -> None:
        """One look at the registry; swap if the live model changed and loads."""
        try:
            target, shadow = registry_targets(self.settings)
        except (SQLAlchemyError, RegistryError) as exc:
            log.warning("model registry unreadable; keeping the current model", error=str(exc))
            return
        self.follow_shadow(shadow)
        if target is None or target == self.current:
            return
        if self.failed is not None and self.failed[0] == target:
            if time.monotonic() - self.failed[1] < RETRY_FAILED_AFTER:
                return
        self.swap(target)

    def swap(self, target: Target) -> None:
        scorer = scorers.current_scorer()
        previous = scorer.version if scorer is not None else None
        try:
            loaded = load_target(target)
        except Exception as exc:  # noqa: BLE001 - whatever the reason, the old model stays
            reason = str(exc) or type(exc).__name__
            self.failed = (target, time.monotonic(), reason)
            log.error(
                "model swap refused; the current model stays in use",
                model_version=target.version,
                sha256=target.sha256[:12],
                directory=target.directory,
                current_version=previous,
                error=reason,
            )
            if previous is not None:
                report_model(previous, {"version": target.version, "error": reason})
            return
        scorers.install(loaded)
        self.current, self.failed = target, None
        report_model(loaded.version)
        log.info("model swapped", model_version=loaded.version, previous_version=previous)

    def follow_shadow(self, target: Target | None) -> None:
        """Load the shadow model (or drop it); one that fails to load is simply not run."""
        if target == self.shadow:
            return
        if target is None:
            scorers.install_shadow(None)
            self.shadow = None
            log.info("shadow model dropped")
            return
        if self.shadow_failed is not None and self.shadow_failed[0] == target:
            if time.monotonic() - self.shadow_failed[1] < RETRY_FAILED_AFTER:
                return
        try:
            loaded = load_target(target)
        except Exception as exc:  # noqa: BLE001 - a shadow that cannot load just does not run
            self.shadow_failed = (target, time.monotonic())
            log.error(
                "shadow model refused; no shadow scoring",
                model_version=target.version,
                sha256=target.sha256[:12],
                directory=target.directory,
                error=str(exc) or type(exc).__name__,
            )
            return
        scorers.install_shadow(loaded)
        self.shadow, self.shadow_failed = target, None
        log.info("shadow model loaded", model_version=target.version)

    def _run(self) -> None:
        while not self._stop.wait(self.settings.model_check_interval_seconds):
            try:
                self.check()
            except Exception:  # noqa: BLE001 - the thread must outlive any one bad check
                log.exception("model check failed; trying again at the next interval")


_running: tuple[int, Follower] | None = None


def ensure_follower(settings: Settings, current: Target | None) -> None:
    """Start this process's follower once (a forked child starts its own); not for a scorer
    installed by hand (scorers.pinned())."""
    global _running
    if scorers.pinned() or (_running is not None and _running[0] == os.getpid()):
        return
    follower = Follower(settings)
    follower.current = current
    follower.start()
    _running = (os.getpid(), follower)


def seed_registry(settings: Settings) -> None:
    """Seed an empty registry (core.registry.ensure_seeded); a failure is only logged: each
    pool process tries again when it starts."""
    try:
        live_target(settings)
    except (SQLAlchemyError, RegistryError) as exc:
        log.warning("model registry not seeded", error=str(exc))
    finally:
        # The main process must not hand its database connections to the forked children.
        dispose_engines()


def start_following(settings: Settings) -> Scorer:
    """This process's first model: the registry's live one, else (registry unreadable, or the
    live model refused) the configured one; then the follower keeps it current."""
    target: Target | None = None
    try:
        target = live_target(settings)
    except (SQLAlchemyError, RegistryError) as exc:
        log.warning("model registry unreadable; loading the configured model", error=str(exc))
    loaded: Scorer | None = None
    if target is not None:
        try:
            loaded = load_target(target)
        except ModelRefused as exc:
            log.error(
                "live model refused; loading the configured model",
                model_version=target.version,
                sha256=target.sha256[:12],
                directory=target.directory,
                error=str(exc),
            )
    current = target if loaded is not None else None
    if loaded is None:
        loaded = scorers.load_scorer(settings)
    ensure_follower(settings, current)
    return loaded


def stop_follower() -> None:
    global _running
    if _running is not None and _running[0] == os.getpid():
        _running[1].stop()
    _running = None
