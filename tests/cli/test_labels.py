"""`moderation labels export` through click, read back by `moderation evaluate --data`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cli.main import cli
from core import review
from core.db import session_scope
from core.domain import LABELS, Status
from core.settings import Settings
from core.store import create_source
from tests.service.review_support import add_comment, make_account

DECIDED = [
    ("You are a worthless idiot and everyone hates you", Status.REJECTED, "toxic"),
    ("Shut up, moron, nobody asked for your garbage opinion", Status.REJECTED, "harassment"),
    ("I will find where you live and hurt you", Status.REJECTED, "threat"),
    ("Win a free iPhone now, click www.prize.example", Status.REJECTED, "spam"),
    ("Thanks, the figures in the second table were useful", Status.APPROVED, "ok"),
    ("The council should publish the full budget", Status.APPROVED, "false_positive"),
    ("I disagree with the author, but it is well argued", Status.APPROVED, "context"),
    ("Please keep the discussion about the article", Status.REJECTED, "off_topic"),
]


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def source_id(settings: Settings) -> str:
    with session_scope(settings) as session:
        source_id = create_source(session, "Daily Planet").source.id
    moderator = make_account(settings, "moderator")
    for body, status, reason in DECIDED:
        comment_id = add_comment(settings, source_id, body=body)
        with session_scope(settings) as session:
            review.decide(session, comment_id, moderator.id, status, reason)
    return source_id


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
class TestLabelsExport:
    def test_labels_export_is_read_back_by_evaluate(
        self, settings: Settings, source_id: str, tmp_path: Path
    ) -> None:
        out = tmp_path / "labels.jsonl"
        result = run("labels", "export", "--source", source_id, "--out", str(out))
        assert result.exit_code == 0, result.output
        assert "7 labelled revisions written" in result.output
        rows = [json.loads(line) for line in out.read_text().splitlines()]
        assert sorted(r["reason_code"] for r in rows) == sorted(
            reason for _, _, reason in DECIDED if reason != "off_topic"
        )
        report = run("evaluate", "--data", str(out), "--json")
        assert report.exit_code == 0, report.output
        figures = json.loads(report.output)
        # Each label is measured only on the rows whose decision speaks of it.
        assert {label: (figures[label]["n"], figures[label]["positives"]) for label in LABELS} == {
            "toxic": (6, 3),
            "identity_hate": (3, 0),
            "threat": (4, 1),
            "spam": (4, 1),
        }

    def test_labels_export_since_tomorrow_writes_nothing(
        self, settings: Settings, source_id: str, tmp_path: Path
    ) -> None:
        out = tmp_path / "labels.jsonl"
        result = run(
            "labels", "export", "--source", source_id, "--since", "2999-01-01", "--out", str(out)
        )
        assert result.exit_code == 0, result.output
        assert out.read_text() == ""


class TestLabelsExportErrors:
    def test_unknown_source_is_one_readable_line(self, settings: Settings, tmp_path: Path) -> None:
        out = tmp_path / "labels.jsonl"
        result = run("labels", "export", "--source", "Nowhere", "--out", str(out))
        assert result.exit_code == 1
        assert result.output.strip().splitlines()[-1] == "Error: no source named 'Nowhere'"
        assert not out.exists() and not (tmp_path / "labels.jsonl.partial").exists()

    def test_bad_date_is_refused(self, settings: Settings, tmp_path: Path) -> None:
        result = run("labels", "export", "--since", "last week", "--out", str(tmp_path / "x"))
        assert result.exit_code == 2
        assert "not a date: 'last week'" in result.output

    def test_unwritable_file_is_one_readable_line(self, settings: Settings, tmp_path: Path) -> None:
        out = tmp_path / "missing-dir" / "labels.jsonl"
        result = run("labels", "export", "--out", str(out))
        assert result.exit_code == 1
        assert result.output.startswith(f"Error: cannot write {out}")
        assert len(result.output.strip().splitlines()) == 1
