"""Properties of the intake signature check: the right signature always verifies, any change fails.

(Text folding's properties live with it: tests/test_textfold.py.)
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from standardwebhooks import Webhook

from core.store import new_webhook_secret
from service import signing

NOW = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)
TOLERANCE = timedelta(minutes=5)
SECRET = new_webhook_secret()
OTHER_SECRET = new_webhook_secret()

bodies = st.binary(max_size=2048)
# What a header can carry: visible ASCII, no surrounding whitespace (verify() strips it).
webhook_ids = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=200
)
timestamps = st.integers(
    min_value=int((NOW - TOLERANCE).timestamp()), max_value=int((NOW + TOLERANCE).timestamp())
)


def headers(webhook_id: str, timestamp: int, signature: str) -> dict[str, str]:
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature,
    }


def verify(body: bytes, webhook_id: str, timestamp: int, signature: str) -> signing.VerifiedWebhook:
    return signing.verify(
        body, headers(webhook_id, timestamp, signature), [SECRET], tolerance=TOLERANCE, now=NOW
    )


def refused_reason(body: bytes, webhook_id: str, timestamp: int, signature: str) -> str:
    with pytest.raises(signing.SignatureRefused) as refused:
        verify(body, webhook_id, timestamp, signature)
    return refused.value.reason.value


def flip(data: bytes, index: int, mask: int) -> bytes:
    """data with one byte changed (mask is never 0, so the byte always differs)."""
    index %= len(data)
    return data[:index] + bytes([data[index] ^ mask]) + data[index + 1 :]


class TestSignatureProperties:
    @given(body=bodies, webhook_id=webhook_ids, timestamp=timestamps)
    def test_signature_correct_one_always_verifies(
        self, body: bytes, webhook_id: str, timestamp: int
    ) -> None:
        verified = verify(
            body, webhook_id, timestamp, signing.sign(SECRET, webhook_id, timestamp, body)
        )
        assert verified.webhook_id == webhook_id
        assert int(verified.timestamp.timestamp()) == timestamp

    @given(text=st.text(max_size=500), webhook_id=webhook_ids, timestamp=timestamps)
    def test_signature_from_standardwebhooks_library_verifies(
        self, text: str, webhook_id: str, timestamp: int
    ) -> None:
        # What a CMS using the reference library sends for a (UTF-8) JSON body.
        signature = Webhook(SECRET).sign(webhook_id, datetime.fromtimestamp(timestamp, UTC), text)
        body = text.encode("utf-8", errors="surrogatepass")
        assert verify(body, webhook_id, timestamp, signature).webhook_id == webhook_id

    @given(
        body=bodies.filter(bool),
        webhook_id=webhook_ids,
        timestamp=timestamps,
        index=st.integers(min_value=0),
        mask=st.integers(min_value=1, max_value=255),
    )
    def test_signature_fails_after_any_one_byte_change_of_body(
        self, body: bytes, webhook_id: str, timestamp: int, index: int, mask: int
    ) -> None:
        signature = signing.sign(SECRET, webhook_id, timestamp, body)
        changed = flip(body, index, mask)
        assert refused_reason(changed, webhook_id, timestamp, signature) == "bad-signature"

    @given(
        body=bodies,
        webhook_id=webhook_ids,
        timestamp=timestamps,
        index=st.integers(min_value=0, max_value=31),
        mask=st.integers(min_value=1, max_value=255),
    )
    def test_signature_fails_after_any_one_byte_change_of_digest(
        self, body: bytes, webhook_id: str, timestamp: int, index: int, mask: int
    ) -> None:
        digest = base64.b64decode(signing.sign(SECRET, webhook_id, timestamp, body)[3:])
        forged = "v1," + base64.b64encode(flip(digest, index, mask)).decode()
        assert refused_reason(body, webhook_id, timestamp, forged) == "bad-signature"

    @given(
        body=bodies,
        webhook_id=webhook_ids,
        other_id=webhook_ids,
        timestamp=timestamps,
        shift=st.integers(min_value=-TOLERANCE.seconds, max_value=TOLERANCE.seconds).filter(bool),
    )
    def test_signature_fails_for_other_id_or_timestamp(
        self, body: bytes, webhook_id: str, other_id: str, timestamp: int, shift: int
    ) -> None:
        signature = signing.sign(SECRET, webhook_id, timestamp, body)
        if other_id != webhook_id:
            assert refused_reason(body, other_id, timestamp, signature) == "bad-signature"
        moved = timestamp + shift
        if abs(moved - NOW.timestamp()) <= TOLERANCE.total_seconds():
            assert refused_reason(body, webhook_id, moved, signature) == "bad-signature"

    @given(body=bodies, webhook_id=webhook_ids, timestamp=timestamps)
    def test_signature_fails_with_another_secret(
        self, body: bytes, webhook_id: str, timestamp: int
    ) -> None:
        signature = signing.sign(OTHER_SECRET, webhook_id, timestamp, body)
        assert refused_reason(body, webhook_id, timestamp, signature) == "bad-signature"

    @given(body=bodies, webhook_id=webhook_ids, timestamp=timestamps)
    def test_signature_verifies_with_any_live_secret_of_a_rotation(
        self, body: bytes, webhook_id: str, timestamp: int
    ) -> None:
        signature = signing.sign(OTHER_SECRET, webhook_id, timestamp, body)
        verified = signing.verify(
            body,
            headers(webhook_id, timestamp, signature),
            [SECRET, OTHER_SECRET],
            tolerance=TOLERANCE,
            now=NOW,
        )
        assert verified.webhook_id == webhook_id

    @given(
        body=bodies,
        webhook_id=st.text(max_size=300),
        timestamp=st.text(max_size=30),
        signature=st.text(max_size=300),
    )
    def test_signature_refuses_any_junk_headers_cleanly(
        self, body: bytes, webhook_id: str, timestamp: str, signature: str
    ) -> None:
        # Whatever arrives, the answer is a named refusal (401), never another exception.
        with pytest.raises(signing.SignatureRefused):
            signing.verify(
                body,
                {
                    "webhook-id": webhook_id,
                    "webhook-timestamp": timestamp,
                    "webhook-signature": signature,
                },
                [SECRET],
                tolerance=TOLERANCE,
                now=NOW,
            )
