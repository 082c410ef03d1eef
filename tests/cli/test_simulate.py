"""`moderation simulate` against a real API (werkzeug thread) and a real Celery worker."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import redis
from click.testing import CliRunner, Result
from sqlalchemy import select
from standardwebhooks import Webhook

from cli.main import cli
from cli.simulate import (
    REOPEN_MAX_READERS,
    SAMPLE_COMMENTS,
    SAMPLES,
    Inbox,
    Posted,
    SimSource,
    decided_as_kind,
    percentile,
    post_comment,
    trimmed,
)
from core.db import session_scope
from core.domain import utf16_length
from core.settings import Settings
from core.store import create_source
from core.tables import Comment
from service import create_app
from tests.cli.helpers import free_port
from tests.integration.workers import (
    WORDLIST_APP,
    WorkerProcess,
    forget_queues,
    worker_starter,
)
from tests.live_server import serving
from tests.receiver import Reply, running_receiver

SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["simulate", *args], catch_exceptions=False)


@pytest.fixture
def service_url(settings: Settings) -> Iterator[str]:
    """The real Flask app served over HTTP on 127.0.0.1 from a thread."""
    with serving(create_app(settings=settings)) as url:
        yield url


@pytest.fixture
def worker(settings: Settings, tmp_path: Path) -> Iterator[WorkerProcess]:
    """A real prefork worker (word-list classifier, two pool processes) on this test's queue."""
    client = redis.Redis.from_url(settings.redis_client_url)
    try:
        with worker_starter(settings, client, tmp_path, WORDLIST_APP) as start:
            yield start(concurrency=2)
    finally:
        forget_queues(client, settings)
        client.close()


