"""The model registry: every artifact the service knows, which one is live, and who changed what.

A model is registered once, from its artifact folder: the model file's sha256 is taken then and
is the only file a worker will load under that version afterwards (a file changed later is
refused at swap time). States: `candidate` (registered), `shadow` (scored beside the live one,
at most one), `live` (exactly one once the registry is seeded) and `retired` (was live). Every
change adds a ModelChange row: the registry's audit log, forced promotions and their reasons
included. The worker follows the live row (worker.follower); nothing here loads a model, so the
web process and the CLI use it without scikit-learn.
"""

from __future__ import annotations

import enum
import hashlib
import importlib.util
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.drift import reset_references
from core.gates import GateResult, check_promotion, refusals
from core.settings import Settings
from core.tables import ModelChange, ModelVersion, utcnow

log = structlog.stdlib.get_logger(__name__)

MANIFEST_FILE = "manifest.json"
MODEL_FILE = "model.joblib"
# The directory recorded for the artifact shipped inside the package: where the package lives
# differs between machines and installs, so it is found again at load time.
SHIPPED_DIRECTORY = "shipped"
# Who made the changes nobody asked for (seeding the registry on first start).
SYSTEM = "system"


class ModelState(enum.StrEnum):
    CANDIDATE = "candidate"
    SHADOW = "shadow"
    LIVE = "live"
    RETIRED = "retired"


class Action(enum.StrEnum):
    REGISTER = "register"
    SHADOW = "shadow"
    PROMOTE = "promote"
    ROLLBACK = "rollback"


class RegistryError(Exception):
    """A registry change refused, with a message that says why in one line."""


class UnknownModel(RegistryError):
    def __init__(self, version: str) -> None:
        super().__init__(f"no registered model {version!r} (see `moderation models list`)")
        self.version = version


class GatesRefused(RegistryError):
    """A promotion the gates refused; `results` says what each gate found."""

    def __init__(self, version: str, results: Sequence[GateResult]) -> None:
        failed = "; ".join(r.detail for r in refusals(results))
        super().__init__(f"promotion of {version} refused: {failed}")
        self.version = version
        self.results = list(results)


def shipped_model_dir() -> Path | None:
    """models/artifacts/, located without importing the models package (and scikit-learn)."""
    spec = importlib.util.find_spec("models")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "artifacts"


def artifact_directory(model: ModelVersion) -> Path | None:
    """Where a registered model's folder is on this machine (None: the package has no models)."""
    if model.directory == SHIPPED_DIRECTORY:
        return shipped_model_dir()
    return Path(model.directory)


@dataclass(frozen=True)
class Artifact:
    """An artifact folder as read for registration: its manifest and its model file's hash."""

    directory: str
    version: str
    sha256: str
    manifest: dict[str, Any] = field(repr=False)


