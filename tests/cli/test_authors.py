"""`moderation authors suspend|ban|reinstate|sanctions` against a real database."""

from __future__ import annotations

import json
from pathlib import Path

import redis
from click.testing import CliRunner, Result

from cli.main import cli
from core.db import session_scope
from core.settings import Settings
from core.store import create_source
from core.tables import Comment, Event
from tests.service.review_support import add_comment


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def new_source(settings: Settings, name: str = "Bugle") -> str:
    with session_scope(settings) as session:
        return create_source(session, name).source.id


class TestAuthorsSanctions:
    def test_suspend_by_source_name_then_reinstate(
        self, settings: Settings, broker: redis.Redis
    ) -> None:
        new_source(settings)
        result = run(
            "authors", "suspend", "--source", "Bugle", "--author", "u-9", "--days", "3",
            "--reason", "insults", "--json",
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        shown = json.loads(result.stdout)
        assert (shown["kind"], shown["active"]) == ("suspension", True)
        assert shown["created_by"].startswith("cli:")
        with session_scope(settings) as session:
            assert session.get_one(Event, shown["event_id"]).type == "author.suspended"
        result = run(
            "authors", "reinstate", "--source", "Bugle", "--author", "u-9", "--reason", "sorry"
        )
        assert result.exit_code == 0, result.output
        assert "over" in result.output and "lifted" in result.output
        listing = run("authors", "sanctions", "--source", "Bugle", "--author", "u-9", "--json")
        (row,) = json.loads(listing.stdout)
        assert (row["active"], row["lift_reason"]) == (False, "sorry")

    def test_ban_has_no_end(self, settings: Settings, broker: redis.Redis) -> None:
        source_id = new_source(settings)
        result = run("authors", "ban", "--source", source_id, "--author", "u-1", "--reason", "bot")
        assert result.exit_code == 0, result.output
        assert "ban (in force)" in result.output and "until" not in result.output

    def test_refusals_are_one_line(self, settings: Settings) -> None:
        new_source(settings)
        result = run(
            "authors", "reinstate", "--source", "Bugle", "--author", "u-9", "--reason", "x"
        )
        assert result.exit_code == 1
        assert "neither suspended nor banned" in result.output
        result = run("authors", "ban", "--source", "Nope", "--author", "u-9", "--reason", "x")
        assert result.exit_code == 1 and "no source is named 'Nope'" in result.output


class TestAuthorsData:
    def test_export_to_a_private_file_then_erase(
        self, settings: Settings, broker: redis.Redis, tmp_path: Path
    ) -> None:
        source_id = new_source(settings)
        comment_id = add_comment(settings, source_id, author="Ann", author_id="u-9")
        out = tmp_path / "u-9.json"
        result = run("authors", "export", "--source", "Bugle", "--author", "u-9", "--out", str(out))
        assert result.exit_code == 0, result.output
        exported = json.loads(out.read_text())
        assert [c["id"] for c in exported["tables"]["comments"]] == [comment_id]
        assert out.stat().st_mode & 0o077 == 0
        result = run("authors", "erase", "--source", "Bugle", "--author", "u-9", "--yes", "--json")
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["counts"]["comments"] == 1
        with session_scope(settings) as session:
            assert session.get_one(Comment, comment_id).body == ""

    def test_erase_asks_first(self, settings: Settings) -> None:
        source_id = new_source(settings)
        comment_id = add_comment(settings, source_id, author="Ann", author_id="u-9")
        result = CliRunner().invoke(
            cli, ["authors", "erase", "--source", "Bugle", "--author", "u-9"], input="n\n"
        )
        assert result.exit_code == 1
        with session_scope(settings) as session:
            assert session.get_one(Comment, comment_id).body != ""

    def test_export_of_a_stranger_is_one_line(self, settings: Settings) -> None:
        new_source(settings)
        result = run("authors", "export", "--source", "Bugle", "--author", "u-nobody")
        assert result.exit_code == 1 and "nothing is stored" in result.output


class TestSourceSettingsForAuthors:
    def test_sources_update_sets_statements_appeal_url_retention_and_hold(
        self, settings: Settings
    ) -> None:
        source_id = new_source(settings)
        result = run(
            "sources", "update", source_id, "--statement", "spam=No adverts, please.",
            "--appeal-url", "https://cms.example/appeal/$external_id",
            "--retention-days", "90", "--sanctioned-comments", "hold",
            "--premoderate-below", "3", "--report-threshold", "2.5", "--json",
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        shown = json.loads(result.stdout)
        assert shown["statement_templates"] == {"spam": "No adverts, please."}
        assert shown["appeal_url"] == "https://cms.example/appeal/$external_id"
        assert (shown["retention_days"], shown["sanctioned_comments"]) == (90, "hold")
        assert (shown["premoderate_below"], shown["report_threshold"]) == (3, 2.5)
        result = run("sources", "update", source_id, "--statement", "spam=default", "--json")
        assert json.loads(result.stdout)["statement_templates"] == {}

    def test_sources_update_refuses_an_unknown_ground(self, settings: Settings) -> None:
        source_id = new_source(settings)
        result = run("sources", "update", source_id, "--statement", "rude=x")
        assert result.exit_code == 1 and "unknown ground 'rude'" in result.output
