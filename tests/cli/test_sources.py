"""`moderation sources ...` through click, against a real migrated database."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner, Result
from sqlalchemy.orm import Session
from standardwebhooks import Webhook

from cli.main import cli
from core.db import session_scope
from core.settings import Settings
from core.store import create_source, sha256_hex
from core.tables import Source
from models.artifact import SHIPPED_DIR, read_manifest

SHIPPED_THRESHOLDS: dict[str, float] = read_manifest(SHIPPED_DIR)["thresholds"]


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def stored(settings: Settings, source_id: str) -> Source:
    with session_scope(settings) as s:
        source = s.get(Source, source_id)
        assert source is not None
        return source


def existing(session: Session) -> str:
    created = create_source(session, "Daily Bugle", callback_url="https://cms.example/cb")
    session.commit()
    return created.source.id


class TestSourcesAdd:
    @pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
    def test_sources_add_json_prints_credentials_once_as_one_object(
        self, settings: Settings
    ) -> None:
        result = run(
            "sources", "add", "Daily Bugle", "--callback-url", "https://cms.example/cb", "--json"
        )
        assert result.exit_code == 0, result.output
        created = json.loads(result.output)
        assert set(created) == {"id", "secret", "token"}
        source = stored(settings, created["id"])
        assert source.name == "Daily Bugle"
        assert source.callback_url == "https://cms.example/cb"
        assert source.secret == created["secret"] and created["secret"].startswith("whsec_")
        assert source.token_sha256 == sha256_hex(created["token"])
        Webhook(created["secret"])  # a secret the standardwebhooks library accepts

    def test_sources_add_prints_id_secret_and_token_readably(self, settings: Settings) -> None:
        result = run("sources", "add", "Bugle")
        assert result.exit_code == 0
        assert "id:" in result.output and "whsec_" in result.output and "mod_" in result.output
        assert "no callback URL yet" in result.output

    @pytest.mark.parametrize("url", ["ftp://cms.example/cb", "cms.example/cb", "http://"])
    def test_sources_add_refuses_a_callback_url_that_is_not_http(
        self, settings: Settings, url: str
    ) -> None:
        result = run("sources", "add", "Bugle", "--callback-url", url)
        assert result.exit_code != 0
        assert "http(s)" in result.output

    @pytest.mark.parametrize(("name", "message"), [("  ", "cannot be empty"), ("x" * 201, "200")])
    def test_sources_add_refuses_a_bad_name(
        self, settings: Settings, name: str, message: str
    ) -> None:
        result = run("sources", "add", name)
        assert result.exit_code == 2
        assert message in result.output


class TestSourcesList:
    def test_sources_list_shows_each_source_without_secrets(
        self, settings: Settings, session: Session
    ) -> None:
        source_id = existing(session)
        result = run("sources", "list")
        assert result.exit_code == 0
        assert source_id in result.output and "https://cms.example/cb" in result.output
        assert "whsec_" not in result.output

    def test_sources_list_json_has_thresholds_for_every_label(
        self, settings: Settings, session: Session
    ) -> None:
        existing(session)
        (item,) = json.loads(run("sources", "list", "--json").output)
        assert set(item["thresholds"]) == {"toxic", "identity_hate", "threat", "spam"}
        assert item["thresholds_source"] == "model"
        assert "secret" not in item

    def test_sources_list_says_which_thresholds_follow_the_model(
        self, settings: Settings, session: Session
    ) -> None:
        source_id = existing(session)
        run("sources", "update", source_id, "--threshold", "toxic=0.6:0.9")
        result = run("sources", "list")
        assert "toxic=0.6:0.9 " in result.output
        assert f"spam={SHIPPED_THRESHOLDS['spam']:g}(model)" in result.output
        assert "[mixed]" in result.output
        back = run("sources", "update", source_id, "--threshold", "toxic=model")
        assert back.exit_code == 0, back.output
        assert "[model]" in back.output
        assert stored(settings, source_id).thresholds == {}

    def test_sources_update_model_thresholds_resets_every_label(
        self, settings: Settings, session: Session
    ) -> None:
        source_id = existing(session)
        run("sources", "update", source_id, "--threshold", "toxic=0.6", "--threshold", "spam=0.2")
        result = run("sources", "update", source_id, "--model-thresholds", "--json")
        assert result.exit_code == 0, result.output
        assert json.loads(result.output)["thresholds_source"] == "model"
        assert stored(settings, source_id).thresholds == {}


class TestSourcesUpdate:
    @pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
    def test_sources_update_sets_thresholds_blocklist_and_limits(
        self, settings: Settings, session: Session
    ) -> None:
        source_id = existing(session)
        result = run(
            "sources", "update", source_id,
            "--threshold", "toxic=0.6:0.9",
            "--threshold", "spam=0.4",
            "--blocklist-add", "casino:reject",
            "--blocklist-add", "crypto",
            "--max-links", "1",
            "--max-body-chars", "800",
            "--callback-url", "https://cms.example/v2/cb",
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        source = stored(settings, source_id)
        assert source.thresholds["toxic"] == {"flag": 0.6, "reject": 0.9}
        assert source.thresholds["spam"] == {"flag": 0.4, "reject": None}
        assert source.blocklist == [
            {"term": "casino", "action": "reject"},
            {"term": "crypto", "action": "flag"},
        ]
        assert (source.max_links, source.max_body_chars) == (1, 800)
        assert source.callback_url == "https://cms.example/v2/cb"

    def test_sources_update_removes_a_blocklist_term(
        self, settings: Settings, session: Session
    ) -> None:
        source_id = existing(session)
        run("sources", "update", source_id, "--blocklist-add", "casino")
        result = run("sources", "update", source_id, "--blocklist-remove", "CASINO")
        assert result.exit_code == 0
        assert stored(settings, source_id).blocklist == []

    @pytest.mark.parametrize(
        ("option", "message"),
        [
            ("rudeness=0.5", "unknown label"),
            ("toxic=1.5", "between 0 and 1"),
            ("toxic=0.8:0.5", "reject threshold"),
            ("toxic", "LABEL=FLAG"),
            ("toxic=high", "numbers"),
        ],
    )
    def test_sources_update_refuses_bad_thresholds_and_changes_nothing(
        self, settings: Settings, session: Session, option: str, message: str
    ) -> None:
        source_id = existing(session)
        result = run("sources", "update", source_id, "--threshold", option)
        assert result.exit_code != 0
        assert message in result.output
        assert stored(settings, source_id).thresholds == {}

    def test_sources_update_sets_what_happens_when_the_scorer_is_down(
        self, settings: Settings, session: Session
    ) -> None:
        source_id = existing(session)
        result = run(
            "sources", "update", source_id, "--when-unscored", "fail-open", "--unscored-wait", "2m"
        )
        assert result.exit_code == 0, result.output
        source = stored(settings, source_id)
        assert (source.unscored_mode, source.unscored_wait_seconds) == ("fail-open", 120)
        listed = run("sources", "list").output
        assert "fail-open: approved provisionally when not scored within 120 s" in listed

    @pytest.mark.parametrize(
        ("options", "message"),
        [
            (["--when-unscored", "open"], "fail-closed"),
            (["--unscored-wait", "8d"], "between 1 and 604800 seconds"),
            (["--unscored-wait", "soon"], "not a duration"),
        ],
    )
    def test_sources_update_refuses_bad_unscored_settings(
        self, settings: Settings, session: Session, options: list[str], message: str
    ) -> None:
        source_id = existing(session)
        result = run("sources", "update", source_id, *options)
        assert result.exit_code != 0
        assert message in result.output
        assert stored(settings, source_id).unscored_mode == "fail-closed"

    def test_sources_update_names_an_unknown_source(self, settings: Settings) -> None:
        result = run("sources", "update", "src_missing", "--max-links", "3")
        assert result.exit_code == 1
        assert "no source with id 'src_missing'" in result.output


class TestSourcesRotateSecret:
    @pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
    def test_sources_rotate_secret_keeps_the_old_one_during_the_overlap(
        self, settings: Settings, session: Session
    ) -> None:
        source_id = existing(session)
        old = stored(settings, source_id).secret
        result = run("sources", "rotate-secret", source_id, "--overlap", "24h", "--json")
        assert result.exit_code == 0, result.output
        rotated = json.loads(result.output)
        source = stored(settings, source_id)
        assert source.secret == rotated["secret"] != old
        assert source.previous_secret == old
        assert source.previous_secret_expires_at is not None
        expected = datetime.now(UTC) + timedelta(hours=24)
        assert abs(source.previous_secret_expires_at - expected) < timedelta(minutes=1)

    def test_sources_rotate_secret_without_overlap_drops_the_old_one(
        self, settings: Settings, session: Session
    ) -> None:
        source_id = existing(session)
        result = run("sources", "rotate-secret", source_id, "--overlap", "0")
        assert result.exit_code == 0
        assert "no longer verifies" in result.output
        assert stored(settings, source_id).previous_secret is None

    def test_sources_rotate_secret_refuses_a_bad_overlap(
        self, settings: Settings, session: Session
    ) -> None:
        source_id = existing(session)
        result = run("sources", "rotate-secret", source_id, "--overlap", "a while")
        assert result.exit_code != 0
        assert "not a duration" in result.output
