"""`moderation reports list|resolve` and `moderation appeals list|decide`: what readers and
authors sent through the CMS, settled by a named moderator, as the review API settles them."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import click
from sqlalchemy.orm import Session

from cli.database import cli_session
from core import appeals, authors, reports, review
from core.accounts import user_by_email
from core.settings import get_settings
from core.sources import SourceNotFound
from core.tables import Appeal, Decision

SOURCE = click.option("--source", required=True, help="The source's name or id.")
MODERATOR = click.option(
    "--moderator",
    "moderator_email",
    required=True,
    help="The e-mail of the moderator account deciding (audited as theirs).",
)
AS_JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON.")
EXCERPT_CHARS = 70


class NoModerator(ValueError):
    """The account named to decide does not exist or is disabled."""


REFUSALS = (
    reports.ReportError,
    appeals.AppealError,
    authors.AuthorError,
    SourceNotFound,
    NoModerator,
)


def _moderator_id(session: Session, email: str) -> int:
    user = user_by_email(session, email)
    if user is None or not user.active:
        raise NoModerator(f"no active account for {email}: see `moderation users add`")
    return user.id


def _excerpt(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= EXCERPT_CHARS else flat[: EXCERPT_CHARS - 1] + "…"


def _queue(event_ids: list[str]) -> None:
    """Queue the CMS's events now; with Redis away the sweeper sends them (they are due now)."""
    from core.tasks import DELIVER_EVENT, queue_task
    from service.queue import create_client

    client = create_client(get_settings())
    if not all([queue_task(client, DELIVER_EVENT, event_id) for event_id in event_ids]):
        click.echo("Redis is unreachable: the sweeper will tell the CMS when the worker runs.")


def _configure_logging() -> None:
    from core.logging import configure_logging

    # Log lines go to stderr, so stdout holds only what the command prints (--json).
    configure_logging(get_settings())


@click.group(name="reports")
def reports_group() -> None:
    """Readers' reports of approved comments: the Reported tab, upheld or dismissed."""
    _configure_logging()


@reports_group.command(name="list")
@SOURCE
@AS_JSON
def list_reports(source: str, as_json: bool) -> None:
    """Approved comments at a source whose open reports reach its threshold, heaviest first."""
    with cli_session(*REFUSALS) as session:
        found = reports.list_reported(session, source_id=authors.source_named(session, source))
        rows: list[dict[str, Any]] = [
            {
                "comment_id": r.comment.id,
                "external_id": r.comment.external_id,
                "body": r.comment.body,
                "weight": round(r.weight, 3),
                "threshold": r.threshold,
                "reports": [reports.report_json(x) for x in r.reports],
            }
            for r in found
        ]
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not rows:
        click.echo("No comment there is reported past the source's threshold.")
    for row in rows:
        reasons = Counter(x["reason"] for x in row["reports"])
        counted = ", ".join(f"{n} {reason}" for reason, n in reasons.most_common())
        click.echo(
            f"{row['comment_id']} ({row['external_id']}) weight {row['weight']} of "
            f"{row['threshold']}: {counted}: {_excerpt(row['body'])}"
        )


@reports_group.command()
@click.argument("comment_id")
@click.option(
    "--outcome",
    type=click.Choice([reports.ReportState.UPHELD.value, reports.ReportState.DISMISSED.value]),
    required=True,
    help="upheld: the comment is rejected; dismissed: it stays approved.",
)
@MODERATOR
@AS_JSON
def resolve(comment_id: str, outcome: str, moderator_email: str, as_json: bool) -> None:
    """Settle a comment's open reports; the CMS is told (comment.reported, and comment.rejected
    when upheld)."""
    with cli_session(*REFUSALS) as session:
        settled = reports.resolve_reports(
            session,
            comment_id,
            _moderator_id(session, moderator_email),
            reports.ReportState(outcome),
        )
        shown: dict[str, Any] = {
            "reports": [reports.report_json(r) for r in settled.reports],
            "event_ids": [e.id for e in settled.events],
        }
    if as_json:
        click.echo(json.dumps(shown, indent=2, ensure_ascii=False))
    else:
        rejected = " (the comment is rejected)" if outcome == "upheld" else ""
        click.echo(f"{len(shown['reports'])} report(s) on {comment_id} {outcome}{rejected}.")
    _queue(shown["event_ids"])


