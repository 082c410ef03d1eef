"""service.signing agrees with the standardwebhooks library and names each failed check."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook

from core.store import new_webhook_secret
from service.signing import Failure, SignatureRefused, sign, verify

TOLERANCE = timedelta(minutes=5)
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
TIMESTAMP = int(NOW.timestamp())


def headers(
    secret: str, body: bytes, *, webhook_id: str = "msg_1", timestamp: int = TIMESTAMP
) -> dict[str, str]:
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, webhook_id, timestamp, body),
    }


class TestSign:
    def test_sign_matches_library(self) -> None:
        secret, body = new_webhook_secret(), '{"body": "café ☕"}'
        ours = sign(secret, "msg_1", TIMESTAMP, body.encode())
        assert ours == Webhook(secret).sign("msg_1", NOW, body)

    def test_sign_output_passes_library_verify(self) -> None:
        secret, body = new_webhook_secret(), b'{"id": "x"}'
        now = int(datetime.now(UTC).timestamp())
        signed = headers(secret, body, timestamp=now)
        assert Webhook(secret).verify(body, signed) == {"id": "x"}


class TestVerify:
    def test_verify_accepts_any_listed_v1_signature(self) -> None:
        secret, body = new_webhook_secret(), b"{}"
        good = headers(secret, body)
        junk = "v2,abc v1,!!notbase64!! nocomma v1," + base64.b64encode(b"x" * 32).decode()
        good["webhook-signature"] = f"{junk} {good['webhook-signature']}"
        assert verify(body, good, [secret], tolerance=TOLERANCE, now=NOW).webhook_id == "msg_1"

    def test_verify_accepts_any_of_several_secrets(self) -> None:
        old, new, body = new_webhook_secret(), new_webhook_secret(), b"{}"
        verified = verify(body, headers(old, body), [new, old], tolerance=TOLERANCE, now=NOW)
        assert verified.timestamp == NOW

    def test_verify_signs_raw_bytes_that_are_not_utf8(self) -> None:
        secret, body = new_webhook_secret(), b"\xff\xfe not utf-8"
        assert verify(body, headers(secret, body), [secret], tolerance=TOLERANCE, now=NOW)

    @pytest.mark.parametrize(
        ("change", "reason"),
        [
            ({"webhook-id": ""}, Failure.MISSING_HEADERS),
            ({"webhook-id": "m" * 201}, Failure.MISSING_HEADERS),
            ({"webhook-timestamp": "12.5"}, Failure.MISSING_HEADERS),
            ({"webhook-timestamp": str(TIMESTAMP - 301)}, Failure.TIMESTAMP_OUT_OF_TOLERANCE),
            ({"webhook-timestamp": str(TIMESTAMP + 301)}, Failure.TIMESTAMP_OUT_OF_TOLERANCE),
            ({"webhook-timestamp": "999999999999"}, Failure.TIMESTAMP_OUT_OF_TOLERANCE),
            ({"webhook-timestamp": "0"}, Failure.TIMESTAMP_OUT_OF_TOLERANCE),
            ({"webhook-signature": "v1,"}, Failure.BAD_SIGNATURE),
            ({"webhook-id": "msg_2"}, Failure.BAD_SIGNATURE),
        ],
        ids=[
            "no-id",
            "long-id",
            "fractional-ts",
            "stale",
            "future",
            "year-33658",
            "epoch",
            "empty-sig",
            "other-id",
        ],
    )
    def test_verify_names_failed_check(self, change: dict[str, str], reason: Failure) -> None:
        secret, body = new_webhook_secret(), b"{}"
        refused = headers(secret, body) | change
        with pytest.raises(SignatureRefused) as caught:
            verify(body, refused, [secret], tolerance=TOLERANCE, now=NOW)
        assert caught.value.reason is reason
