"""`moderation sources add|list|update|rotate-secret`: register and tune the CMSs we serve."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click

from cli.database import cli_session
from cli.policy import cli_actor
from core.settings import get_settings
from core.sources import (
    DEFAULT_ROTATION_OVERLAP,
    UNSCORED_MODES,
    InvalidSourceChange,
    SourceChanges,
    SourceNotFound,
    check_name,
    describe_source,
    list_sources,
    parse_blocklist_term,
    parse_duration,
    parse_statement,
    parse_threshold,
    rotate_secret,
    update_source,
    validate_callback_url,
)
from core.store import create_source
from core.thresholds import live_model_thresholds


def _checked(parse: Callable[[str], Any], value: str) -> Any:
    try:
        return parse(value)
    except InvalidSourceChange as exc:
        raise click.BadParameter(str(exc)) from exc


@click.group()
def sources() -> None:
    """The CMSs that post comments and receive decisions."""


@sources.command()
@click.argument("name")
@click.option("--callback-url", help="Where decision events are POSTed (http or https).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object: id, secret, token.")
def add(name: str, callback_url: str | None, as_json: bool) -> None:
    """Register a CMS; prints its id, signing secret and API token (shown only this once)."""
    if callback_url is not None:
        callback_url = _checked(validate_callback_url, callback_url)
    name = _checked(check_name, name)
    with cli_session(SourceNotFound, InvalidSourceChange) as session:
        created = create_source(session, name, callback_url=callback_url, changed_by=cli_actor())
        source_id = created.source.id
    if as_json:
        click.echo(json.dumps({"id": source_id, "secret": created.secret, "token": created.token}))
        return
    click.echo(f"Source {name!r} registered.")
    click.echo(f"  id:     {source_id}")
    click.echo(f"  secret: {created.secret}   (signs requests both ways; shown once)")
    click.echo(f"  token:  {created.token}   (Bearer token to read comments; shown once)")
    click.echo(f"  intake: POST /v1/sources/{source_id}/comments")
    if callback_url is None:
        click.echo(
            f"  no callback URL yet: `moderation sources update {source_id} --callback-url URL`"
        )


def _threshold_text(described: dict[str, Any]) -> str:
    parts = []
    for label, value in described["thresholds"].items():
        text = f"{label}={value['flag']:g}"
        if value.get("reject") is not None:
            text += f":{value['reject']:g}"
        if value.get("source") == "model":
            text += "(model)"
        parts.append(text)
    return f"{' '.join(parts)}  [{described['thresholds_source']}]"


@sources.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
def list_command(as_json: bool) -> None:
    """Every source with its callback URL, thresholds, limits and callback health."""
    model = live_model_thresholds(get_settings())
    with cli_session(SourceNotFound, InvalidSourceChange) as session:
        described = [describe_source(source, model) for source in list_sources(session)]
    if as_json:
        click.echo(json.dumps(described, indent=2))
        return
    if not described:
        click.echo("No sources yet: `moderation sources add NAME --callback-url URL`.")
        return
    for item in described:
        click.echo(f"{item['id']}  {item['name']}")
        click.echo(f"  callback:   {item['callback_url'] or '(none)'}")
        click.echo(f"  thresholds: {_threshold_text(item)}")
        blocklist = ", ".join(f"{b['term']}:{b['action']}" for b in item["blocklist"])
        click.echo(
            f"  limits:     {item['max_links']} links, {item['max_body_chars']} chars; "
            f"blocklist: {blocklist or '(empty)'}"
        )
        retention = item["retention_days"]
        fate = {"reject": "rejected", "hold": "held"}[item["sanctioned_comments"]]
        click.echo(
            f"  authors:    sanctioned authors' comments {fate}; personal data "
            f"{f'erased after {retention} days' if retention else 'kept'}"
        )
        click.echo(f"  unscored:   {_unscored_text(item)}")
        callbacks = item["callbacks"]
        if callbacks["circuit_open_until"]:
            click.echo(
                f"  callbacks:  paused until {callbacks['circuit_open_until']} after "
                f"{callbacks['consecutive_failures']} failures in a row"
            )
        if item["previous_secret_expires_at"]:
            click.echo(f"  rotation:   old secret valid until {item['previous_secret_expires_at']}")


def _unscored_text(item: dict[str, Any]) -> str:
    wait = item["unscored_wait_seconds"]
    if item["unscored_mode"] == "fail-open":
        return f"fail-open: approved provisionally when not scored within {wait} s"
    return f"fail-closed: kept pending when not scored within {wait} s"


@sources.command()
@click.argument("source_id")
@click.option("--name", help="A new display name.")
@click.option("--callback-url", help="Where decision events are POSTed (http or https).")
@click.option("--no-callback-url", is_flag=True, help="Stop sending callbacks (events wait).")
@click.option(
    "--threshold",
    "thresholds",
    multiple=True,
    metavar="LABEL=FLAG[:REJECT]",
    help="Flag at FLAG, reject at REJECT (e.g. toxic=0.6:0.9); LABEL=model follows the "
    "model's threshold again. Repeatable.",
)
@click.option(
    "--model-thresholds",
    is_flag=True,
    help="Every label follows the live model's tuned thresholds again (before --threshold).",
)
@click.option(
    "--blocklist-add",
    multiple=True,
    metavar="TERM[:flag|reject]",
    help="A term that flags (default) or rejects a comment. Repeatable.",
)
@click.option("--blocklist-remove", multiple=True, metavar="TERM", help="Repeatable.")
@click.option("--max-links", type=click.IntRange(0, 100_000), help="Links allowed before flagging.")
@click.option("--max-body-chars", type=click.IntRange(1, 100_000), help="Longest body accepted.")
@click.option("--reason", help="Why the policy changes (kept in `moderation policy history`).")
@click.option(
    "--sanctioned-comments",
    type=click.Choice(["reject", "hold"]),
    help="Reject the comments of suspended or banned authors, or hold them for a person.",
)
@click.option(
    "--retention-days",
    type=click.IntRange(1, 36_500),
    help="Erase IP addresses, user agents and decided bodies after this many days.",
)
@click.option("--no-retention", is_flag=True, help="Keep personal data for good (the default).")
@click.option(
    "--statement",
    "statements",
    multiple=True,
    metavar="GROUND=TEXT",
    help="The author's text of a rejection's statement of reasons on GROUND (e.g. spam, toxic, "
    "ban); GROUND=default goes back to ours. Repeatable.",
)
@click.option(
    "--appeal-url",
    help="Where authors appeal a rejection ($external_id and $comment_id are filled in).",
)
@click.option("--no-appeal-url", is_flag=True, help="Statements give no appeal address.")
@click.option(
    "--premoderate-below",
    type=click.IntRange(0, 1000),
    help="Hold for a person every comment by an author with fewer approved comments (0: off).",
)
@click.option(
    "--report-threshold",
    type=click.FloatRange(0.1, 1000),
    help="Readers' reports weighing this much reopen an approved comment (default 3).",
)
@click.option(
    "--when-unscored",
    "unscored_mode",
    type=click.Choice(list(UNSCORED_MODES)),
    help="When the scorer has not decided a comment within --unscored-wait: approve it "
    "provisionally (fail-open) or keep it pending (fail-closed, the default).",
)
@click.option(
    "--unscored-wait",
    metavar="DURATION",
    help="How long a comment waits for the scorer first (e.g. 5m, 90s; default 5m).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the updated source as JSON.")
def update(
    source_id: str,
    name: str | None,
    callback_url: str | None,
    no_callback_url: bool,
    thresholds: tuple[str, ...],
    model_thresholds: bool,
    blocklist_add: tuple[str, ...],
    blocklist_remove: tuple[str, ...],
    max_links: int | None,
    max_body_chars: int | None,
    reason: str | None,
    sanctioned_comments: str | None,
    retention_days: int | None,
    no_retention: bool,
    statements: tuple[str, ...],
    appeal_url: str | None,
    no_appeal_url: bool,
    report_threshold: float | None,
    premoderate_below: int | None,
    unscored_mode: str | None,
    unscored_wait: str | None,
    as_json: bool,
) -> None:
    """Change a source's callback URL, thresholds, blocklist or limits; a policy change becomes a
    new policy version."""
    if callback_url is not None and no_callback_url:
        raise click.UsageError("--callback-url and --no-callback-url exclude each other")
    if appeal_url is not None and no_appeal_url:
        raise click.UsageError("--appeal-url and --no-appeal-url exclude each other")
    if retention_days is not None and no_retention:
        raise click.UsageError("--retention-days and --no-retention exclude each other")
    changes = SourceChanges(
        name=name,
        callback_url=callback_url,
        clear_callback_url=no_callback_url,
        thresholds=dict(_checked(parse_threshold, t) for t in thresholds) or None,
        thresholds_from_model=model_thresholds,
        blocklist_add=[_checked(parse_blocklist_term, term) for term in blocklist_add],
        blocklist_remove=blocklist_remove,
        max_links=max_links,
        max_body_chars=max_body_chars,
        sanctioned_comments=sanctioned_comments,
        retention_days=retention_days,
        clear_retention=no_retention,
        statement_templates=dict(_checked(parse_statement, t) for t in statements) or None,
        appeal_url=appeal_url,
        clear_appeal_url=no_appeal_url,
        report_threshold=report_threshold,
        premoderate_below=premoderate_below,
        unscored_mode=unscored_mode,
        unscored_wait_seconds=(
            round(_checked(parse_duration, unscored_wait).total_seconds())
            if unscored_wait
            else None
        ),
    )
    with cli_session(SourceNotFound, InvalidSourceChange) as session:
        updated = update_source(session, source_id, changes, changed_by=cli_actor(), reason=reason)
        described = describe_source(updated, live_model_thresholds(get_settings()))
    if as_json:
        click.echo(json.dumps(described, indent=2))
        return
    click.echo(f"Source {described['id']} updated.")
    click.echo(f"  callback:   {described['callback_url'] or '(none)'}")
    click.echo(f"  thresholds: {_threshold_text(described)}")


@sources.command(name="rotate-secret")
@click.argument("source_id")
@click.option(
    "--overlap",
    default="24h",
    show_default=True,
    help="How long the old secret keeps verifying (e.g. 24h, 30m, 0 for none).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def rotate_secret_command(source_id: str, overlap: str, as_json: bool) -> None:
    """Give a source a new signing secret, printed once; the old one works during the overlap."""
    period = _checked(parse_duration, overlap) if overlap else DEFAULT_ROTATION_OVERLAP
    with cli_session(SourceNotFound, InvalidSourceChange) as session:
        rotation = rotate_secret(session, source_id, period)
        expires = rotation.previous_expires_at
    expires_text = expires.isoformat().replace("+00:00", "Z") if expires else None
    if as_json:
        click.echo(
            json.dumps(
                {"id": source_id, "secret": rotation.secret, "previous_expires_at": expires_text}
            )
        )
        return
    click.echo(f"New secret for {source_id} (shown once): {rotation.secret}")
    if expires_text:
        click.echo(f"The old secret keeps verifying and signing until {expires_text}.")
    else:
        click.echo("The old secret no longer verifies.")
