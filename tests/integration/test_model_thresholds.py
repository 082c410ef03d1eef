"""A real worker decides a new source's comments at the model's tuned thresholds, a person's
thresholds where a person set them."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

import models
from core.db import session_scope
from core.settings import Settings
from core.sources import SourceChanges, update_source
from core.store import NewSource, create_source
from models.artifact import SHIPPED_DIR, read_manifest
from tests.integration.intake import decided_view, post_comment
from tests.integration.workers import WorkerProcess, wait_for

pytestmark = pytest.mark.integration

# Mild comments; the test picks one the shipped model scores between its tuned threshold and
# the old flat 0.5 on one label, and below threshold on every other.
CANDIDATES = [
    "You people are clueless",
    "What a dumb take",
    "Your argument is rubbish",
    "This is a silly article",
    "The writer seems confused about the numbers",
    "Honestly this reads like nonsense",
    "You lot are clueless",
]
FLAT = 0.5


def between_thresholds(manifest: dict[str, float]) -> tuple[str, str]:
    """(text, label): the label's score is at or above its tuned threshold and below 0.5."""
    classifier = models.load()
    scores = classifier.predict_proba(CANDIDATES)
    for text, row in zip(CANDIDATES, scores, strict=True):
        by_label = dict(zip(classifier.labels, map(float, row), strict=True))
        over = [label for label, s in by_label.items() if s >= manifest[label]]
        if len(over) == 1 and by_label[over[0]] < FLAT:
            return text, over[0]
    pytest.fail(f"no candidate scores between a tuned threshold and {FLAT}: extend CANDIDATES")


def custom_source(settings: Settings, label: str) -> NewSource:
    with session_scope(settings) as session:
        created = create_source(session, "Person-tuned Gazette")
        changes = SourceChanges(thresholds={label: {"flag": FLAT, "reject": None}})
        update_source(session, created.source.id, changes)
        return created


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
class TestModelThresholds:
    def test_new_source_decides_at_the_manifest_thresholds_custom_keeps_its_own(
        self,
        settings: Settings,
        client: FlaskClient,
        source: NewSource,
        celery_worker: WorkerProcess,
    ) -> None:
        manifest: dict[str, float] = read_manifest(SHIPPED_DIR)["thresholds"]
        text, label = between_thresholds(manifest)
        tuned = custom_source(settings, label)

        new_view: dict[str, Any] = wait_for(
            decided_view(client, source, post_comment(client, source, text)["id"]), timeout=60
        )
        custom_view: dict[str, Any] = wait_for(
            decided_view(client, tuned, post_comment(client, tuned, text)["id"]), timeout=60
        )

        assert new_view["status"] == "flagged"
        assert {r.get("label"): r.get("threshold") for r in new_view["decision"]["reasons"]} == {
            label: manifest[label]
        }
        assert custom_view["status"] == "approved"
