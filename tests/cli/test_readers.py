"""`moderation reports list|resolve` and `moderation appeals list|decide` on a real database."""

from __future__ import annotations

import json

import redis
from click.testing import CliRunner, Result
from sqlalchemy import select

from cli.main import cli
from core import appeals, reports
from core.db import session_scope
from core.domain import Status
from core.reasons import ModeratorReason
from core.settings import Settings
from core.store import create_source, record_decision
from core.tables import Comment, Event, Source
from tests.service.review_support import Account, add_comment, make_account


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def new_source(settings: Settings, name: str, threshold: float = 2.0) -> str:
    with session_scope(settings) as session:
        source = create_source(session, name).source
        source.report_threshold = threshold
        return source.id


def reported(settings: Settings, source_id: str, readers: int = 2) -> str:
    """An approved comment reported by `readers` readers (each weighing 1); its id."""
    comment_id = add_comment(settings, source_id, status=Status.APPROVED)
    with session_scope(settings) as session:
        external_id = session.get_one(Comment, comment_id).external_id
        for n in range(readers):
            reports.receive_report(session, source_id, external_id, f"r-{n}", "spam", None)
    return comment_id


def appealed(settings: Settings, source_id: str, by: Account | None) -> tuple[str, int]:
    """A comment rejected by `by` (or the model) and appealed by its author: (id, appeal id)."""
    comment_id = add_comment(settings, source_id, author_id="u-9", status=Status.REJECTED)
    with session_scope(settings) as session:
        comment = session.get_one(Comment, comment_id)
        if by is not None:
            record_decision(
                session,
                comment,
                Status.REJECTED,
                actor="moderator",
                moderator_id=by.id,
                reason_code="toxic",
                reasons=[ModeratorReason(reason_code="toxic", outcome="rejected")],
            )
        appeal = appeals.receive_appeal(
            session, source_id, comment.external_id, "u-9", "I was quoting the article."
        )
        return comment_id, appeal.id


def event_types(settings: Settings, comment_id: str) -> list[str]:
    with session_scope(settings) as session:
        return list(
            session.scalars(
                select(Event.type).where(Event.comment_id == comment_id).order_by(Event.seq)
            )
        )