def _rejection(appeal: Appeal) -> Decision:
    return next(d for d in appeal.comment.decisions if d.id == appeal.decision_id)


@click.group(name="appeals")
def appeals_group() -> None:
    """Authors' appeals of rejections: granted or denied by a moderator who did not reject."""
    _configure_logging()


@appeals_group.command(name="list")
@SOURCE
@click.option(
    "--state",
    type=click.Choice([s.value for s in appeals.AppealState]),
    default=appeals.AppealState.OPEN.value,
    show_default=True,
)
@AS_JSON
def list_appeals(source: str, state: str, as_json: bool) -> None:
    """Appeals at a source, oldest first, each with the rejection it contests."""
    with cli_session(*REFUSALS) as session:
        found = appeals.list_appeals(
            session, appeals.AppealState(state), source_id=authors.source_named(session, source)
        )
        emails = review.moderator_emails(
            session, [d.moderator_id for a in found if (d := _rejection(a)).moderator_id]
        )
        rows = []
        for appeal in found:
            rejection = _rejection(appeal)
            rows.append(
                {
                    **appeals.appeal_json(appeal),
                    "external_id": appeal.comment.external_id,
                    "body": appeal.comment.body,
                    "rejection": {
                        "actor": rejection.actor,
                        "moderator": emails.get(rejection.moderator_id or 0),
                        "reason_code": rejection.reason_code,
                        "created_at": rejection.created_at.isoformat(),
                    },
                }
            )
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not rows:
        click.echo(f"No {state} appeal at this source.")
    for row in rows:
        rejection = row["rejection"]
        who = rejection["moderator"] or rejection["actor"]
        code = f" as {rejection['reason_code']}" if rejection["reason_code"] else ""
        click.echo(
            f"#{row['id']} {row['comment_id']} ({row['external_id']}) by {row['author_id']}, "
            f"rejected by {who}{code}: {_excerpt(row['text'])}"
        )


@appeals_group.command()
@click.argument("appeal_id", type=click.IntRange(1, 2**31 - 1))
@click.option(
    "--outcome",
    type=click.Choice([appeals.AppealState.GRANTED.value, appeals.AppealState.DENIED.value]),
    required=True,
    help="granted: the comment is approved after all; denied: the rejection stands.",
)
@MODERATOR
@click.option("--note", help="Why; it goes to the CMS with the outcome.")
@AS_JSON
def decide(
    appeal_id: int, outcome: str, moderator_email: str, note: str | None, as_json: bool
) -> None:
    """Decide an open appeal; not by the moderator who made the rejection. The CMS is told
    (comment.appeal_resolved, and comment.approved when granted)."""
    if note is not None and "\x00" in note:
        raise click.BadParameter("a note cannot hold a NUL character", param_hint="--note")
    with cli_session(*REFUSALS) as session:
        resolution = appeals.resolve_appeal(
            session,
            appeal_id,
            _moderator_id(session, moderator_email),
            appeals.AppealState(outcome),
            note,
        )
        shown = {
            **appeals.appeal_json(resolution.appeal),
            "event_ids": [e.id for e in resolution.events],
        }
    if as_json:
        click.echo(json.dumps(shown, indent=2, ensure_ascii=False))
    else:
        approved = " (the comment is approved)" if outcome == "granted" else ""
        click.echo(f"Appeal #{appeal_id} on {shown['comment_id']} {outcome}{approved}.")
    _queue(shown["event_ids"])
