"""Standard Webhooks verification of intake requests, on the raw body, saying which check failed.

The `standardwebhooks` package decodes the secret and computes the HMAC. Its own `verify()` is not
used directly because it decodes the body as UTF-8 first (a body that is not UTF-8 must reach the
400 check, not fail as a bad signature), fixes the tolerance at five minutes (ours is a setting)
and reports every failure as one exception type (the API names the failed check).
"""

from __future__ import annotations

import base64
import binascii
import enum
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from standardwebhooks.webhooks import Webhook, hmac_data

# Longest webhook-id we store (seen_webhooks.webhook_id is String(200)).
MAX_WEBHOOK_ID_CHARS = 200
# Senders may list several signatures (e.g. during their own key rotation); more is abuse.
MAX_SIGNATURES = 10


class HeaderLookup(Protocol):
    """Anything with a case-insensitive get(name): werkzeug's Headers, a lower-cased dict."""

    def get(self, key: str) -> str | None: ...


class Failure(enum.StrEnum):
    """Which check refused the request; sent to the caller as the problem's `reason`."""

    MISSING_HEADERS = "missing-headers"
    BAD_SIGNATURE = "bad-signature"
    TIMESTAMP_OUT_OF_TOLERANCE = "timestamp-out-of-tolerance"
    REPLAYED_WEBHOOK_ID = "replayed-webhook-id"


class SignatureRefused(Exception):
    """A request whose Standard Webhooks headers do not verify."""

    def __init__(self, reason: Failure, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class VerifiedWebhook:
    """The headers of a request whose signature checked out."""

    webhook_id: str
    timestamp: datetime


class RawBodyWebhook(Webhook):
    """The library's Webhook, signing the raw body bytes instead of a decoded string."""

    def signature_bytes(self, webhook_id: str, timestamp: int, body: bytes) -> bytes:
        return hmac_data(self._whsecret, f"{webhook_id}.{timestamp}.".encode() + body)


def sign(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The webhook-signature header value ("v1,<base64>") for body; used by the CMS simulator."""
    digest = RawBodyWebhook(secret).signature_bytes(webhook_id, timestamp, body)
    return "v1," + base64.b64encode(digest).decode("ascii")


def _header(headers: HeaderLookup, name: str) -> str:
    return (headers.get(name) or "").strip()


def _parse_timestamp(value: str) -> int:
    if not value.isascii() or not value.isdigit() or len(value) > 12:
        raise SignatureRefused(
            Failure.MISSING_HEADERS, "webhook-timestamp must be whole seconds since the Unix epoch"
        )
    return int(value)


def _signatures(value: str) -> list[bytes]:
    """The v1 signatures of a webhook-signature header; other versions and junk are skipped."""
    found: list[bytes] = []
    for entry in value.split()[:MAX_SIGNATURES]:
        version, _, encoded = entry.partition(",")
        if version != "v1" or not encoded:
            continue
        try:
            found.append(base64.b64decode(encoded, validate=True))
        except (binascii.Error, ValueError):
            continue
    return found


def verify(
    body: bytes,
    headers: HeaderLookup,
    secrets: Sequence[str],
    *,
    tolerance: timedelta,
    now: datetime | None = None,
) -> VerifiedWebhook:
    """Check the headers, the timestamp window and the HMAC of body under any of secrets.

    Raises SignatureRefused naming the first check that failed. Replays are checked by the
    caller, which owns the database.
    """
    webhook_id = _header(headers, "webhook-id")
    timestamp_text = _header(headers, "webhook-timestamp")
    signature_text = _header(headers, "webhook-signature")
    missing = [
        name
        for name, value in (
            ("webhook-id", webhook_id),
            ("webhook-timestamp", timestamp_text),
            ("webhook-signature", signature_text),
        )
        if not value
    ]
    if missing:
        raise SignatureRefused(Failure.MISSING_HEADERS, "missing header(s): " + ", ".join(missing))
    if len(webhook_id) > MAX_WEBHOOK_ID_CHARS or not webhook_id.isprintable():
        raise SignatureRefused(
            Failure.MISSING_HEADERS,
            f"webhook-id must be at most {MAX_WEBHOOK_ID_CHARS} printable characters",
        )
    timestamp = _parse_timestamp(timestamp_text)
    now = now or datetime.now(UTC)
    # Compared as numbers: a timestamp centuries away must not overflow datetime.
    offset = timestamp - now.timestamp()
    if abs(offset) > tolerance.total_seconds():
        direction = "old" if offset < 0 else "far in the future"
        raise SignatureRefused(
            Failure.TIMESTAMP_OUT_OF_TOLERANCE,
            f"webhook-timestamp is too {direction}: more than "
            f"{int(tolerance.total_seconds())} s from the server's clock",
        )
    offered = _signatures(signature_text)
    for secret in secrets:
        expected = RawBodyWebhook(secret).signature_bytes(webhook_id, timestamp, body)
        if any(hmac.compare_digest(expected, candidate) for candidate in offered):
            return VerifiedWebhook(
                webhook_id=webhook_id, timestamp=datetime.fromtimestamp(timestamp, UTC)
            )
    raise SignatureRefused(
        Failure.BAD_SIGNATURE, "no webhook-signature matches the body with the source's secret"
    )
