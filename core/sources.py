"""Source management use cases (creation is core.store.create_source): list, update, rotate."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.domain import LABELS, DeliveryState, UnscoredMode
from core.policies import PolicyInForce, policy_document, policy_version, record_policy_version
from core.statements import GROUNDS, MAX_TEMPLATE_CHARS, appeal_url_for
from core.store import new_webhook_secret
from core.tables import Event, PolicyVersion, Source
from core.thresholds import effective_thresholds
from core.thresholds import summary as thresholds_summary

BLOCKLIST_ACTIONS = ("flag", "reject")
DEFAULT_ROTATION_OVERLAP = timedelta(hours=24)
# A rotation overlap longer than this would keep a leaked secret alive too long.
MAX_ROTATION_OVERLAP = timedelta(days=30)
# Column sizes of sources.name and sources.callback_url.
MAX_NAME_CHARS = 200
MAX_URL_CHARS = 2000
# What a source may do with comments by a suspended or banned author (core.authors).
SANCTIONED_COMMENTS = ("reject", "hold")
MAX_RETENTION_DAYS = 36_500
# What a source does when the scorer has not decided a comment in time (core.unscored), and
# the bounds of that wait.
UNSCORED_MODES = tuple(mode.value for mode in UnscoredMode)
MIN_UNSCORED_WAIT_SECONDS = 1
MAX_UNSCORED_WAIT_SECONDS = 7 * 86400
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_DURATION_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


class SourceNotFound(LookupError):
    """No source with that id."""

    def __str__(self) -> str:
        return f"no source with id {self.args[0]!r}"


class InvalidSourceChange(ValueError):
    """A requested change that would leave the source inconsistent; the message says which."""


def parse_duration(text: str) -> timedelta:
    """A duration the way people type it: 24h, 30m, 90s, 2d or plain seconds."""
    match = _DURATION.match(text)
    if match is None:
        raise InvalidSourceChange(f"not a duration: {text!r} (use e.g. 24h, 30m, 90s, 2d)")
    return timedelta(seconds=float(match.group(1)) * _DURATION_UNITS[match.group(2)])


def validate_callback_url(url: str) -> str:
    """An absolute http(s) URL with a host; callbacks go nowhere else."""
    if len(url.strip()) > MAX_URL_CHARS:
        raise InvalidSourceChange(f"callback URL must be at most {MAX_URL_CHARS} characters")
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidSourceChange(f"callback URL must be an absolute http(s) URL: {url!r}")
    return url.strip()


def validate_appeal_url(url: str) -> str:
    """An absolute http(s) URL once $external_id and $comment_id are filled in."""
    sample = appeal_url_for(url.strip(), "cms-1", "cmt_1") or ""
    try:
        validate_callback_url(sample)
    except InvalidSourceChange:
        raise InvalidSourceChange(
            f"appeal URL must be an absolute http(s) URL ($external_id and $comment_id are "
            f"filled in): {url!r}"
        ) from None
    return url.strip()


def parse_statement(text: str) -> tuple[str, str | None]:
    """GROUND=TEXT (e.g. spam=Your comment looks like an advert.); GROUND=default resets it."""
    ground, sep, words = text.partition("=")
    if not sep:
        raise InvalidSourceChange(f"a statement must look like GROUND=TEXT: {text!r}")
    words = words.strip()
    return ground.strip(), None if words.lower() == "default" else words


def _checked_templates(
    current: Mapping[str, Any], changes: Mapping[str, str | None]
) -> dict[str, str]:
    merged = {str(k): str(v) for k, v in current.items()}
    for ground, text in changes.items():
        if ground not in GROUNDS:
            raise InvalidSourceChange(f"unknown ground {ground!r}; grounds: {', '.join(GROUNDS)}")
        if text is None:
            merged.pop(ground, None)
            continue
        if not text.strip() or len(text) > MAX_TEMPLATE_CHARS or "\x00" in text:
            raise InvalidSourceChange(
                f"{ground}: a statement is 1 to {MAX_TEMPLATE_CHARS} characters"
            )
        merged[ground] = text.strip()
    return merged


def check_name(name: str) -> str:
    """A display name: not blank, and short enough for the table."""
    if not name.strip():
        raise InvalidSourceChange("a source name cannot be empty")
    if len(name.strip()) > MAX_NAME_CHARS:
        raise InvalidSourceChange(f"a source name must be at most {MAX_NAME_CHARS} characters")
    return name.strip()


def parse_threshold(text: str) -> tuple[str, dict[str, float | None] | None]:
    """LABEL=FLAG[:REJECT], e.g. toxic=0.6:0.9 (flag at 0.6, reject at 0.9); LABEL=model goes
    back to the model's threshold (None)."""
    label, sep, values = text.partition("=")
    if not sep:
        raise InvalidSourceChange(f"threshold must look like LABEL=FLAG[:REJECT]: {text!r}")
    if values.strip().lower() == "model":
        return label.strip(), None
    flag_text, _, reject_text = values.partition(":")
    try:
        flag = float(flag_text)
        reject = float(reject_text) if reject_text else None
    except ValueError as exc:
        raise InvalidSourceChange(f"threshold values must be numbers: {text!r}") from exc
    return label.strip(), {"flag": flag, "reject": reject}


