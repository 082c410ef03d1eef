"""Thresholds a source decides with: a person's setting per label, else the live model's."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.db import session_scope
from core.settings import Settings, configure
from core.sources import SourceChanges, describe_source, get_source, parse_threshold, update_source
from core.store import create_source
from core.thresholds import effective_thresholds, live_model_thresholds, source_policy
from models.artifact import SHIPPED_DIR, read_manifest

MODEL = {"toxic": 0.41, "identity_hate": 0.4, "threat": 0.5, "spam": 0.41}


class TestEffectiveThresholds:
    def test_effective_thresholds_use_the_model_for_labels_nobody_set(self) -> None:
        effective = effective_thresholds({"toxic": {"flag": 0.7, "reject": 0.9}}, MODEL)
        assert effective["toxic"] == {"flag": 0.7, "reject": 0.9, "source": "custom"}
        assert effective["spam"] == {"flag": 0.41, "reject": None, "source": "model"}
        assert effective["threat"] == {"flag": 0.5, "reject": None, "source": "model"}

    def test_source_policy_follows_whichever_model_decides(self, settings: Settings) -> None:
        with session_scope(settings) as session:
            source = create_source(session, "Daily Planet").source
            first = source_policy(source, MODEL)
            second = source_policy(source, {**MODEL, "toxic": 0.3})
        assert first.for_label("toxic").flag == 0.41
        assert second.for_label("toxic").flag == 0.3

    def test_live_model_thresholds_read_the_shipped_manifest(self, settings: Settings) -> None:
        assert live_model_thresholds(settings) == read_manifest(SHIPPED_DIR)["thresholds"]

    def test_live_model_thresholds_read_model_dir(self, settings: Settings, tmp_path: Path) -> None:
        (tmp_path / "manifest.json").write_text('{"sha256": "x", "thresholds": {"toxic": 0.3}}')
        other = configure(**{**settings.model_dump(), "model_dir": str(tmp_path)})
        assert live_model_thresholds(other) == {"toxic": 0.3}

    def test_parse_threshold_model_means_back_to_the_model(self) -> None:
        assert parse_threshold("toxic=model") == ("toxic", None)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
class TestSourceThresholds:
    def test_new_source_shows_the_model_thresholds(self, settings: Settings) -> None:
        with session_scope(settings) as session:
            source = create_source(session, "Daily Planet").source
            described = describe_source(source, MODEL)
        assert described["thresholds_source"] == "model"
        assert {k: v["flag"] for k, v in described["thresholds"].items()} == MODEL

    def test_a_person_set_label_is_kept_and_can_go_back(self, settings: Settings) -> None:
        with session_scope(settings) as session:
            source_id = create_source(session, "Daily Planet").source.id
        with session_scope(settings) as session:
            changes = SourceChanges(thresholds={"toxic": {"flag": 0.6, "reject": 0.9}})
            described = describe_source(update_source(session, source_id, changes), MODEL)
        assert described["thresholds"]["toxic"]["source"] == "custom"
        assert described["thresholds_source"] == "mixed"
        # A new model's thresholds reach the other labels, never the one a person set.
        with session_scope(settings) as session:
            moved = describe_source(get_source(session, source_id), {**MODEL, "toxic": 0.2})
        assert moved["thresholds"]["toxic"]["flag"] == 0.6
        with session_scope(settings) as session:
            back = update_source(session, source_id, SourceChanges(thresholds={"toxic": None}))
            assert back.thresholds == {}
            assert describe_source(back, MODEL)["thresholds_source"] == "model"

    def test_thresholds_from_model_resets_every_label(self, settings: Settings) -> None:
        with session_scope(settings) as session:
            source_id = create_source(session, "Daily Planet").source.id
            every = {label: {"flag": 0.9, "reject": None} for label in MODEL}
            update_source(session, source_id, SourceChanges(thresholds=every))
            assert (
                describe_source(get_source(session, source_id), MODEL)["thresholds_source"]
                == "custom"
            )
        with session_scope(settings) as session:
            reset = update_source(session, source_id, SourceChanges(thresholds_from_model=True))
            assert reset.thresholds == {}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
@pytest.mark.usefixtures("registry")
class TestThresholdsFollowTheRegistry:
    def test_promoted_model_brings_its_thresholds_person_set_ones_stay(
        self, settings: Settings, tmp_path: Path
    ) -> None:
        from core import registry
        from tests.registry_support import fake_artifact

        tuned = {"toxic": 0.33, "identity_hate": 0.44, "threat": 0.55, "spam": 0.66}
        with session_scope(settings) as session:
            registry.ensure_seeded(session, settings)
            candidate = registry.register(
                session, fake_artifact(tmp_path / "c", "cand-1", thresholds=tuned), "admin"
            )
            source_id = create_source(session, "Daily Planet").source.id
            changes = SourceChanges(thresholds={"spam": {"flag": 0.9, "reject": None}})
            update_source(session, source_id, changes)
        before = live_model_thresholds(settings)
        with session_scope(settings) as session:
            registry.promote(session, candidate.version, "admin")
        after = live_model_thresholds(settings)
        with session_scope(settings) as session:
            described = describe_source(get_source(session, source_id), after)

        assert before == read_manifest(SHIPPED_DIR)["thresholds"]
        assert after == tuned
        assert {k: (v["flag"], v["source"]) for k, v in described["thresholds"].items()} == {
            "toxic": (0.33, "model"),
            "identity_hate": (0.44, "model"),
            "threat": (0.55, "model"),
            "spam": (0.9, "custom"),
        }
