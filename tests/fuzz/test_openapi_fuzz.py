"""Schemathesis against /openapi.json, every operation, with real credentials and signatures.

Each operation gets generated requests (valid and invalid) sent to the app on PostgreSQL, once
with the generated path ids and once with ids that exist, so both the refusals and the deep
paths are reached. Intake bodies are signed with the source's secret and a fresh webhook-id.
Every response must not be a 5xx and must match what the spec declares.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytest
import redis
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import select

from core.db import session_scope
from core.settings import Settings
from core.store import NewSource
from core.tables import Event
from service import create_app
from service.openapi import build_spec
from tests.conftest import TEST_SECRET_KEY
from tests.service.conftest import sign_with_library
from tests.service.review_support import add_comment, make_account

# Examples per operation and mode of path ids; 19 operations run in about a minute.
EXAMPLES = 20
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
INTAKE = ("POST", "/v1/sources/{source_id}/comments")


def documented_operations() -> list[tuple[str, str]]:
    """(METHOD, path) of every operation the spec declares (the spec needs no database)."""
    offline = Settings(
        database_url="sqlite://",
        redis_url="redis://127.0.0.1:1/0",
        log_json=False,
        secret_key=TEST_SECRET_KEY,
    )
    spec = build_spec(create_app(settings=offline))
    return sorted((method.upper(), path) for path, item in spec["paths"].items() for method in item)


OPERATIONS = documented_operations()


@dataclass(frozen=True)
class World:
    """Things that exist, whose ids replace generated ones, and the credentials to use."""

    source: NewSource
    comment_id: str
    event_id: str
    admin_token: str

    def ids(self) -> dict[str, str]:
        return {
            "source_id": self.source.source.id,
            "comment_id": self.comment_id,
            "event_id": self.event_id,
        }


@pytest.fixture
def world(settings: Settings, source: NewSource) -> World:
    comment_id = add_comment(settings, source.source.id)
    with session_scope(settings) as session:
        event_id = session.scalars(select(Event.id).where(Event.comment_id == comment_id)).one()
    admin = make_account(settings, role="admin")
    return World(source, comment_id, event_id, admin.token)


def credentials(case: schemathesis.Case, world: World, raw_body: bytes | None) -> dict[str, str]:
    """The header each operation's security scheme asks for, valid for the world."""
    schemes = {
        name for entry in case.operation.definition.raw.get("security", []) for name in entry
    }
    headers: dict[str, str] = {}
    if "sourceToken" in schemes:
        headers["Authorization"] = f"Bearer {world.source.token}"
    if "moderatorToken" in schemes:
        headers["Authorization"] = f"Bearer {world.admin_token}"
    if "webhookSignature" in schemes and raw_body is not None:
        webhook_id, timestamp = f"msg_{uuid.uuid4().hex}", int(time.time())
        headers.update(
            {
                "webhook-id": webhook_id,
                "webhook-timestamp": str(timestamp),
                "webhook-signature": sign_with_library(
                    world.source.secret, webhook_id, timestamp, raw_body
                ),
            }
        )
    return headers


def raw_json(case: schemathesis.Case) -> bytes | None:
    if isinstance(case.body, schemathesis.core.NotSet) or case.body is None:
        return None
    return json.dumps(case.body).encode("utf-8")


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_openapi_operation_has_no_server_error_and_conforms(
    settings: Settings, world: World, broker: redis.Redis, method: str, path: str
) -> None:
    app: Flask = create_app({"TESTING": True}, settings=settings)
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    operation = schema[path][method]

    statuses: Counter[int] = Counter()

    @given(case=operation.as_strategy(), known_ids=st.booleans())
    @hypothesis_settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: schemathesis.Case, known_ids: bool) -> None:
        if known_ids:
            for name, value in world.ids().items():
                if case.path_parameters and name in case.path_parameters:
                    case.path_parameters[name] = value
        raw = raw_json(case)
        extra: dict[str, Any] = {"data": raw} if raw is not None else {}
        response = case.call_and_validate(
            headers=credentials(case, world, raw), checks=CHECKS, **extra
        )
        statuses[response.status_code] += 1

    run()
    # The credentials worked: some requests got past authentication to the operation itself.
    assert set(statuses) - {401, 403}, statuses
