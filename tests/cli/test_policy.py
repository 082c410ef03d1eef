"""`moderation policy history|restore` through click, against a real migrated database."""

from __future__ import annotations

import json
import uuid

import pytest
from click.testing import CliRunner, Result

from cli.main import cli
from core.db import session_scope
from core.settings import Settings
from core.sources import SourceChanges, get_source, update_source
from core.store import create_source


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def tuned_source(settings: Settings, name: str = "Daily Bugle") -> str:
    """A source at version 2: toxic flags at 0.6. (The PostgreSQL database is shared by the
    run's tests, so a test that finds its source by name gives a name of its own.)"""
    with session_scope(settings) as session:
        source_id = create_source(session, name).source.id
    with session_scope(settings) as session:
        changes = SourceChanges(thresholds={"toxic": {"flag": 0.6, "reject": None}})
        update_source(session, source_id, changes, changed_by="ed@x.org", reason="fewer flags")
    return source_id


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
class TestPolicyCommands:
    def test_history_json_lists_versions_with_who_and_why(self, settings: Settings) -> None:
        tuned_source(settings, name := f"Bugle {uuid.uuid4().hex[:6]}")
        result = run("policy", "history", "--source", name, "--json")
        assert result.exit_code == 0, result.output
        versions = json.loads(result.output)
        assert [(v["version"], v["reason"], v["current"]) for v in versions] == [
            (1, "source created", False),
            (2, "fewer flags", True),
        ]
        assert versions[1]["changes"] == ["toxic flag/reject: model -> 0.6/-"]

    def test_history_text_names_the_version_in_force(self, settings: Settings) -> None:
        tuned_source(settings, name := f"Bugle {uuid.uuid4().hex[:6]}")
        result = run("policy", "history", "--source", name)
        assert "v2" in result.output and "by ed@x.org  (in force)" in result.output

    def test_restore_rolls_back_as_a_new_version(self, settings: Settings) -> None:
        source_id = tuned_source(settings)
        result = run("policy", "restore", "--source", source_id, "1", "--reason", "too lax")
        assert result.exit_code == 0, result.output
        assert "restored from v1 as v3" in result.output
        with session_scope(settings) as session:
            source = get_source(session, source_id)
            assert (source.thresholds, source.policy_version) == ({}, 3)
        latest = json.loads(run("policy", "history", "--source", source_id, "--json").output)[-1]
        assert (latest["restored_from"], latest["reason"]) == (1, "too lax")
        assert latest["changed_by"].startswith("cli")

    def test_restore_refuses_in_one_line_with_exit_1(self, settings: Settings) -> None:
        source_id = tuned_source(settings)
        result = run("policy", "restore", "--source", source_id, "9", "--reason", "x")
        assert result.exit_code == 1
        assert result.output.strip() == f"Error: source {source_id!r} has no policy version 9"

    def test_restore_refuses_an_unknown_source(self, settings: Settings) -> None:
        result = run("policy", "restore", "--source", "Nobody at all", "1", "--reason", "x")
        assert (result.exit_code, result.output.strip()) == (
            1,
            "Error: no source with id 'Nobody at all'",
        )

    def test_sources_update_reason_lands_in_the_history(self, settings: Settings) -> None:
        source_id = tuned_source(settings)
        result = run("sources", "update", source_id, "--max-links", "5", "--reason", "link lists")
        assert result.exit_code == 0, result.output
        latest = json.loads(run("policy", "history", "--source", source_id, "--json").output)[-1]
        assert (latest["version"], latest["reason"], latest["changes"]) == (
            3,
            "link lists",
            ["max links: 2 -> 5"],
        )


class TestPolicyDrift:
    def test_drift_json_reports_psi_and_override_per_source(self, settings: Settings) -> None:
        with session_scope(settings) as session:
            source_id = create_source(session, "Quiet Herald").source.id
        result = run("policy", "drift", "--source", source_id, "--json")
        assert result.exit_code == 0, result.output
        body = json.loads(result.output)
        assert body["psi"]["toxic"] == {
            "psi": None,
            "recent": 0,
            "reference": 0,
            "reference_model": None,
            "alert": False,
        }
        assert (body["override"]["ratio"], body["override"]["alert"]) == (None, False)
        assert len(body["override"]["days"]) == 31
