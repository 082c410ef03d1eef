"""The model registry: seeding, registration, shadow, promotion with its gates, rollback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core import registry
from core.db import session_scope
from core.registry import GatesRefused, RegistryError
from core.settings import Settings
from tests.registry_support import (
    fake_artifact,
    figures_like_shipped,
    shipped_version,
    site_figures,
)

pytestmark = [
    pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True),
    pytest.mark.usefixtures("registry"),
]


def states(settings: Settings) -> dict[str, str]:
    with session_scope(settings) as session:
        return {m.version: m.state for m in registry.list_models(session)}


def seed(settings: Settings) -> str:
    with session_scope(settings) as session:
        live = registry.ensure_seeded(session, settings)
        assert live is not None
        return live.version


def add(settings: Settings, directory: Path) -> str:
    with session_scope(settings) as session:
        return registry.register(session, directory, "admin@example.org").version


def promote(settings: Settings, version: str, **options: object) -> None:
    with session_scope(settings) as session:
        registry.promote(session, version, "admin@example.org", **options)  # type: ignore[arg-type]


class TestSeeding:
    def test_empty_registry_gets_the_shipped_model_live_once(self, settings: Settings) -> None:
        assert seed(settings) == shipped_version()
        assert seed(settings) == shipped_version()
        with session_scope(settings) as session:
            (model,) = registry.list_models(session)
            assert (model.directory, model.changed_by) == (registry.SHIPPED_DIRECTORY, "system")
            assert model.metrics["identity_audit"]["neutral_flag_rate"] == 0.0
            assert len(registry.history(session)) == 1

    def test_model_dir_setting_is_what_gets_seeded(
        self, settings: Settings, tmp_path: Path
    ) -> None:
        folder = fake_artifact(tmp_path / "own", "own-1")
        sha256 = json.loads((folder / "manifest.json").read_text())["sha256"]
        configured = settings.model_copy(update={"model_dir": str(folder), "model_sha256": sha256})
        assert seed(configured) == "own-1"


class TestRegister:
    def test_added_model_is_a_candidate_with_its_figures(
        self, settings: Settings, tmp_path: Path
    ) -> None:
        seed(settings)
        version = add(settings, fake_artifact(tmp_path / "a", "cand-1"))
        with session_scope(settings) as session:
            (model,) = [m for m in registry.list_models(session) if m.version == version]
            described = registry.describe(model)
        assert described["state"] == "candidate"
        assert described["metrics"]["public_mean_roc_auc"] > 0.5
        assert described["thresholds"]["toxic"] == 0.5
        assert described["trained_on"]["sets"] == ["made-up"]

    def test_same_model_twice_is_refused(self, settings: Settings, tmp_path: Path) -> None:
        folder = fake_artifact(tmp_path / "a", "cand-1")
        add(settings, folder)
        with pytest.raises(RegistryError, match="registered already as cand-1"):
            add(settings, folder)

    def test_file_that_disagrees_with_its_manifest_is_refused(
        self, settings: Settings, tmp_path: Path
    ) -> None:
        folder = fake_artifact(tmp_path / "a", "cand-1")
        (folder / "model.joblib").write_bytes(b"swapped")
        with pytest.raises(RegistryError, match="does not match its manifest"):
            add(settings, folder)


class TestStateChanges:
    def test_shadow_keeps_one_shadow(self, settings: Settings, tmp_path: Path) -> None:
        seed(settings)
        first = add(settings, fake_artifact(tmp_path / "a", "cand-1"))
        second = add(settings, fake_artifact(tmp_path / "b", "cand-2"))
        for version in (first, second):
            with session_scope(settings) as session:
                registry.shadow(session, version, "admin@example.org")
        assert states(settings)[first] == "candidate"
        assert states(settings)[second] == "shadow"

    def test_promote_retires_the_live_model_and_rollback_unwinds_in_order(
        self, settings: Settings, tmp_path: Path
    ) -> None:
        shipped = seed(settings)
        first = add(settings, fake_artifact(tmp_path / "a", "cand-1"))
        second = add(settings, fake_artifact(tmp_path / "b", "cand-2"))
        promote(settings, first)
        promote(settings, second)
        assert states(settings) == {shipped: "retired", first: "retired", second: "live"}
        with session_scope(settings) as session:
            assert registry.rollback(session, "admin@example.org").version == first
        with session_scope(settings) as session:
            assert registry.rollback(session, "admin@example.org").version == shipped
        assert states(settings) == {shipped: "live", first: "retired", second: "retired"}
        with session_scope(settings) as session, pytest.raises(RegistryError, match="no earlier"):
            registry.rollback(session, "admin@example.org")

    def test_live_model_cannot_be_promoted_or_shadowed(self, settings: Settings) -> None:
        shipped = seed(settings)
        with session_scope(settings) as session, pytest.raises(RegistryError, match="live"):
            registry.shadow(session, shipped, "admin@example.org")
        with session_scope(settings) as session, pytest.raises(RegistryError, match="live already"):
            registry.promote(session, shipped, "admin@example.org")

    def test_unknown_version_is_named(self, settings: Settings) -> None:
        seed(settings)
        with session_scope(settings) as session, pytest.raises(RegistryError, match="nope"):
            registry.promote(session, "nope", "admin@example.org")


GATE_CASES = [
    ("site_heldout", {"site_heldout": site_figures(-0.08, -0.02, "LIVE")}),
    ("site_heldout", {"site_heldout": site_figures(0.01, 0.05, "another-model")}),
    ("public_heldout", {"heldout_delta": -0.006}),
    ("identity_audit", {"neutral_flag_rate": 0.01}),
    ("identity_audit", {"bpsn_delta": -0.011}),
]


class TestGates:
    @pytest.mark.parametrize(("gate", "changes"), GATE_CASES)
    def test_gate_refuses_a_candidate_built_to_fail_it(
        self, settings: Settings, tmp_path: Path, gate: str, changes: dict[str, object]
    ) -> None:
        live = seed(settings)
        if "site_heldout" in changes:
            site = dict(changes["site_heldout"])  # type: ignore[call-overload]
            site["compared_with"] = live if site["compared_with"] == "LIVE" else "another-model"
            changes = {"site_heldout": site}
        version = add(
            settings, fake_artifact(tmp_path / "a", "bad-1", **figures_like_shipped(**changes))
        )
        with pytest.raises(GatesRefused) as refused:
            promote(settings, version)
        assert [r.gate for r in refused.value.results if not r.passed] == [gate]
        assert states(settings)[version] == "candidate"

    def test_candidate_within_tolerances_is_promoted(
        self, settings: Settings, tmp_path: Path
    ) -> None:
        live = seed(settings)
        figures = figures_like_shipped(
            heldout_delta=-0.004, bpsn_delta=-0.009, site_heldout=site_figures(-0.01, 0.03, live)
        )
        version = add(settings, fake_artifact(tmp_path / "a", "ok-1", **figures))
        promote(settings, version)
        assert states(settings)[version] == "live"

    def test_force_with_reason_overrides_and_is_in_the_audit_log(
        self, settings: Settings, tmp_path: Path
    ) -> None:
        seed(settings)
        figures = figures_like_shipped(heldout_delta=-0.05)
        version = add(settings, fake_artifact(tmp_path / "a", "bad-1", **figures))
        with pytest.raises(RegistryError, match="needs a reason"):
            promote(settings, version, force=True)
        promote(settings, version, force=True, reason="house rule matters more")
        with session_scope(settings) as session:
            change = registry.history(session, version)[-1]
            assert (change.to_state, change.forced, change.reason) == (
                "live",
                True,
                "house rule matters more",
            )
            assert [g["gate"] for g in change.gates if not g["passed"]] == ["public_heldout"]
