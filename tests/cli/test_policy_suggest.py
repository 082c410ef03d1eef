"""`moderation policy suggest` through click on a seeded history."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner, Result

from bench._history import seed_history
from cli.main import cli
from core.db import session_scope
from core.policies import policy_versions
from core.settings import Settings
from core.sources import find_source
from core.store import create_source
from core.thresholds import live_model_thresholds
from core.whatif import proposed_policy


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def seeded(settings: Settings, n: int) -> str:
    """A source named uniquely (the PostgreSQL database is shared by the run's tests)."""
    name = f"Planet {uuid.uuid4().hex[:6]}"
    with session_scope(settings) as session:
        source = create_source(session, name).source
        policy = proposed_policy(source, live_model_thresholds(settings))
        seed_history(session, source.id, policy, n, now=datetime.now(UTC), seed=5)
    return name


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
class TestPolicySuggest:
    def test_suggest_json_has_thresholds_and_what_if(self, settings: Settings) -> None:
        name = seeded(settings, 1500)
        result = run(
            "policy",
            "suggest",
            "--source",
            name,
            "--label",
            "toxic",
            "--flag-capacity",
            "4",
            "--json",
        )
        assert result.exit_code == 0, result.output
        body = json.loads(result.output)
        assert set(body["thresholds"]) == {"toxic"}
        assert set(body["what_if"]) >= {"current", "proposed", "changed"}
        assert set(body["what_if"]["proposed"]) == {"approved", "flagged", "rejected"}
        assert body["what_if"]["proposed"]["flagged"] <= 4 * 30
        assert body["saved_version"] is None

    def test_suggest_save_makes_a_policy_version(self, settings: Settings) -> None:
        name = seeded(settings, 1500)
        result = run(
            "policy",
            "suggest",
            "--source",
            name,
            "--label",
            "spam",
            "--flag-capacity",
            "5",
            "--save",
        )
        assert result.exit_code == 0, result.output
        assert "Saved as policy version 2." in result.output
        with session_scope(settings) as session:
            source = find_source(session, name)
            latest = policy_versions(session, source.id)[-1]
        assert latest.reason == "policy suggest: spam for a capacity of 5 flagged a day"
        assert source.thresholds["spam"] == latest.policy["thresholds"]["spam"]

    def test_suggest_with_too_few_labels_refuses_in_one_line(self, settings: Settings) -> None:
        name = seeded(settings, 200)
        result = run(
            "policy", "suggest", "--source", name, "--label", "toxic", "--reject-precision", "0.9"
        )
        assert result.exit_code == 1
        [line] = result.output.strip().splitlines()
        assert line.startswith(f"Error: {name} has ") and "more are needed" in line

    def test_suggest_needs_exactly_one_target(self, settings: Settings) -> None:
        result = run("policy", "suggest", "--source", "x", "--label", "toxic")
        assert result.exit_code == 2
        assert "exactly one of --flag-capacity and --reject-precision" in result.output