def parse_blocklist_term(text: str) -> dict[str, str]:
    """TERM or TERM:flag / TERM:reject (a bare term flags)."""
    term, sep, action = text.rpartition(":")
    if not sep or action not in BLOCKLIST_ACTIONS:
        term, action = text, "flag"
    term = term.strip()
    if not term:
        raise InvalidSourceChange("a blocklist term cannot be empty")
    return {"term": term, "action": action}


def _checked_thresholds(
    current: Mapping[str, Any], changes: Mapping[str, Mapping[str, float | None] | None]
) -> dict[str, Any]:
    merged = {label: dict(value) for label, value in current.items()}
    for label, value in changes.items():
        if label not in LABELS:
            raise InvalidSourceChange(f"unknown label {label!r}; labels: {', '.join(LABELS)}")
        if value is None:
            # Back to the model's threshold for this label (core.thresholds).
            merged.pop(label, None)
            continue
        flag = value.get("flag")
        reject = value.get("reject")
        if flag is None or not 0.0 <= float(flag) <= 1.0:
            raise InvalidSourceChange(f"{label}: flag threshold must be between 0 and 1")
        if reject is not None and not float(flag) <= float(reject) <= 1.0:
            raise InvalidSourceChange(
                f"{label}: reject threshold must be between the flag threshold and 1"
            )
        merged[label] = {
            "flag": float(flag),
            "reject": float(reject) if reject is not None else None,
        }
    return merged


@dataclass(frozen=True)
class SourceChanges:
    """What an update may change; None (or empty) leaves a field as it is."""

    callback_url: str | None = None
    clear_callback_url: bool = False
    # A label mapped to None goes back to the model's threshold; the others become a person's.
    thresholds: Mapping[str, Mapping[str, float | None] | None] | None = None
    # Every label back to the model's thresholds (applied before `thresholds`).
    thresholds_from_model: bool = False
    blocklist_add: Iterable[Mapping[str, str]] = ()
    blocklist_remove: Iterable[str] = ()
    max_links: int | None = None
    max_body_chars: int | None = None
    name: str | None = None
    # "reject" or "hold": what becomes of comments by a suspended or banned author.
    sanctioned_comments: str | None = None
    # Days after which the sweeper erases IPs, user agents and decided bodies; clear: keep them.
    retention_days: int | None = None
    clear_retention: bool = False
    # Ground -> the author's text of a rejection's statement (None: back to the default).
    statement_templates: Mapping[str, str | None] | None = None
    # Where authors appeal ($external_id, $comment_id filled in); clear: no address.
    appeal_url: str | None = None
    clear_appeal_url: bool = False
    # Reports' weights that reopen an approved comment (core.reports).
    report_threshold: float | None = None
    # Pre-moderate authors with fewer approved comments than this (0: nobody).
    premoderate_below: int | None = None
    # When the scorer is down: "fail-open" or "fail-closed" after unscored_wait_seconds
    # (core.unscored).
    unscored_mode: str | None = None
    unscored_wait_seconds: int | None = None


def get_source(session: Session, source_id: str) -> Source:
    source = session.get(Source, source_id)
    if source is None:
        raise SourceNotFound(source_id)
    return source


def list_sources(session: Session) -> list[Source]:
    return list(session.scalars(select(Source).order_by(Source.created_at, Source.id)))


def find_source(session: Session, name_or_id: str) -> Source:
    """A source by its id, else by its name (refused when the name is not unique)."""
    source = session.get(Source, name_or_id)
    if source is not None:
        return source
    named = list(session.scalars(select(Source).where(Source.name == name_or_id).limit(2)))
    if not named:
        raise SourceNotFound(name_or_id)
    if len(named) > 1:
        raise InvalidSourceChange(f"several sources are named {name_or_id!r}; give its id")
    return named[0]


