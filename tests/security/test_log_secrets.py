"""No secret, signature, token, password, e-mail address or comment text in any log line.

One comment's whole path runs in this process with logging at DEBUG, rendered as in production
(JSON lines): signed intake (plus refused and replayed requests), the model's decision, the
signed callback, a moderator signing in and deciding through the API.
"""

from __future__ import annotations

import io
import json
import logging
import time
import uuid
from collections.abc import Iterator

import pytest
import redis
from flask.testing import FlaskClient

from core.db import session_scope
from core.logging import configure_logging
from core.moderation import moderate_comment
from core.settings import Settings
from core.store import create_source
from service import create_app
from tests.receiver import Receiver, running_receiver
from tests.service.conftest import comment_payload, sign_with_library
from tests.service.review_support import PASSWORD, make_account, sign_in
from tests.wordlist_scorer import WordListScorer
from worker.delivery import run_delivery

AUTHOR_EMAIL = "very.private.reader@example.org"
BODY = "You are a pathetic idiot; my phone number is 555-0199"


@pytest.fixture
def debug_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"log_level": "DEBUG", "log_json": True})


@pytest.fixture
def rendered_logs(debug_settings: Settings) -> Iterator[io.StringIO]:
    """Every log line as the production handler renders it, at DEBUG, from every logger."""
    configure_logging(debug_settings)
    root = logging.getLogger()
    [production] = [h for h in root.handlers if h.get_name() == "moderation-structlog"]
    sink = io.StringIO()
    capture = logging.StreamHandler(sink)
    capture.setFormatter(production.formatter)
    capture.setLevel(logging.DEBUG)
    root.addHandler(capture)
    yield sink
    root.removeHandler(capture)


def signed_headers(secret: str, body: bytes, webhook_id: str | None = None) -> dict[str, str]:
    webhook_id = webhook_id or f"msg_{uuid.uuid4().hex}"
    timestamp = int(time.time())
    return {
        "Content-Type": "application/json",
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign_with_library(secret, webhook_id, timestamp, body),
    }


class TestLogSecrets:
    @pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
    def test_logs_hold_no_secret_signature_token_email_or_text(
        self,
        debug_settings: Settings,
        rendered_logs: io.StringIO,
        caplog: pytest.LogCaptureFixture,
        broker: redis.Redis,
    ) -> None:
        caplog.set_level(logging.DEBUG)
        with running_receiver() as receiver:
            secrets = self._run_everything(debug_settings, receiver)
        logs = rendered_logs.getvalue() + "\n" + caplog.text
        logs += "\n".join(record.getMessage() for record in caplog.records)
        assert "comment received" in logs and "delivery attempt" in logs  # logging did happen
        for line in rendered_logs.getvalue().splitlines():
            json.loads(line)  # one JSON object per line, nothing interleaved
        leaked = {name: value for name, value in secrets.items() if value in logs}
        assert leaked == {}, f"found in the logs: {sorted(leaked)}"

    def _run_everything(self, settings: Settings, receiver: Receiver) -> dict[str, str]:
        app = create_app({"TESTING": True}, settings=settings)
        client: FlaskClient = app.test_client()
        with session_scope(settings) as session:
            source = create_source(session, "Secretive CMS", callback_url=receiver.url)
        payload = comment_payload(body=BODY)
        payload["author"]["email"] = AUTHOR_EMAIL
        body = json.dumps(payload).encode()
        headers = signed_headers(source.secret, body)
        intake = f"/v1/sources/{source.source.id}/comments"

        accepted = client.post(intake, data=body, headers=headers)
        assert accepted.status_code == 202, accepted.get_data(as_text=True)
        comment_id = accepted.get_json()["id"]
        # Refusals log too: a replay, a bad signature, a stale timestamp.
        assert client.post(intake, data=body, headers=headers).status_code == 401
        forged = dict(headers, **{"webhook-id": "msg_forged"})
        assert client.post(intake, data=body, headers=forged).status_code == 401
        stale = signed_headers(source.secret, body)
        stale["webhook-timestamp"] = "1000"
        assert client.post(intake, data=body, headers=stale).status_code == 401
        read = client.get(
            f"/v1/comments/{comment_id}", headers={"Authorization": f"Bearer {source.token}"}
        )
        assert read.status_code == 200

        with session_scope(settings) as session:
            decided = moderate_comment(session, comment_id, WordListScorer())
            assert decided is not None
            event_id = decided[1].id
        assert run_delivery(event_id, settings).status_code == 200
        [callback] = receiver.requests

        moderator = make_account(settings, role="moderator")
        sign_in(client, moderator)
        refused_login = app.test_client().post(
            "/login", data={"email": moderator.email, "password": "wrong " + PASSWORD}
        )
        assert refused_login.status_code in (400, 401)
        decision = client.post(
            f"/v1/review/comments/{comment_id}/decision",
            json={"status": "approved", "note": "fine"},
            headers={"Authorization": f"Bearer {moderator.token}"},
        )
        assert decision.status_code == 201, decision.get_data(as_text=True)

        intake_signature = headers["webhook-signature"]
        callback_signature = callback.headers["webhook-signature"]
        return {
            "source secret": source.secret,
            "source secret key": source.secret.removeprefix("whsec_"),
            "intake signature": intake_signature,
            "intake signature digest": intake_signature.split(",", 1)[1],
            "callback signature": callback_signature,
            "callback signature digest": callback_signature.split(",", 1)[1],
            "source API token": source.token,
            "moderator token": moderator.token,
            "moderator password": PASSWORD,
            "author e-mail": AUTHOR_EMAIL,
            "moderator e-mail": moderator.email,
            "comment text": BODY,
            "comment text fragment": "555-0199",
        }