def _file_sha256(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def read_artifact(directory: Path, expected_sha256: str | None = None) -> Artifact:
    """The folder's manifest and model file hash, refused unless they agree (and match
    expected_sha256 when given)."""
    manifest_path = directory / MANIFEST_FILE
    try:
        manifest = json.loads(manifest_path.read_text())
    except OSError as exc:
        raise RegistryError(f"no readable model manifest at {manifest_path}: {exc}") from exc
    except ValueError as exc:
        raise RegistryError(f"model manifest {manifest_path} is not valid JSON: {exc}") from exc
    if not isinstance(manifest, dict) or not isinstance(manifest.get("version"), str):
        raise RegistryError(f"model manifest {manifest_path} names no version")
    name = manifest.get("model_file", MODEL_FILE)
    if not isinstance(name, str) or Path(name).is_absolute() or ".." in Path(name).parts:
        raise RegistryError(f"model manifest {manifest_path} names no model file in its folder")
    try:
        actual = _file_sha256(directory / name)
    except OSError as exc:
        raise RegistryError(f"cannot read the model file {directory / name}: {exc}") from exc
    if manifest.get("sha256") != actual:
        raise RegistryError(
            f"model file {directory / name} does not match its manifest (sha256 {actual[:12]}...)"
        )
    if expected_sha256 and expected_sha256.lower() != actual:
        raise RegistryError(
            f"model file {directory / name} is not the expected model "
            f"(sha256 {actual[:12]}..., expected {expected_sha256[:12]}...)"
        )
    return Artifact(str(directory), manifest["version"], actual, manifest)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def manifest_figures(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """The held-out figures the gates compare, from a manifest (absent ones are left out).

    `public_heldout`: ROC-AUC per public held-out (set, label); `identity_audit`: the audit's
    neutral-template flag rate and BPSN power mean; `site_heldout`: the manifest's comparison
    with the live model on the site's own held-out labels (docs/models.md gives its shape)."""
    figures: dict[str, Any] = {}
    metrics = manifest.get("metrics") if isinstance(manifest.get("metrics"), Mapping) else {}
    scored: list[dict[str, Any]] = []
    for row in (metrics or {}).get("heldout") or []:
        if not isinstance(row, Mapping) or not {"set", "label", "roc_auc"} <= row.keys():
            continue
        auc = _number(row["roc_auc"])
        if auc is not None:
            scored.append({"set": str(row["set"]), "label": str(row["label"]), "roc_auc": auc})
    if scored:
        figures["public_heldout"] = scored
        figures["public_mean_roc_auc"] = sum(r["roc_auc"] for r in scored) / len(scored)
    audit = manifest.get("identity_audit")
    if isinstance(audit, Mapping):
        means = (
            audit.get("mean_bias_aucs") if isinstance(audit.get("mean_bias_aucs"), Mapping) else {}
        )
        figures["identity_audit"] = {
            "neutral_flag_rate": _number(audit.get("neutral_flag_rate")),
            "bpsn_power_mean": _number((means or {}).get("bpsn_auc")),
        }
    site = manifest.get("site_heldout")
    if isinstance(site, Mapping):
        figures["site_heldout"] = dict(site)
    return figures


def _trained_on(manifest: Mapping[str, Any]) -> dict[str, Any]:
    sets = [
        str(entry.get("name"))
        for entry in manifest.get("training_sets") or []
        if isinstance(entry, Mapping) and entry.get("name")
    ]
    site = manifest.get("site_labels")
    return {
        "sets": sets,
        "site_labels": dict(site) if isinstance(site, Mapping) else None,
        "command": manifest.get("command"),
    }


def _thresholds(manifest: Mapping[str, Any]) -> dict[str, float]:
    raw = manifest.get("thresholds")
    if not isinstance(raw, Mapping):
        return {}
    return {str(label): float(value) for label, value in raw.items() if _number(value) is not None}


def _score_reference(manifest: Mapping[str, Any]) -> dict[str, Any] | None:
    """The manifest's `score_reference` (models.evaluate.score_reference), the labels whose bins
    are well formed: ascending edges from 0 to 1 and one share per bin."""
    raw = manifest.get("score_reference")
    if not isinstance(raw, Mapping):
        return None
    kept: dict[str, Any] = {}
    for label, bins in raw.items():
        if not isinstance(bins, Mapping):
            continue
        edges, fractions = bins.get("edges"), bins.get("fractions")
        if not (
            isinstance(edges, list)
            and isinstance(fractions, list)
            and len(edges) >= 2
            and len(fractions) == len(edges) - 1
            and all(_number(e) is not None for e in edges + fractions)
            and edges[0] == 0.0
            and edges[-1] == 1.0
            and edges == sorted(edges)
        ):
            continue
        count = _number(bins.get("count"))
        kept[str(label)] = {
            "edges": [float(e) for e in edges],
            "fractions": [float(f) for f in fractions],
            "count": int(count) if count is not None else 0,
        }
    return kept or None


def _record(
    session: Session,
    model: ModelVersion,
    to_state: ModelState,
    action: Action,
    by: str,
    *,
    reason: str | None = None,
    forced: bool = False,
    gates: Sequence[GateResult] = (),
) -> None:
    previous = model.state
    now = utcnow()
    model.state, model.changed_by, model.changed_at = to_state.value, by, now
    session.add(
        ModelChange(
            version=model.version,
            from_state=previous,
            to_state=to_state.value,
            action=action.value,
            changed_by=by,
            reason=reason,
            forced=forced,
            gates=[result.as_json() for result in gates],
            changed_at=now,
        )
    )
    session.flush()
    log.info(
        "model state changed",
        model_version=model.version,
        from_state=previous,
        to_state=to_state.value,
        changed_by=by,
        forced=forced,
    )


def register(
    session: Session,
    directory: Path,
    by: str,
    *,
    expected_sha256: str | None = None,
    state: ModelState = ModelState.CANDIDATE,
    shipped: bool = False,
) -> ModelVersion:
    """Add an artifact folder to the registry (a `candidate` unless told otherwise)."""
    artifact = read_artifact(directory, expected_sha256)
    for column, value in (("version", artifact.version), ("sha256", artifact.sha256)):
        existing = session.scalar(
            select(ModelVersion).where(getattr(ModelVersion, column) == value)
        )
        if existing is not None:
            raise RegistryError(
                f"the model in {directory} is registered already as {existing.version} "
                f"({existing.state}; same {column})"
            )
    now = utcnow()
    model = ModelVersion(
        version=artifact.version,
        directory=SHIPPED_DIRECTORY if shipped else str(directory.resolve()),
        sha256=artifact.sha256,
        trained_on=_trained_on(artifact.manifest),
        metrics=manifest_figures(artifact.manifest),
        thresholds=_thresholds(artifact.manifest),
        score_reference=_score_reference(artifact.manifest),
        state=state.value,
        changed_by=by,
        changed_at=now,
        created_at=now,
    )
    session.add(model)
    session.flush()  # the change row refers to it
    session.add(
        ModelChange(
            version=model.version,
            to_state=state.value,
            action=Action.REGISTER.value,
            changed_by=by,
            changed_at=now,
        )
    )
    session.flush()
    log.info("model registered", model_version=model.version, state=state.value, changed_by=by)
    return model


def _locked(session: Session) -> list[ModelVersion]:
    """Every row, locked until commit (PostgreSQL): two promotions at once cannot both win."""
    query = select(ModelVersion).order_by(ModelVersion.created_at, ModelVersion.id)
    return list(session.scalars(query.with_for_update()))


def _configured_artifact(settings: Settings) -> tuple[Path, str | None, bool]:
    if settings.model_dir:
        directory = Path(settings.model_dir)
        shipped_dir = shipped_model_dir()
        shipped = shipped_dir is not None and directory.resolve() == shipped_dir.resolve()
        return directory, settings.model_sha256 or None, shipped
    shipped_dir = shipped_model_dir()
    if shipped_dir is None:
        raise RegistryError("no MODEL_DIR set and no shipped model in this installation")
    return shipped_dir, None, True


def ensure_seeded(session: Session, settings: Settings) -> ModelVersion | None:
    """The live model; an empty registry first gets the configured one (MODEL_DIR with
    MODEL_SHA256, else the shipped artifact) registered as live. Idempotent, safe to race."""
    live = live_model(session)
    if live is not None:
        return live
    if session.scalar(select(func.count()).select_from(ModelVersion)):
        return None  # models are registered but none is live: nothing to guess
    directory, sha256, shipped = _configured_artifact(settings)
    try:
        with session.begin_nested():
            return register(
                session,
                directory,
                SYSTEM,
                expected_sha256=sha256,
                state=ModelState.LIVE,
                shipped=shipped,
            )
    except IntegrityError:
        # Another process seeded it at the same moment.
        live = live_model(session)
        if live is None:
            raise
        return live


def live_model(session: Session) -> ModelVersion | None:
    return session.scalar(select(ModelVersion).where(ModelVersion.state == ModelState.LIVE.value))


def shadow_model(session: Session) -> ModelVersion | None:
    return session.scalar(select(ModelVersion).where(ModelVersion.state == ModelState.SHADOW.value))


def list_models(session: Session) -> list[ModelVersion]:
    return list(
        session.scalars(select(ModelVersion).order_by(ModelVersion.created_at, ModelVersion.id))
    )


def history(session: Session, version: str | None = None) -> list[ModelChange]:
    query = select(ModelChange).order_by(ModelChange.changed_at, ModelChange.id)
    if version is not None:
        query = query.where(ModelChange.version == version)
    return list(session.scalars(query))


def _find(models: Sequence[ModelVersion], version: str) -> ModelVersion:
    for model in models:
        if model.version == version:
            return model
    raise UnknownModel(version)


def shadow(session: Session, version: str, by: str) -> ModelVersion:
    """Run `version` in shadow (a shadow before it goes back to candidate)."""
    models = _locked(session)
    model = _find(models, version)
    if model.state == ModelState.LIVE.value:
        raise RegistryError(f"{version} is the live model; it cannot also run in shadow")
    if model.state == ModelState.SHADOW.value:
        return model
    for other in models:
        if other.state == ModelState.SHADOW.value:
            _record(
                session,
                other,
                ModelState.CANDIDATE,
                Action.SHADOW,
                by,
                reason=f"{version} took the shadow",
            )
    _record(session, model, ModelState.SHADOW, Action.SHADOW, by)
    return model


def promote(
    session: Session,
    version: str,
    by: str,
    *,
    force: bool = False,
    reason: str | None = None,
) -> tuple[ModelVersion, list[GateResult]]:
    """Make `version` live if the gates pass (core.gates), or with force and a reason; the model
    live until now is retired. Raises GatesRefused with what each gate found."""
    if force and not (reason and reason.strip()):
        raise RegistryError("forcing a promotion needs a reason: it goes into the audit log")
    models = _locked(session)
    model = _find(models, version)
    if model.state == ModelState.LIVE.value:
        raise RegistryError(f"{version} is live already")
    live = next((m for m in models if m.state == ModelState.LIVE.value), None)
    results = check_promotion(model.metrics, live.metrics, live.version) if live else []
    if refusals(results) and not force:
        raise GatesRefused(version, results)
    if live is not None:
        _record(
            session, live, ModelState.RETIRED, Action.PROMOTE, by, reason=f"replaced by {version}"
        )
    forced = force and bool(refusals(results))
    _record(
        session,
        model,
        ModelState.LIVE,
        Action.PROMOTE,
        by,
        reason=reason.strip() if reason else None,
        forced=forced,
        gates=results,
    )
    if forced:
        log.warning(
            "model promoted over its gates",
            model_version=version,
            changed_by=by,
            reason=reason,
            refused_by=[r.gate for r in refusals(results)],
        )
    reset_references(session, model)
    return model, results


def _predecessor(session: Session, live: ModelVersion) -> str | None:
    """The model that was live before `live` was promoted (rollbacks unwind promotions in
    order: after A -> B -> C, a rollback gives B and a second one A)."""
    promoted = session.scalars(
        select(ModelChange.id)
        .where(
            ModelChange.version == live.version,
            ModelChange.to_state == ModelState.LIVE.value,
            ModelChange.action.in_([Action.PROMOTE.value, Action.REGISTER.value]),
        )
        .order_by(ModelChange.id.desc())
    ).first()
    if promoted is None:
        return None
    return session.scalars(
        select(ModelChange.version)
        .where(
            ModelChange.id < promoted,
            ModelChange.action == Action.PROMOTE.value,
            ModelChange.from_state == ModelState.LIVE.value,
            ModelChange.to_state == ModelState.RETIRED.value,
        )
        .order_by(ModelChange.id.desc())
    ).first()


def rollback(session: Session, by: str, reason: str | None = None) -> ModelVersion:
    """Retire the live model and make live again the one it replaced (no gates: it was live)."""
    models = _locked(session)
    live = next((m for m in models if m.state == ModelState.LIVE.value), None)
    if live is None:
        raise RegistryError("no live model to roll back")
    previous = _predecessor(session, live)
    target = next((m for m in models if m.version == previous), None)
    if target is None:
        raise RegistryError(f"no earlier live model to roll back to from {live.version}")
    if target.state != ModelState.RETIRED.value:
        raise RegistryError(
            f"{target.version}, live before {live.version}, is {target.state} now: promote a "
            "model instead"
        )
    note = reason.strip() if reason and reason.strip() else None
    _record(session, live, ModelState.RETIRED, Action.ROLLBACK, by, reason=note)
    _record(session, target, ModelState.LIVE, Action.ROLLBACK, by, reason=note)
    reset_references(session, target)
    return target


def describe(model: ModelVersion) -> dict[str, Any]:
    """A registered model as JSON (`models list --json`, the admin API)."""
    return {
        "version": model.version,
        "state": model.state,
        "sha256": model.sha256,
        "created_at": model.created_at.isoformat(),
        "metrics": model.metrics,
        "directory": model.directory,
        "trained_on": model.trained_on,
        "thresholds": model.thresholds,
        "changed_by": model.changed_by,
        "changed_at": model.changed_at.isoformat(),
    }


def describe_change(change: ModelChange) -> dict[str, Any]:
    return {
        "version": change.version,
        "from_state": change.from_state,
        "to_state": change.to_state,
        "action": change.action,
        "changed_by": change.changed_by,
        "changed_at": change.changed_at.isoformat(),
        "reason": change.reason,
        "forced": change.forced,
        "gates": change.gates,
    }