class TestSimulate:
    @pytest.mark.integration
    def test_simulate_reports_every_comment_accepted_decided_and_delivered(
        self, settings: Settings, service_url: str, worker: WorkerProcess
    ) -> None:
        result = run("--url", service_url, "--count", "25", "--rate", "50", "--json")
        assert result.exit_code == 0, result.output + worker.log_text()[-2000:]
        report = json.loads(result.stdout.strip().splitlines()[-1])
        assert report["accepted"] == report["decided"] == report["delivered"] == 25
        assert report["invalid_signatures"] == 0
        assert report["latency_ms"]["p50"] is not None
        assert report["latency_ms"]["p50"] <= report["latency_ms"]["p99"]
        assert set(report["outcomes"]) <= {
            "comment.approved",
            "comment.flagged",
            "comment.rejected",
        }
        # Every rejection came with its statement and was appealed once; a second was refused.
        rejected = report["outcomes"].get("comment.rejected", 0)
        assert rejected > 0 and report["rejections_without_statement"] == 0
        assert report["appeals"] == {
            "sent": rejected,
            "accepted": rejected,
            "second_refused": rejected,
        }
        approved = report["outcomes"].get("comment.approved", 0)
        assert approved > 0
        assert report["reports"] == {
            "sent": approved,
            "accepted": approved,
            "second_refused": approved,
        }
        # Every built-in sample is checked against its kind (the word-list model misses some).
        assert report["samples_as_their_kind"] + len(report["samples_not_as_their_kind"]) == 25
        # What came of them: reports reopened approved comments into the Reported tab, one was
        # upheld and one dismissed; the appeals landed in the Appeals tab, the rejecting
        # moderator was refused, a second decided; the CMS heard every resolution.
        checks = {c["check"]: c for c in report["checks"]}
        assert all(c["ok"] is True for c in report["checks"]), report["checks"]
        assert set(checks) == {
            "reports reopen an approved comment",
            "the CMS hears the comment was reported",
            "it is in the Reported tab",
            "reports upheld: the CMS is told",
            "reports dismissed: the CMS is told",
            "a moderator's rejection can be appealed",
            "appeals land in the Appeals tab",
            "the rejecting moderator cannot decide its appeal",
            "appeals decided by a second moderator reach the CMS",
        }
        assert checks["appeals land in the Appeals tab"]["detail"].startswith(
            f"{rejected + 1} of {rejected + 1} listed"
        )
        assert report["outcomes"] == {
            k: v for k, v in report["outcomes"].items() if k != "comment.reported"
        }

    @pytest.mark.integration
    def test_simulate_posts_the_texts_of_a_csv(
        self, settings: Settings, service_url: str, worker: WorkerProcess, tmp_path: Path
    ) -> None:
        data = tmp_path / "comments.csv"
        data.write_text('id,text\n1,"First, a comment with a comma."\n2,Second one.\n')
        result = run("--url", service_url, "--csv", str(data), "--count", "4", "--rate", "0")
        assert result.exit_code == 0, result.output
        assert "delivered  4 with valid signatures" in result.stdout
        with session_scope(settings) as session:
            bodies = sorted(session.scalars(select(Comment.body)))
        assert bodies == sorted(["First, a comment with a comma.", "Second one."] * 2)

    @pytest.mark.integration
    def test_simulate_fails_clearly_when_reports_never_reopen_a_comment(
        self, settings: Settings, service_url: str, worker: WorkerProcess
    ) -> None:
        port = free_port()
        with session_scope(settings) as session:
            created = create_source(
                session,
                "Unreachable threshold",
                callback_url=f"http://127.0.0.1:{port}/moderation-callback",
            )
            created.source.report_threshold = 1000.0
            source = (created.source.id, created.secret, created.token)
        result = run(
            "--url", service_url, "--count", "10", "--rate", "0", "--receiver-port", str(port),
            "--source-id", source[0], "--secret", source[1], "--token", source[2],
        )  # fmt: skip
        assert result.exit_code == 1, result.output
        assert "checked    WRONG reports reopen an approved comment" in result.stdout
        assert "wrong outcome: reports reopen an approved comment: cmt_" in result.stderr
        assert f"not reopened after {REOPEN_MAX_READERS} readers' reports" in result.stderr
        # Nothing reopened, nothing upheld; the first ten samples are ordinary: nothing appealed.
        assert "checked    n/a   appeals land in the Appeals tab: nothing was appealed" in (
            result.stdout
        )

    def test_simulate_says_when_the_service_is_not_up(self, settings: Settings) -> None:
        result = run("--url", "http://127.0.0.1:9", "--count", "1")
        assert result.exit_code == 1
        assert "cannot reach the service at http://127.0.0.1:9" in result.output
        assert "moderation up" in result.output

    def test_simulate_names_a_missing_csv_column(self, settings: Settings, tmp_path: Path) -> None:
        data = tmp_path / "comments.csv"
        data.write_text("comment\nhello\n")
        result = run("--csv", str(data))
        assert result.exit_code == 1
        assert "has no 'text' column" in result.output

    def test_simulate_refuses_a_source_json_that_is_not_from_sources_add(
        self, settings: Settings, tmp_path: Path
    ) -> None:
        saved = tmp_path / "source.json"
        saved.write_text('{"id": "src_1"}')
        result = run("--source-json", str(saved))
        assert result.exit_code == 2
        assert "sources add NAME --json" in result.output

    def test_simulate_needs_all_three_source_credentials(self, settings: Settings) -> None:
        result = run("--source-id", "src_1")
        assert result.exit_code == 2
        assert "go together" in result.output


def signed(
    secret: str, payload: dict[str, object], webhook_id: str
) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload)
    now = datetime.now(UTC)
    headers = {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(webhook_id, now, body),
    }
    return body.encode(), headers


def event(comment_id: str, seq: int, kind: str) -> dict[str, object]:
    return {"type": kind, "data": {"id": comment_id, "seq": seq}}