def update_source(
    session: Session,
    source_id: str,
    changes: SourceChanges,
    now: datetime | None = None,
    *,
    changed_by: str | None = None,
    reason: str | None = None,
    restored_from: int | None = None,
) -> Source:
    """Apply changes after checking them all; a new callback URL re-arms parked deliveries.

    A change of the policy (thresholds, blocklist, link limit) becomes a new policy version
    (core.policies) recording `changed_by` and `reason`.
    """
    now = now or datetime.now(UTC)
    source = session.get(Source, source_id, with_for_update=True)
    if source is None:
        raise SourceNotFound(source_id)
    policy_before = policy_document(source)
    if changes.max_links is not None and not 0 <= changes.max_links <= 100_000:
        # The column is a 32-bit integer: a larger value would fail in the database, not here.
        raise InvalidSourceChange("max links must be between 0 and 100000")
    if changes.max_body_chars is not None and not 1 <= changes.max_body_chars <= 100_000:
        raise InvalidSourceChange("max body chars must be between 1 and 100000")
    if changes.name is not None:
        check_name(changes.name)
    if changes.sanctioned_comments is not None and changes.sanctioned_comments not in (
        SANCTIONED_COMMENTS
    ):
        raise InvalidSourceChange("sanctioned comments are either rejected or held: reject, hold")
    if changes.retention_days is not None and not 1 <= changes.retention_days <= MAX_RETENTION_DAYS:
        raise InvalidSourceChange(f"retention must be between 1 and {MAX_RETENTION_DAYS} days")
    if changes.unscored_mode is not None and changes.unscored_mode not in UNSCORED_MODES:
        raise InvalidSourceChange(
            f"when the scorer is down a source is {' or '.join(UNSCORED_MODES)}"
        )
    if changes.unscored_wait_seconds is not None and not (
        MIN_UNSCORED_WAIT_SECONDS <= changes.unscored_wait_seconds <= MAX_UNSCORED_WAIT_SECONDS
    ):
        raise InvalidSourceChange(
            f"the unscored wait must be between {MIN_UNSCORED_WAIT_SECONDS} and "
            f"{MAX_UNSCORED_WAIT_SECONDS} seconds"
        )
    callback_url = (
        validate_callback_url(changes.callback_url) if changes.callback_url is not None else None
    )
    appeal_url = validate_appeal_url(changes.appeal_url) if changes.appeal_url is not None else None
    templates = (
        _checked_templates(source.statement_templates or {}, changes.statement_templates)
        if changes.statement_templates
        else None
    )
    current = {} if changes.thresholds_from_model else (source.thresholds or {})
    thresholds = (
        _checked_thresholds(current, changes.thresholds or {})
        if changes.thresholds or changes.thresholds_from_model
        else None
    )
    blocklist = [dict(item) for item in source.blocklist or []]
    removed = {term.strip().lower() for term in changes.blocklist_remove}
    blocklist = [item for item in blocklist if item["term"].lower() not in removed]
    for item in changes.blocklist_add:
        checked = parse_blocklist_term(f"{item['term']}:{item.get('action', 'flag')}")
        blocklist = [b for b in blocklist if b["term"].lower() != checked["term"].lower()]
        blocklist.append(checked)

    if changes.name is not None:
        source.name = changes.name.strip()
    if thresholds is not None:
        source.thresholds = thresholds
    source.blocklist = blocklist
    if changes.max_links is not None:
        source.max_links = changes.max_links
    if changes.max_body_chars is not None:
        source.max_body_chars = changes.max_body_chars
    if changes.sanctioned_comments is not None:
        source.sanctioned_comments = changes.sanctioned_comments
    if changes.premoderate_below is not None:
        if not 0 <= changes.premoderate_below <= 1000:
            raise InvalidSourceChange("pre-moderation needs between 0 and 1000 approved comments")
        source.premoderate_below = changes.premoderate_below
    if changes.report_threshold is not None:
        if not 0.1 <= changes.report_threshold <= 1000:
            raise InvalidSourceChange("the report threshold must be between 0.1 and 1000")
        source.report_threshold = changes.report_threshold
    if templates is not None:
        source.statement_templates = templates
    if changes.clear_appeal_url:
        source.appeal_url = None
    elif appeal_url is not None:
        source.appeal_url = appeal_url
    if changes.unscored_mode is not None:
        source.unscored_mode = changes.unscored_mode
    if changes.unscored_wait_seconds is not None:
        source.unscored_wait_seconds = changes.unscored_wait_seconds
    if changes.clear_retention:
        source.retention_days = None
    elif changes.retention_days is not None:
        source.retention_days = changes.retention_days
    if changes.clear_callback_url:
        source.callback_url = None
    elif callback_url is not None and callback_url != source.callback_url:
        source.callback_url = callback_url
        # A new endpoint starts with a closed breaker, and deliveries parked for want of a
        # URL become due now (the sweeper sends them).
        source.consecutive_failures = 0
        source.circuit_open_until = None
        session.execute(
            update(Event)
            .where(
                Event.source_id == source.id,
                Event.state == DeliveryState.PENDING.value,
                Event.next_attempt_at.is_(None),
            )
            .values(next_attempt_at=now)
            .execution_options(synchronize_session=False)
        )
    if policy_document(source) != policy_before:
        record_policy_version(
            session,
            source,
            changed_by=changed_by,
            reason=reason,
            restored_from=restored_from,
            now=now,
        )
    session.flush()
    return source


