"""`moderation models ...` through click: list, add, shadow, promote with gates, rollback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from cli.main import cli
from core.settings import Settings
from tests.registry_support import fake_artifact, figures_like_shipped, shipped_version

pytestmark = [
    pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True),
    pytest.mark.usefixtures("settings", "registry"),
]


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["models", *args])


def listed() -> dict[str, dict[str, Any]]:
    result = run("list", "--json")
    assert result.exit_code == 0, result.output
    return {model["version"]: model for model in json.loads(result.stdout)}


class TestModelsCli:
    def test_list_json_shows_the_shipped_model_live(self) -> None:
        (model,) = listed().values()
        assert model["version"] == shipped_version()
        assert model["state"] == "live"
        assert {"version", "state", "sha256", "created_at", "metrics"} <= model.keys()

    def test_add_promote_rollback(self, tmp_path: Path) -> None:
        shipped = shipped_version()
        assert run("add", str(fake_artifact(tmp_path / "a", "cand-1"))).exit_code == 0
        assert listed()["cand-1"]["state"] == "candidate"
        assert run("shadow", "cand-1").exit_code == 0
        assert listed()["cand-1"]["state"] == "shadow"

        promoted = run("promote", "cand-1")
        assert promoted.exit_code == 0, promoted.output
        assert {v: m["state"] for v, m in listed().items()} == {
            shipped: "retired",
            "cand-1": "live",
        }
        rolled = run("rollback", "--reason", "house rule wrong")
        assert rolled.exit_code == 0, rolled.output
        assert rolled.stdout.strip() == f"Rolled back: {shipped} is live."
        assert {v: m["state"] for v, m in listed().items()} == {
            shipped: "live",
            "cand-1": "retired",
        }

    def test_gate_refusal_is_one_line_and_exit_1(self, tmp_path: Path) -> None:
        folder = fake_artifact(tmp_path / "a", "bad-1", **figures_like_shipped(heldout_delta=-0.02))
        run("add", str(folder))
        refused = run("promote", "bad-1")
        assert refused.exit_code == 1
        lines = refused.stderr.strip().splitlines()
        assert len(lines) == 1
        assert lines[0].startswith("Error: promotion of bad-1 refused: public held-out mean")
        assert "--force --reason TEXT overrides" in lines[0]
        assert listed()["bad-1"]["state"] == "candidate"

    def test_force_needs_a_reason_and_lands_in_history(self, tmp_path: Path) -> None:
        folder = fake_artifact(tmp_path / "a", "bad-1", **figures_like_shipped(bpsn_delta=-0.05))
        run("add", str(folder))
        assert run("promote", "bad-1", "--force").exit_code == 1
        forced = run("promote", "bad-1", "--force", "--reason", "audit figures are stale")
        assert forced.exit_code == 0, forced.output
        assert "over the identity_audit gate" in forced.output
        changes = json.loads(run("history", "bad-1", "--json").stdout)
        assert changes[-1]["forced"] is True
        assert changes[-1]["reason"] == "audit figures are stale"
        assert changes[-1]["changed_by"].startswith("cli")

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (("promote", "nope"), "no registered model 'nope'"),
            (("shadow", "nope"), "no registered model 'nope'"),
            (("rollback",), "no earlier live model to roll back to"),
        ],
    )
    def test_refusals_are_one_readable_line(self, args: tuple[str, ...], message: str) -> None:
        listed()  # the registry is seeded (and says so in the log) on first use
        result = run(*args)
        assert result.exit_code == 1
        (line,) = result.stderr.strip().splitlines()
        assert line.startswith("Error: ")
        assert message in line

    def test_add_twice_is_refused(self, tmp_path: Path, settings: Settings) -> None:
        folder = fake_artifact(tmp_path / "a", "cand-1")
        run("add", str(folder))
        again = run("add", str(folder))
        assert again.exit_code == 1
        assert "registered already as cand-1" in again.output
