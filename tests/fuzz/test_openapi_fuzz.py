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
from hypothesis import HealthCheck, assume, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    positive_data_acceptance,
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

# Examples per operation and generation mode: every operation, valid and invalid requests, in
# about two minutes on two cores.
EXAMPLES = 12
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    # The spec and the code agree on what is valid: what the schema allows is not refused with
    # 4xx for its shape (400/422/415), and what it forbids is not accepted.
    positive_data_acceptance,
    negative_data_rejection,
]
MODES = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
INTAKE = ("POST", "/v1/sources/{source_id}/comments")
METRICS_TOKEN = f"metrics-{uuid.uuid4().hex}"


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


def says_what_no_schema_can(case: schemathesis.Case) -> bool:
    """A positive case the contract refuses by a rule across fields, which JSON Schema cannot
    state: a label's reject threshold below its flag threshold (documented beside both), or a
    suggestion asked for with no target or with both (SuggestRequest's description)."""
    body = case.body if isinstance(case.body, dict) else {}
    if case.path.endswith("/suggest"):
        targets = [body.get("flag_capacity"), body.get("reject_precision")]
        return sum(target is not None for target in targets) != 1
    thresholds = body.get("thresholds")
    if not isinstance(thresholds, dict):
        return False
    return any(
        isinstance(pair, dict)
        and isinstance(pair.get("flag"), int | float)
        and isinstance(pair.get("reject"), int | float)
        and pair["reject"] < pair["flag"]
        for pair in thresholds.values()
    )


def mutated(case: schemathesis.Case) -> set[str]:
    """The parameters a negative case made invalid on purpose (empty for a positive case)."""
    data = case.meta.phase.data if case.meta is not None else None
    return {str(m.parameter).lower() for m in getattr(data, "mutations", None) or [] if m.parameter}


def credentials(case: schemathesis.Case, world: World, raw_body: bytes | None) -> dict[str, str]:
    """The header each operation's security scheme asks for, valid for the world; except where
    a negative case removed or broke a credential on purpose: that is left as generated, so the
    refusal it expects is what the server is asked for."""
    schemes = {
        name for entry in case.operation.definition.raw.get("security", []) for name in entry
    }
    broken = mutated(case)
    headers: dict[str, str] = {}
    keep_authorization = "authorization" not in broken and "Authorization" in (case.headers or {})
    if "sourceToken" in schemes and keep_authorization:
        headers["Authorization"] = f"Bearer {world.source.token}"
    if "moderatorToken" in schemes and keep_authorization:
        headers["Authorization"] = f"Bearer {world.admin_token}"
    if "metricsToken" in schemes and keep_authorization:
        headers["Authorization"] = f"Bearer {METRICS_TOKEN}"
    signature_broken = broken & {"webhook-signature", "webhook-id", "webhook-timestamp"}
    if "webhookSignature" in schemes and raw_body is not None and not signature_broken:
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
    """The bytes to send (and sign): the JSON of the body, or a negative case's raw bytes."""
    if isinstance(case.body, schemathesis.core.NotSet) or case.body is None:
        return None
    if isinstance(case.body, bytes):
        return case.body
    try:
        return json.dumps(case.body).encode("utf-8")
    except (TypeError, ValueError):
        return None


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
@pytest.mark.parametrize("mode", MODES, ids=[m.value for m in MODES])
@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_openapi_operation_has_no_server_error_and_conforms(
    settings: Settings,
    world: World,
    broker: redis.Redis,
    method: str,
    path: str,
    mode: GenerationMode,
) -> None:
    # /metrics as a deployment that protects it runs: the document says the token is required.
    protected = settings.model_copy(update={"metrics_token": METRICS_TOKEN})
    app: Flask = create_app({"TESTING": True}, settings=protected)
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    operation = schema[path][method]

    statuses: Counter[int] = Counter()

    @given(case=operation.as_strategy(generation_mode=mode), known_ids=st.booleans())
    @hypothesis_settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: schemathesis.Case, known_ids: bool) -> None:
        if mode is GenerationMode.POSITIVE:
            assume(not says_what_no_schema_can(case))
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
    if mode is GenerationMode.POSITIVE:
        # The credentials worked: some requests got past authentication to the operation itself.
        assert set(statuses) - {401, 403}, statuses
