"""Storage of sources: creating one with its credentials, finding it by token, its policy."""

from __future__ import annotations

import secrets
from base64 import b64encode
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.policies import record_policy_version
from core.policy import Policy
from core.store.ids import new_id, sha256_hex
from core.tables import Source


def new_webhook_secret() -> str:
    """A Standard Webhooks secret: "whsec_" and 32 random bytes in base64."""
    return "whsec_" + b64encode(secrets.token_bytes(32)).decode("ascii")


@dataclass(frozen=True)
class NewSource:
    """A freshly created source with the two credentials shown to its owner only once."""

    source: Source
    secret: str
    token: str


def create_source(
    session: Session,
    name: str,
    callback_url: str | None = None,
    *,
    changed_by: str | None = None,
    **fields: Any,
) -> NewSource:
    """A new source with its credentials; its policy is kept as version 1 (core.policies)."""
    secret = new_webhook_secret()
    token = "mod_" + secrets.token_urlsafe(32)
    source = Source(
        id=new_id("src")[:20],
        name=name,
        secret=secret,
        token_sha256=sha256_hex(token),
        callback_url=callback_url,
        **fields,
    )
    session.add(source)
    session.flush()
    record_policy_version(
        session, source, changed_by=changed_by, reason="source created", first=True
    )
    return NewSource(source=source, secret=secret, token=token)


def source_by_token(session: Session, token: str) -> Source | None:
    return session.scalar(select(Source).where(Source.token_sha256 == sha256_hex(token)))


def source_policy(source: Source) -> Policy:
    return Policy.from_source_fields(
        source.thresholds, source.blocklist, source.max_links, version=source.policy_version
    )
