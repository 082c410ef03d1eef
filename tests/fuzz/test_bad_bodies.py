"""Hostile intake bodies through the real intake, beyond tests/service/test_intake.py's table.

There: invalid UTF-8, 20k-deep arrays, NUL and 1501 characters in the body, 751 emoji, lone
surrogates, oversize bodies read at most to the limit. Here: a 10 MB body, 100k-deep nesting,
NUL in the other text fields, right-to-left overrides, and how combining marks and emoji
sequences count (UTF-16 code units, like a browser's maxlength).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import redis
from flask.testing import FlaskClient
from sqlalchemy import func, select

from core.db import session_scope
from core.settings import Settings
from core.store import NewSource
from core.tables import Comment
from service import create_app
from tests.service.conftest import CountingStream, SignedPost, comment_payload, post_signed

TEN_MB = 10 * 1024 * 1024
DEPTH = 100_000
RLO = "\u202e"  # RIGHT-TO-LEFT OVERRIDE
COMBINING_ACUTE = "\u0301"
FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # man ZWJ woman ZWJ girl: 8 code units


def comments_of(settings: Settings, source: NewSource) -> list[Comment]:
    with session_scope(settings) as session:
        rows = list(session.scalars(select(Comment).where(Comment.source_id == source.source.id)))
        for row in rows:
            session.expunge(row)
    return rows


def count_of(settings: Settings, source: NewSource) -> int:
    with session_scope(settings) as session:
        query = select(func.count()).where(Comment.source_id == source.source.id)
        return int(session.scalar(query) or 0)


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/problem+json"
    body: dict[str, Any] = response.get_json()
    return body


def nested_arrays(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def nested_objects(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


class TestHugeBodies:
    @pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
    def test_intake_refuses_10_mb_body_with_413_without_reading_it(
        self, client: FlaskClient, source: NewSource, settings: Settings, declared: bool
    ) -> None:
        body = b'{"body": "' + b"x" * TEN_MB + b'"}'
        stream = CountingStream(body)
        headers = {"Content-Type": "application/json", "webhook-id": "msg_big"}
        if declared:
            headers["Content-Length"] = str(len(body))
        response = client.post(
            f"/v1/sources/{source.source.id}/comments", input_stream=stream, headers=headers
        )
        problem(response, 413)
        assert stream.bytes_read <= settings.max_request_bytes + 1
        assert count_of(settings, source) == 0


class TestDeepNesting:
    @pytest.mark.parametrize(
        "body",
        [
            nested_arrays(DEPTH),
            nested_objects(DEPTH),
            json.dumps(comment_payload())[:-1].encode()
            + b', "extra": '
            + nested_arrays(DEPTH)
            + b"}",
        ],
        ids=["arrays", "objects", "inside-valid-comment"],
    )
    def test_intake_refuses_100k_deep_json_without_recursion_error(
        self, settings: Settings, source: NewSource, body: bytes
    ) -> None:
        # The request limit is raised so the parser, not the size check, meets the nesting.
        roomy = settings.model_copy(update={"max_request_bytes": 4 * 1024 * 1024})
        client = create_app({"TESTING": True}, settings=roomy).test_client()
        response = post_signed(client, source, body, "msg_deep")
        assert response.status_code in (400, 422), response.get_data(as_text=True)[:300]
        assert response.mimetype == "application/problem+json"
        assert count_of(settings, source) == 0

    def test_intake_refuses_deep_json_at_default_limit_as_too_large(
        self, signed_post: SignedPost, settings: Settings, source: NewSource
    ) -> None:
        problem(signed_post(nested_arrays(DEPTH)), 413)
        assert count_of(settings, source) == 0


class TestHostileCharacters:
    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("author.name", "Re\x00ader"),
            ("thread.title", "Budget\x00"),
            ("thread.id", "article\x007"),
            ("id", "cms\x00-1"),
            ("parent_id", "\x00"),
            ("user_agent", "Mozilla\x00"),
        ],
    )
    def test_intake_refuses_nul_in_any_text_field(
        self,
        signed_post: SignedPost,
        settings: Settings,
        source: NewSource,
        field: str,
        value: str,
    ) -> None:
        payload = comment_payload()
        *parents, leaf = field.split(".")
        target = payload
        for name in parents:
            target = target[name]
        target[leaf] = value
        errors = problem(signed_post(payload), 422)["errors"]
        assert [e["field"] for e in errors] == [field]
        assert count_of(settings, source) == 0

    def test_intake_stores_right_to_left_override_verbatim(
        self, signed_post: SignedPost, settings: Settings, source: NewSource, broker: redis.Redis
    ) -> None:
        # Legitimate in Arabic or Hebrew text; the pages isolate it (escaped, in its own element).
        body = f"see {RLO}gnp.exe{RLO} now"
        payload = comment_payload(body=body)
        payload["author"]["name"] = f"{RLO}redaeR"
        assert signed_post(payload).status_code == 202
        [stored] = comments_of(settings, source)
        assert stored.body == body and stored.author_name == f"{RLO}redaeR"


class TestCharacterCounting:
    @pytest.mark.parametrize(
        ("body", "accepted"),
        [
            (("e" + COMBINING_ACUTE) * 750, True),  # 1500 code units, 750 visible letters
            (("e" + COMBINING_ACUTE) * 750 + "e", False),  # 1501
            ("\u00e9" * 1500, True),  # precomposed: one code unit each
            (FAMILY * 187 + "xxxx", True),  # 187 x 8 + 4 = 1500
            (FAMILY * 187 + "xxxxx", False),  # 1501
            ("a" + COMBINING_ACUTE * 1499, True),  # a letter with 1499 marks: 1500 code units
            ("\U0001f600" * 750, True),  # each emoji outside the BMP is 2 code units
        ],
        ids=[
            "combining-1500",
            "combining-1501",
            "precomposed-1500",
            "zwj-family-1500",
            "zwj-family-1501",
            "stacked-marks-1500",
            "emoji-1500",
        ],
    )
    def test_intake_counts_body_in_utf16_code_units(
        self,
        signed_post: SignedPost,
        settings: Settings,
        source: NewSource,
        broker: redis.Redis,
        body: str,
        accepted: bool,
    ) -> None:
        response = signed_post(comment_payload(body=body))
        if accepted:
            assert response.status_code == 202, response.get_json()
            [stored] = comments_of(settings, source)
            assert stored.body == body
        else:
            errors = problem(response, 422)["errors"]
            assert [e["field"] for e in errors] == ["body"]
            assert "1501" in errors[0]["message"]
            assert count_of(settings, source) == 0
