"""Policy versions: every change of a source's policy is kept (who, when, why, what), and an
earlier version can be restored, which makes a new version copying it.

A version holds the source's policy fields as stored: the thresholds a person set (labels absent
follow the deciding model's, core.thresholds), the blocklist and the link limit. Versions are
recorded by core.sources.update_source and core.store.create_source, never written elsewhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.tables import PolicyVersion, Source


class PolicyVersionNotFound(LookupError):
    """No such version of that source's policy."""

    def __str__(self) -> str:
        source_id, version = self.args
        return f"source {source_id!r} has no policy version {version}"


class PolicyInForce(ValueError):
    """A restore of the version that is in force already (nothing would change)."""


def policy_document(source: Source) -> dict[str, Any]:
    """The source's policy fields as one JSON object (what a version stores)."""
    return {
        "thresholds": {
            label: {"flag": value.get("flag"), "reject": value.get("reject")}
            for label, value in sorted((source.thresholds or {}).items())
        },
        "blocklist": [
            {"term": str(item["term"]), "action": str(item.get("action", "flag"))}
            for item in source.blocklist or []
        ],
        "max_links": source.max_links if source.max_links is not None else 2,
    }


def record_policy_version(
    session: Session,
    source: Source,
    *,
    changed_by: str | None,
    reason: str | None,
    restored_from: int | None = None,
    now: datetime | None = None,
    first: bool = False,
) -> PolicyVersion:
    """Keep the source's policy as it is now as its next version (version 1 when `first`)."""
    number = 1 if first else (source.policy_version or 1) + 1
    version = PolicyVersion(
        source_id=source.id,
        version=number,
        policy=policy_document(source),
        changed_by=changed_by,
        reason=reason,
        restored_from=restored_from,
        created_at=now or datetime.now(UTC),
    )
    source.policy_version = number
    session.add(version)
    session.flush()
    return version


def policy_versions(session: Session, source_id: str) -> list[PolicyVersion]:
    """A source's versions, oldest first."""
    return list(
        session.scalars(
            select(PolicyVersion)
            .where(PolicyVersion.source_id == source_id)
            .order_by(PolicyVersion.version)
        )
    )


# The column is a 32-bit integer: a larger number is no version, not a database error.
MAX_VERSION = 2**31 - 1


def policy_version(session: Session, source_id: str, number: int) -> PolicyVersion:
    if not 1 <= number <= MAX_VERSION:
        raise PolicyVersionNotFound(source_id, number)
    found = session.scalar(
        select(PolicyVersion).where(
            PolicyVersion.source_id == source_id, PolicyVersion.version == number
        )
    )
    if found is None:
        raise PolicyVersionNotFound(source_id, number)
    return found


def _fmt(value: Any) -> str:
    return "-" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def policy_diff(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> list[str]:
    """What changed from one version to the next, one short line per change."""
    if old is None:
        return ["first version"]
    lines: list[str] = []
    old_t, new_t = old.get("thresholds") or {}, new.get("thresholds") or {}
    for label in sorted(set(old_t) | set(new_t)):
        before, after = old_t.get(label), new_t.get(label)
        if before == after:
            continue
        if after is None:
            lines.append(f"{label}: back to the model's threshold")
            continue
        was = "model" if before is None else f"{_fmt(before['flag'])}/{_fmt(before['reject'])}"
        lines.append(f"{label} flag/reject: {was} -> {_fmt(after['flag'])}/{_fmt(after['reject'])}")
    old_b = {(b["term"], b["action"]) for b in old.get("blocklist") or []}
    new_b = {(b["term"], b["action"]) for b in new.get("blocklist") or []}
    lines += [f"blocklist + {term}:{action}" for term, action in sorted(new_b - old_b)]
    lines += [f"blocklist - {term}:{action}" for term, action in sorted(old_b - new_b)]
    if old.get("max_links") != new.get("max_links"):
        lines.append(f"max links: {old.get('max_links')} -> {new.get('max_links')}")
    return lines or ["no change"]


@dataclass(frozen=True)
class VersionView:
    """One version as the CLI and the admin API show it, with what changed since the previous."""

    version: int
    policy: dict[str, Any]
    changed_by: str | None
    reason: str | None
    restored_from: int | None
    created_at: datetime
    changes: list[str]
    current: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "policy": self.policy,
            "changed_by": self.changed_by,
            "reason": self.reason,
            "restored_from": self.restored_from,
            "created_at": self.created_at.isoformat().replace("+00:00", "Z"),
            "changes": self.changes,
            "current": self.current,
        }


def policy_history(session: Session, source: Source) -> list[VersionView]:
    """Every version of a source's policy, oldest first, each with its changes."""
    views: list[VersionView] = []
    previous: dict[str, Any] | None = None
    for row in policy_versions(session, source.id):
        views.append(
            VersionView(
                version=row.version,
                policy=dict(row.policy),
                changed_by=row.changed_by,
                reason=row.reason,
                restored_from=row.restored_from,
                created_at=row.created_at,
                changes=policy_diff(previous, row.policy),
                current=row.version == source.policy_version,
            )
        )
        previous = dict(row.policy)
    return views
