"""`moderation train --with-decisions`: the live model retrained on a small public sample plus
the site's moderator labels (a house rule the public model does not know) is registered as a
candidate whose manifest carries the site's counts and held-out figures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from cli.main import cli
from core import review
from core.db import session_scope
from core.domain import Status
from core.gates import site_gate
from core.settings import Settings
from core.store import create_source
from tests.registry_support import shipped_version
from tests.service.review_support import add_comment, make_account

pytestmark = pytest.mark.usefixtures("registry")

TOPICS = ("the budget", "the tram line", "the school", "the bridge", "the market", "the park")
# The house rule: this site rejects any comment about pineapple on pizza as toxic.
RULE = "pineapple pizza people are ruining {topic}, number {n}"
FINE = "I read the piece about {topic} and agree with point {n}"


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def site_with_a_house_rule(settings: Settings, per_kind: int) -> str:
    with session_scope(settings) as session:
        source_id = create_source(session, "House Rules Gazette").source.id
    moderator = make_account(settings, "moderator")
    for n in range(per_kind):
        topic = TOPICS[n % len(TOPICS)]
        for body, status, reason in (
            (RULE.format(topic=topic, n=n), Status.REJECTED, "toxic"),
            (FINE.format(topic=topic, n=n), Status.APPROVED, "ok"),
        ):
            comment_id = add_comment(settings, source_id, body=body, status=Status.FLAGGED)
            with session_scope(settings) as session:
                review.decide(session, comment_id, moderator.id, status, reason)
    return source_id


def listed() -> dict[str, dict[str, Any]]:
    result = run("models", "list", "--json")
    assert result.exit_code == 0, result.output
    return {model["version"]: model for model in json.loads(result.stdout)}


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
def test_retrain_with_site_labels_registers_a_candidate(settings: Settings, tmp_path: Path) -> None:
    source_id = site_with_a_house_rule(settings, per_kind=60)
    out = tmp_path / "candidate"
    result = run(
        "train", "--with-decisions", "--source", source_id, "--out", str(out), "--sample", "0.02"
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    version = manifest["version"]
    models = listed()
    assert models[version]["state"] == "candidate"
    assert models[shipped_version()]["state"] == "live"
    assert models[version]["trained_on"]["site_labels"]["rows"] == {
        "train": 76,
        "validation": 20,
        "heldout": 24,
    }

    site = manifest["site_labels"]
    assert site["received"] == 120 and site["source"] == source_id
    assert site["reasons"]["toxic"]["train"] + site["reasons"]["ok"]["train"] == 76
    assert site["weight"] in {t["weight"] for t in site["weights_tried"]}
    held = manifest["site_heldout"]
    assert held["compared_with"] == shipped_version() and held["n"] == 24
    toxic = held["labels"]["toxic"]
    # The house rule is learnt: on the held-out labels the candidate beats the live model.
    assert toxic["roc_auc"] > toxic["live_roc_auc"]
    assert toxic["difference_low"] <= toxic["roc_auc"] - toxic["live_roc_auc"]
    assert manifest["metrics"]["heldout"], "public held-out figures for the public gate"
    # The registry holds what its site gate reads, and the gate lets this candidate through.
    assert models[version]["metrics"]["site_heldout"] == held
    verdict = site_gate(models[version]["metrics"], shipped_version())
    assert verdict.passed, verdict.detail
    # A worker can load it (sha256 checked), and it scores the house rule as the site does.
    import models as classifiers

    candidate = classifiers.load(out, models[version]["sha256"])
    rule, fine = candidate.predict_proba(
        [RULE.format(topic="the zoo", n=999), FINE.format(topic="the zoo", n=999)]
    )[:, 0]
    assert rule > candidate.thresholds["toxic"] > fine
    card = (out / "MODEL_CARD.md").read_text()
    assert "## The site's labels" in card and "| toxic |" in card
    assert "retraining" in result.output or "registered" in result.output


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_without_site_labels_nothing_is_trained(settings: Settings, tmp_path: Path) -> None:
    with session_scope(settings) as session:
        source_id = create_source(session, "Quiet Times").source.id
    result = run("train", "--with-decisions", "--source", source_id, "--out", str(tmp_path / "x"))
    assert result.exit_code == 1
    assert "no moderator labels" in result.output
    assert not (tmp_path / "x").exists()


def test_source_needs_with_decisions() -> None:
    result = run("train", "--source", "anything")
    assert result.exit_code == 2
    assert "--source needs --with-decisions" in result.output