def restore_policy(
    session: Session,
    source_id: str,
    version: int,
    *,
    changed_by: str | None,
    reason: str,
    now: datetime | None = None,
) -> PolicyVersion:
    """Roll a source's policy back: a new version copying `version` (through update_source)."""
    if not reason.strip():
        raise InvalidSourceChange("a restore needs a reason")
    source = get_source(session, source_id)
    earlier = policy_version(session, source_id, version)
    if dict(earlier.policy) == policy_document(source):
        raise PolicyInForce(
            f"version {version} is the policy in force already (version {source.policy_version})"
        )
    policy = earlier.policy
    changes = SourceChanges(
        thresholds_from_model=True,
        thresholds=dict(policy.get("thresholds") or {}),
        blocklist_remove=[str(item["term"]) for item in source.blocklist or []],
        blocklist_add=list(policy.get("blocklist") or []),
        max_links=int(policy.get("max_links", source.max_links)),
    )
    update_source(
        session,
        source_id,
        changes,
        now,
        changed_by=changed_by,
        reason=reason.strip(),
        restored_from=version,
    )
    return policy_version(session, source_id, source.policy_version)


@dataclass(frozen=True)
class Rotation:
    """A new secret, shown once; the old one verifies until previous_expires_at."""

    source: Source
    secret: str
    previous_expires_at: datetime | None


def rotate_secret(
    session: Session,
    source_id: str,
    overlap: timedelta = DEFAULT_ROTATION_OVERLAP,
    now: datetime | None = None,
) -> Rotation:
    """Give a source a new signing secret; during `overlap` both secrets verify and sign."""
    now = now or datetime.now(UTC)
    if overlap < timedelta(0) or overlap > MAX_ROTATION_OVERLAP:
        raise InvalidSourceChange("overlap must be between 0 and 30 days")
    source = session.get(Source, source_id, with_for_update=True)
    if source is None:
        raise SourceNotFound(source_id)
    secret = new_webhook_secret()
    if overlap > timedelta(0):
        source.previous_secret = source.secret
        source.previous_secret_expires_at = now + overlap
    else:
        source.previous_secret = None
        source.previous_secret_expires_at = None
    source.secret = secret
    session.flush()
    return Rotation(
        source=source, secret=secret, previous_expires_at=source.previous_secret_expires_at
    )


def describe_source(
    source: Source, model_thresholds: Mapping[str, float], now: datetime | None = None
) -> dict[str, Any]:
    """A source without its credentials, as the CLI and the admin API show it; labels nobody
    set show the model's thresholds (core.thresholds.live_model_thresholds)."""
    now = now or datetime.now(UTC)
    effective = effective_thresholds(source.thresholds, model_thresholds)

    def iso(value: datetime | None) -> str | None:
        return value.isoformat().replace("+00:00", "Z") if value is not None else None

    rotating = (
        source.previous_secret_expires_at is not None and source.previous_secret_expires_at > now
    )
    breaker_open = source.circuit_open_until is not None and source.circuit_open_until > now
    return {
        "id": source.id,
        "name": source.name,
        "callback_url": source.callback_url,
        "thresholds": effective,
        "thresholds_source": thresholds_summary(effective),
        "blocklist": list(source.blocklist or []),
        "max_links": source.max_links,
        "max_body_chars": source.max_body_chars,
        "sanctioned_comments": source.sanctioned_comments,
        "retention_days": source.retention_days,
        "statement_templates": dict(source.statement_templates or {}),
        "appeal_url": source.appeal_url,
        "report_threshold": source.report_threshold,
        "premoderate_below": source.premoderate_below,
        "unscored_mode": source.unscored_mode,
        "unscored_wait_seconds": source.unscored_wait_seconds,
        "previous_secret_expires_at": iso(source.previous_secret_expires_at) if rotating else None,
        "callbacks": {
            "consecutive_failures": source.consecutive_failures,
            "circuit_open_until": iso(source.circuit_open_until) if breaker_open else None,
        },
        "created_at": iso(source.created_at),
        "updated_at": iso(source.updated_at),
    }
