"""One request id follows a comment: intake log line, worker scoring and delivery lines."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from flask.testing import FlaskClient
from standardwebhooks import Webhook

from core.settings import Settings
from core.store import NewSource
from tests.integration.stored import point_callbacks_at
from tests.integration.workers import WORDLIST_APP, StartWorker, wait_for
from tests.receiver import running_receiver

pytestmark = pytest.mark.integration

BENIGN_BODY = "Thanks for the clear reporting on the council budget."


def post_traced(
    client: FlaskClient, source: NewSource, request_id: str, body: str = BENIGN_BODY
) -> str:
    """POST a signed comment carrying X-Request-Id; the stored comment's id."""
    payload = json.dumps(
        {
            "id": f"cms-{uuid.uuid4().hex[:8]}",
            "thread": {"id": "article-7"},
            "author": {"name": "Reader", "email": "reader@example.org"},
            "body": body,
        }
    )
    webhook_id = f"msg_{uuid.uuid4().hex}"
    now = datetime.now(UTC)
    response = client.post(
        f"/v1/sources/{source.source.id}/comments",
        data=payload,
        headers={
            "Content-Type": "application/json",
            "X-Request-Id": request_id,
            "webhook-id": webhook_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(source.secret).sign(webhook_id, now, payload),
        },
    )
    assert response.status_code == 202, response.get_data(as_text=True)
    assert response.headers["X-Request-Id"] == request_id
    return str(response.get_json()["id"])


def json_lines(text: str) -> list[dict[str, Any]]:
    lines = []
    for line in text.splitlines():
        try:
            value = json.loads(line)
        except ValueError:
            continue  # Celery's start banner
        if isinstance(value, dict):
            lines.append(value)
    return lines


class TestRequestIdTrace:
    def test_request_id_trace_joins_intake_scoring_and_delivery_lines(
        self,
        settings: Settings,
        client: FlaskClient,
        source: NewSource,
        start_worker: StartWorker,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        request_id = f"trace-{uuid.uuid4().hex[:12]}"
        with running_receiver() as receiver:
            point_callbacks_at(settings, source, receiver)
            worker = start_worker(WORDLIST_APP, LOG_JSON="true")
            with caplog.at_level(logging.INFO):
                comment_id = post_traced(client, source, request_id)
            wait_for(lambda: len(receiver.requests) >= 1, timeout=60)

            def delivery_logged() -> list[dict[str, Any]]:
                return [
                    line
                    for line in json_lines(worker.log_text())
                    if line.get("event") == "delivery attempt"
                    and line.get("comment_id") == comment_id
                ]

            delivery = wait_for(delivery_logged, timeout=20)

        intake = [
            record.msg
            for record in caplog.records
            if isinstance(record.msg, dict)
            and record.msg.get("event") == "comment received"
            and record.msg.get("comment_id") == comment_id
        ]
        scoring = [
            line
            for line in json_lines(worker.log_text())
            if line.get("event") == "moderate_comment: comment decided"
            and line.get("comment_id") == comment_id
        ]
        assert [line["request_id"] for line in intake] == [request_id]
        assert [line["request_id"] for line in scoring] == [request_id]
        assert [line["request_id"] for line in delivery] == [request_id]

    def test_worker_log_lines_name_the_comment_never_its_text(
        self,
        settings: Settings,
        client: FlaskClient,
        source: NewSource,
        start_worker: StartWorker,
    ) -> None:
        request_id = f"fields-{uuid.uuid4().hex[:12]}"
        marker = f"zqxmarker{uuid.uuid4().hex[:8]}"
        body = f"You are a pathetic idiot, {marker}, shut up"
        with running_receiver() as receiver:
            point_callbacks_at(settings, source, receiver)
            worker = start_worker(WORDLIST_APP, LOG_JSON="true")
            comment_id = post_traced(client, source, request_id, body)
            wait_for(lambda: len(receiver.requests) >= 1, timeout=60)

            def ours() -> list[dict[str, Any]]:
                lines = [
                    line
                    for line in json_lines(worker.log_text())
                    if line.get("request_id") == request_id
                    and str(line.get("logger", "")).startswith(("core.", "worker."))
                ]
                events = {line.get("event") for line in lines}
                done = {"moderate_comment: comment decided", "delivery attempt"} <= events
                return lines if done else []

            lines = wait_for(ours, timeout=20)

        for line in lines:
            assert line.get("comment_id") == comment_id, line
            assert line.get("source_id") == source.source.id, line
            assert str(line.get("event_id", "")).startswith("msg_"), line
        assert marker not in worker.log_text()
