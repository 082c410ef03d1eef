"""core.logging: JSON lines carrying the request id, with sensitive values redacted."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from core.logging import (
    REDACTED,
    bind_request_id,
    clear_log_context,
    configure_logging,
    request_id_from,
    request_id_headers,
    request_id_of_task,
)
from core.settings import Settings


def log_settings(*, json_lines: bool) -> Settings:
    return Settings().model_copy(update={"log_json": json_lines, "log_level": "INFO"})


@pytest.fixture
def json_logs() -> Iterator[None]:
    configure_logging(log_settings(json_lines=True))
    yield
    clear_log_context()
    # capsys has restored stderr by now: point the handler back at the real one.
    configure_logging(log_settings(json_lines=False))


def last_json_line(text: str) -> dict[str, object]:
    lines = [line for line in text.splitlines() if line.startswith("{")]
    assert lines, text
    record: dict[str, object] = json.loads(lines[-1])
    return record


class TestConfigureLogging:
    def test_configure_logging_writes_json_with_request_id(
        self, json_logs: None, capsys: pytest.CaptureFixture[str]
    ) -> None:
        configure_logging(log_settings(json_lines=True))  # after capsys swapped stderr
        bind_request_id("req-12345678")
        structlog.stdlib.get_logger("test").info("comment received", comment_id="cmt_1")

        record = last_json_line(capsys.readouterr().err)
        assert record["event"] == "comment received"
        assert record["request_id"] == "req-12345678"
        assert record["comment_id"] == "cmt_1"
        assert record["level"] == "info"

    def test_configure_logging_redacts_sensitive_values(
        self, json_logs: None, capsys: pytest.CaptureFixture[str]
    ) -> None:
        configure_logging(log_settings(json_lines=True))
        structlog.stdlib.get_logger("test").warning(
            "oops", body="you idiot", email="r@example.org", signature="v1,abc"
        )
        logging.getLogger("plain").warning("plain %s", "record", extra={"secret": "whsec_x"})

        lines = [json.loads(x) for x in capsys.readouterr().err.splitlines() if x.startswith("{")]
        assert [(x["body"], x["email"], x["signature"]) for x in lines[:1]] == [(REDACTED,) * 3]
        assert lines[1]["secret"] == REDACTED and lines[1]["event"] == "plain record"

    def test_configure_logging_installs_one_handler(self, json_logs: None) -> None:
        configure_logging(log_settings(json_lines=True))
        configure_logging(log_settings(json_lines=False))
        names = [h.get_name() for h in logging.getLogger().handlers]
        assert names.count("moderation-structlog") == 1


class TestRequestId:
    @pytest.mark.parametrize(
        ("incoming", "kept"),
        [
            ("abcdef123456", True),
            ("short", False),
            ("x" * 65, False),
            ("bad id\n", False),
            (None, False),
        ],
    )
    def test_request_id_from_keeps_only_safe_ids(self, incoming: str | None, kept: bool) -> None:
        assert (request_id_from(incoming) == incoming) is kept

    def test_request_id_travels_through_task_headers(self) -> None:
        bind_request_id("req-abcdef12")
        try:
            assert request_id_of_task(request_id_headers()) == "req-abcdef12"
        finally:
            clear_log_context()

    def test_request_id_of_task_without_header_is_fresh(self) -> None:
        assert len(request_id_of_task({})) == 32