class TestInbox:
    def test_inbox_refuses_a_bad_signature(self) -> None:
        inbox = Inbox(secret=SECRET)
        body, headers = signed("whsec_" + "A" * 32, event("c1", 1, "comment.approved"), "msg_1")
        assert inbox.receive(body, headers) == 401
        assert inbox.invalid == 1 and inbox.delivered_comments() == 0

    def test_inbox_applies_the_highest_seq_and_ignores_redeliveries(self) -> None:
        inbox = Inbox(secret=SECRET)
        approve = signed(SECRET, event("c1", 2, "comment.approved"), "msg_2")
        flag = signed(SECRET, event("c1", 1, "comment.flagged"), "msg_1")
        statuses = [inbox.receive(*approve), inbox.receive(*flag), inbox.receive(*approve)]
        assert statuses == [204, 204, 204]
        assert inbox.latest_by_comment["c1"].type == "comment.approved"
        assert inbox.duplicates == 1 and len(inbox.callbacks) == 2


class TestDecidedAsKind:
    def test_a_sample_is_right_when_approved_exactly_if_ordinary(self) -> None:
        ordinary = next(s for s in SAMPLES if s.kind == "ordinary")
        threat = next(s for s in SAMPLES if s.kind == "threat")
        inbox = Inbox(secret=SECRET)
        posted = Posted()
        outcomes = [(ordinary, "comment.approved"), (threat, "comment.approved")]
        outcomes += [(threat, "comment.flagged"), (ordinary, "comment.rejected")]
        for n, (sample, outcome) in enumerate(outcomes):
            posted.text_of[f"c{n}"] = sample.text
            assert inbox.receive(*signed(SECRET, event(f"c{n}", 1, outcome), f"msg_{n}")) == 204
        posted.text_of["c9"] = "a text from a CSV, of no kind"
        right, wrong = decided_as_kind(posted, inbox)
        assert right == 2
        assert [(w["kind"], w["outcome"]) for w in wrong] == [
            ("threat", "approved"),
            ("ordinary", "rejected"),
        ]


class TestPostComment:
    def test_post_comment_retries_after_429_with_a_fresh_webhook_id(self) -> None:
        accepted = Reply(202, {"content-type": "application/json"}, body=b'{"id": "cmt_1"}')
        throttled = Reply(429, {"Retry-After": "1"})
        source = SimSource("src_1", SECRET, "mod_x", created_here=False)
        posted = Posted()
        with running_receiver([throttled, accepted]) as service, httpx.Client() as client:
            base = service.url.removesuffix("/callbacks")
            post_comment(client, base, source, {"id": "cms-1", "body": "hi"}, posted)
            first, second = service.requests
        assert posted.accepted == 1 and posted.throttled == {429: 1}
        assert list(posted.sent_at) == ["cmt_1"]
        assert first.body == second.body
        assert first.headers["webhook-id"] != second.headers["webhook-id"]
        Webhook(SECRET).verify(second.body, second.headers)

    def test_post_comment_does_not_retry_a_refusal(self) -> None:
        source = SimSource("src_1", SECRET, "mod_x", created_here=False)
        posted = Posted()
        with running_receiver([Reply(422)]) as service, httpx.Client() as client:
            base = service.url.removesuffix("/callbacks")
            post_comment(client, base, source, {"id": "cms-1", "body": ""}, posted)
            assert len(service.requests) == 1
        assert posted.statuses == {422: 1} and posted.accepted == 0


class TestHelpers:
    @pytest.mark.parametrize(("pct", "expected"), [(50, 5.0), (95, 10.0), (99, 10.0), (10, 1.0)])
    def test_percentile_is_nearest_rank(self, pct: float, expected: float) -> None:
        assert percentile([float(v) for v in range(10, 0, -1)], pct) == expected

    def test_percentile_of_nothing_is_none(self) -> None:
        assert percentile([], 50) is None

    def test_trimmed_counts_utf16_units_like_the_intake(self) -> None:
        text = "😀" * 1000
        assert utf16_length(trimmed(text)) == 1500

    def test_samples_fit_the_intake_and_include_some_toxic_and_spam(self) -> None:
        assert len(SAMPLE_COMMENTS) >= 30
        assert all(0 < utf16_length(text) <= 1500 for text in SAMPLE_COMMENTS)
        assert any("idiot" in text for text in SAMPLE_COMMENTS)
        assert any("www." in text for text in SAMPLE_COMMENTS)
