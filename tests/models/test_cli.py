"""`moderation train / evaluate / score` through click's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import models
from cli.main import cli
from models.artifact import MODEL_FILE, file_sha256, save
from tests.models.tiny_model import tiny_classifier


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("model")
    save(tiny_classifier(), directory, {"seed": 13})
    return directory


def model_args(directory: Path) -> list[str]:
    """--model DIR with the sha256 it must have (the folder's manifest alone is not trusted)."""
    return ["--model", str(directory), "--sha256", file_sha256(directory / MODEL_FILE)]


def run(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)


class TestScoreCommand:
    def test_score_without_model_option_follows_model_dir(self, model_dir: Path) -> None:
        sha256 = file_sha256(model_dir / MODEL_FILE)
        result = CliRunner(env={"MODEL_DIR": str(model_dir), "MODEL_SHA256": sha256}).invoke(
            cli, ["score", "you are an idiot"], catch_exceptions=False
        )
        expected = models.load(model_dir, sha256).scores("you are an idiot")
        assert json.loads(result.output)["scores"] == pytest.approx(expected, abs=1e-6)

    def test_score_text_prints_scores_and_highlights(self, model_dir: Path) -> None:
        result = run("score", "you are an idiot", *model_args(model_dir))
        assert result.exit_code == 0, result.output
        payload = json.loads(result.output)
        assert set(payload["scores"]) == {"toxic", "identity_hate", "threat", "spam"}
        assert isinstance(payload["highlights"], list)

    def test_score_explain_adds_explanation(self, model_dir: Path) -> None:
        result = run("score", "you are an idiot", "--explain", *model_args(model_dir))
        payload = json.loads(result.output)
        spans = payload["explanation"]["toxic"]
        assert any("you are an idiot"[s:e] == "idiot" for s, e, _ in spans)

    def test_score_jsonl_from_stdin_one_line_each(self, model_dir: Path) -> None:
        lines = "".join(json.dumps({"text": t}) + "\n" for t in ["a nice day", "you idiot"] * 3)
        result = CliRunner().invoke(
            cli, ["score", "--jsonl", "-", *model_args(model_dir)], input=lines
        )
        assert result.exit_code == 0, result.output
        out = [json.loads(line) for line in result.stdout.splitlines()]
        assert len(out) == 6
        classifier = models.load(model_dir, file_sha256(model_dir / MODEL_FILE))
        expected = classifier.scores("you idiot")["toxic"]
        assert out[1]["scores"]["toxic"] == pytest.approx(expected, abs=1e-6)

    def test_score_jsonl_bad_line_is_one_readable_error(self, model_dir: Path) -> None:
        result = CliRunner().invoke(
            cli, ["score", "--jsonl", "-", *model_args(model_dir)], input='{"body": 1}\n'
        )
        assert result.exit_code != 0
        assert 'line 1: expected an object with a "text" string' in result.output

    def test_score_needs_text_or_jsonl(self, model_dir: Path) -> None:
        result = CliRunner().invoke(cli, ["score", *model_args(model_dir)])
        assert result.exit_code == 2

    def test_score_tampered_model_refused(self, tmp_path: Path) -> None:
        save(tiny_classifier(), tmp_path, {})
        arguments = model_args(tmp_path)
        (tmp_path / "model.joblib").write_bytes(b"not a model")
        result = CliRunner().invoke(cli, ["score", "hi", *arguments])
        assert result.exit_code == 1
        assert "is not the expected model" in result.output

    def test_score_other_model_without_sha256_is_one_readable_error(self, tmp_path: Path) -> None:
        save(tiny_classifier(), tmp_path, {})
        result = CliRunner().invoke(cli, ["score", "hi", "--model", str(tmp_path)])
        assert result.exit_code == 1
        assert "set MODEL_SHA256" in result.output


class TestEvaluateCommand:
    def test_evaluate_json_report(self, model_dir: Path, tmp_path: Path) -> None:
        data = tmp_path / "labelled.csv"
        data.write_text("text,toxic\nyou idiot,1\nnice article,0\nwhat a moron,1\nthanks,0\n")
        result = run("evaluate", *model_args(model_dir), "--data", str(data), "--json")
        assert result.exit_code == 0, result.output
        report = json.loads(result.output)
        assert set(report) == {"toxic"}
        assert report["toxic"]["roc_auc"] == pytest.approx(1.0)

    def test_evaluate_table(self, model_dir: Path, tmp_path: Path) -> None:
        data = tmp_path / "labelled.csv"
        data.write_text("text,toxic\nyou idiot,1\nnice article,0\n")
        result = run("evaluate", *model_args(model_dir), "--data", str(data))
        assert result.exit_code == 0
        assert result.output.splitlines()[1].startswith("toxic")

    def test_evaluate_missing_file_is_readable(self, model_dir: Path, tmp_path: Path) -> None:
        result = CliRunner().invoke(
            cli, ["evaluate", *model_args(model_dir), "--data", str(tmp_path / "x.csv")]
        )
        assert result.exit_code == 1
        assert "no such file" in result.output

    def test_evaluate_without_label_column(self, model_dir: Path, tmp_path: Path) -> None:
        data = tmp_path / "labelled.csv"
        data.write_text("text,other\nhi,1\n")
        result = CliRunner().invoke(cli, ["evaluate", *model_args(model_dir), "--data", str(data)])
        assert result.exit_code == 1
        assert "no label column" in result.output


class TestTrainCommand:
    def test_train_refuses_restricted_set_without_opt_in(self, tmp_path: Path) -> None:
        from models.datasets import ADAPTERS

        restricted = next(n for n, a in ADAPTERS.items() if a.info.licence_class != "open")
        result = CliRunner().invoke(cli, ["train", "--out", str(tmp_path), "--sets", restricted])
        assert result.exit_code == 1
        assert "--allow-restricted" in result.output
        assert not (tmp_path / "model.joblib").exists()