class TestReportsCli:
    def test_list_shows_the_sources_reported_comments_only(self, settings: Settings) -> None:
        bugle = new_source(settings, "Bugle")
        herald = new_source(settings, "Herald")
        ours = reported(settings, bugle)
        reported(settings, herald)
        reported(settings, bugle, readers=1)  # below the threshold: not in the Reported tab
        result = run("reports", "list", "--source", "Bugle", "--json")
        assert result.exit_code == 0, result.output
        (row,) = json.loads(result.stdout)
        assert (row["comment_id"], row["weight"], row["threshold"]) == (ours, 2.0, 2.0)
        assert [r["reporter_id"] for r in row["reports"]] == ["r-0", "r-1"]
        text = run("reports", "list", "--source", "Bugle").output
        assert f"{ours} (" in text and "weight 2.0 of 2.0: 2 spam" in text

    def test_upholding_rejects_and_tells_the_cms(
        self, settings: Settings, broker: redis.Redis
    ) -> None:
        source_id = new_source(settings, "Bugle")
        comment_id = reported(settings, source_id)
        moderator = make_account(settings)
        result = run(
            "reports", "resolve", comment_id, "--outcome", "upheld",
            "--moderator", moderator.email, "--json",
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        shown = json.loads(result.stdout)
        assert {r["state"] for r in shown["reports"]} == {"upheld"}
        assert {r["resolved_by"] for r in shown["reports"]} == {moderator.id}
        with session_scope(settings) as session:
            comment = session.get_one(Comment, comment_id)
            assert comment.status == Status.REJECTED.value
            assert comment.decisions[-1].moderator_id == moderator.id
            sent = [session.get_one(Event, i).type for i in shown["event_ids"]]
        assert sent == ["comment.rejected", "comment.reported"]
        assert event_types(settings, comment_id)[-2:] == sent
        assert run("reports", "list", "--source", source_id).output.startswith("No comment")

    def test_dismissing_keeps_the_comment(self, settings: Settings, broker: redis.Redis) -> None:
        source_id = new_source(settings, "Bugle")
        comment_id = reported(settings, source_id)
        moderator = make_account(settings)
        result = run(
            "reports", "resolve", comment_id, "--outcome", "dismissed", "--moderator",
            moderator.email,
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        assert "2 report(s) on" in result.output and "dismissed" in result.output
        with session_scope(settings) as session:
            assert session.get_one(Comment, comment_id).status == Status.APPROVED.value
        assert event_types(settings, comment_id)[-1] == "comment.reported"

    def test_refusals_are_one_line(self, settings: Settings, broker: redis.Redis) -> None:
        source_id = new_source(settings, "Bugle")
        comment_id = add_comment(settings, source_id, status=Status.APPROVED)
        moderator = make_account(settings)
        cases = [
            (
                ["reports", "resolve", comment_id, "--outcome", "upheld", "--moderator",
                 moderator.email],
                "this comment has no open reports",
            ),
            (
                ["reports", "resolve", comment_id, "--outcome", "upheld", "--moderator",
                 "nobody@example.org"],
                "no active account for nobody@example.org",
            ),
            (["reports", "list", "--source", "Nope"], "no source is named 'Nope'"),
            (
                ["reports", "resolve", "cmt_x", "--outcome", "upheld", "--moderator",
                 moderator.email],
                "no comment 'cmt_x'",
            ),
        ]  # fmt: skip
        for args, message in cases:
            result = run(*args)
            assert result.exit_code == 1, (args, result.output)
            (line,) = result.output.strip().splitlines()
            assert message in line, (args, line)
        result = run("reports", "resolve", comment_id, "--outcome", "maybe", "--moderator", "x")
        assert result.exit_code == 2 and "'maybe' is not one of" in result.output


class TestAppealsCli:
    def test_list_shows_the_sources_open_appeals_with_their_rejection(
        self, settings: Settings
    ) -> None:
        bugle = new_source(settings, "Bugle")
        herald = new_source(settings, "Herald")
        rejecter = make_account(settings)
        comment_id, appeal_id = appealed(settings, bugle, by=rejecter)
        appealed(settings, herald, by=None)
        result = run("appeals", "list", "--source", "Bugle", "--json")
        assert result.exit_code == 0, result.output
        (row,) = json.loads(result.stdout)
        assert (row["id"], row["comment_id"], row["state"]) == (appeal_id, comment_id, "open")
        assert row["rejection"]["moderator"] == rejecter.email
        text = run("appeals", "list", "--source", "Bugle").output
        assert f"#{appeal_id} {comment_id}" in text and f"rejected by {rejecter.email}" in text
        granted = run("appeals", "list", "--source", "Bugle", "--state", "granted")
        assert granted.stdout.strip() == "No granted appeal at this source."

    def test_the_rejecting_moderator_cannot_decide_a_second_one_grants(
        self, settings: Settings, broker: redis.Redis
    ) -> None:
        source_id = new_source(settings, "Bugle")
        rejecter, other = make_account(settings), make_account(settings)
        comment_id, appeal_id = appealed(settings, source_id, by=rejecter)
        decide = ["appeals", "decide", str(appeal_id), "--outcome", "granted"]
        refused = run(*decide, "--moderator", rejecter.email)
        assert refused.exit_code == 1
        assert refused.output.strip() == (
            "Error: you rejected this comment: another moderator decides its appeal"
        )
        result = run(*decide, "--moderator", other.email, "--note", "Quoting.", "--json")
        assert result.exit_code == 0, result.output
        shown = json.loads(result.stdout)
        assert (shown["state"], shown["resolved_by"]) == ("granted", other.id)
        assert shown["resolution_note"] == "Quoting."
        with session_scope(settings) as session:
            assert session.get_one(Comment, comment_id).status == Status.APPROVED.value
            sent = [session.get_one(Event, i).type for i in shown["event_ids"]]
        assert sent == ["comment.approved", "comment.appeal_resolved"]
        again = run(*decide, "--moderator", other.email)
        assert again.exit_code == 1 and f"appeal {appeal_id} was granted already" in again.output

    def test_denied_keeps_the_rejection(self, settings: Settings, broker: redis.Redis) -> None:
        source_id = new_source(settings, "Bugle")
        comment_id, appeal_id = appealed(settings, source_id, by=None)
        moderator = make_account(settings)
        result = run(
            "appeals", "decide", str(appeal_id), "--outcome", "denied", "--moderator",
            moderator.email,
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        assert result.stdout.strip() == f"Appeal #{appeal_id} on {comment_id} denied."
        with session_scope(settings) as session:
            assert session.get_one(Comment, comment_id).status == Status.REJECTED.value
        assert event_types(settings, comment_id)[-1] == "comment.appeal_resolved"

    def test_refusals_are_one_line(self, settings: Settings) -> None:
        new_source(settings, "Bugle")
        moderator = make_account(settings)
        missing = run(
            "appeals", "decide", "4242", "--outcome", "denied", "--moderator", moderator.email
        )
        assert missing.exit_code == 1 and missing.output.strip() == "Error: no appeal 4242"
        long_note = run(
            "appeals", "decide", "1", "--outcome", "denied", "--moderator", moderator.email,
            "--note", "x" * 1001,
        )  # fmt: skip
        assert long_note.exit_code == 1 and "longer than 1000 characters" in long_note.output
        bad_id = run("appeals", "decide", "abc", "--outcome", "denied", "--moderator", "x")
        assert bad_id.exit_code == 2


def test_sources_of_every_name_are_listed(settings: Settings) -> None:
    """Two sources may share a name: the CLI then asks for the id, as `authors` does."""
    new_source(settings, "Twin")
    new_source(settings, "Twin")
    result = run("appeals", "list", "--source", "Twin")
    assert result.exit_code == 1 and "several sources are named 'Twin'" in result.output
    with session_scope(settings) as session:
        ids = list(session.scalars(select(Source.id).where(Source.name == "Twin")))
    assert run("appeals", "list", "--source", ids[0]).exit_code == 0
