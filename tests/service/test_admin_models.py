"""Admin API and page for the model registry: list, shadow, promote behind gates, rollback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from core import registry
from core.db import session_scope
from core.settings import Settings
from service.openapi import build_spec
from tests.registry_support import fake_artifact, figures_like_shipped, shipped_version
from tests.service.review_support import Account, csrf_token, make_account, sign_in

pytestmark = pytest.mark.usefixtures("registry")

API_ROUTES = [
    ("GET", "/v1/admin/models"),
    ("POST", "/v1/admin/models/cand-1/shadow"),
    ("POST", "/v1/admin/models/cand-1/promote"),
    ("POST", "/v1/admin/models/rollback"),
]


def bearer(account: Account) -> dict[str, str]:
    return {"Authorization": f"Bearer {account.token}"}


@pytest.fixture
def admin(settings: Settings) -> Account:
    return make_account(settings, "admin")


def add(settings: Settings, tmp_path: Path, version: str, **figures: Any) -> str:
    folder = fake_artifact(tmp_path / version, version, **figures_like_shipped(**figures))
    with session_scope(settings) as session:
        registry.ensure_seeded(session, settings)
        return registry.register(session, folder, "test").version


def states(client: FlaskClient, admin: Account) -> dict[str, str]:
    response = client.get("/v1/admin/models", headers=bearer(admin))
    assert response.status_code == 200
    return {m["version"]: m["state"] for m in response.get_json()["models"]}


class TestAccess:
    @pytest.mark.parametrize(("method", "path"), API_ROUTES)
    def test_models_api_refuses_anonymous_and_moderators(
        self, settings: Settings, client: FlaskClient, method: str, path: str
    ) -> None:
        anonymous = client.open(path, method=method, json={})
        moderator = client.open(
            path, method=method, json={}, headers=bearer(make_account(settings, "moderator"))
        )
        assert (anonymous.status_code, moderator.status_code) == (401, 403)
        assert anonymous.mimetype == moderator.mimetype == "application/problem+json"

    def test_models_page_is_for_admins(self, settings: Settings, client: FlaskClient) -> None:
        assert "/login" in client.get("/admin/models").headers["Location"]
        sign_in(client, make_account(settings, "moderator"))
        assert client.get("/admin/models").status_code == 403


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
class TestModelsApi:
    def test_list_shows_the_shipped_model_live(self, client: FlaskClient, admin: Account) -> None:
        body = client.get("/v1/admin/models", headers=bearer(admin)).get_json()
        assert [(m["version"], m["state"]) for m in body["models"]] == [(shipped_version(), "live")]
        assert body["shadow"] is None

    def test_shadow_promote_rollback(
        self, settings: Settings, client: FlaskClient, admin: Account, tmp_path: Path
    ) -> None:
        version = add(settings, tmp_path, "cand-1")
        shadowed = client.post(f"/v1/admin/models/{version}/shadow", headers=bearer(admin))
        assert shadowed.get_json()["state"] == "shadow"
        listed = client.get("/v1/admin/models", headers=bearer(admin)).get_json()
        assert listed["shadow"]["version"] == version
        assert listed["shadow"]["scored"] == 0

        promoted = client.post(f"/v1/admin/models/{version}/promote", headers=bearer(admin))
        assert promoted.status_code == 200, promoted.get_json()
        assert promoted.get_json()["model"]["changed_by"] == admin.email
        assert {g["gate"] for g in promoted.get_json()["gates"]} == {
            "site_heldout",
            "public_heldout",
            "identity_audit",
        }
        assert states(client, admin) == {shipped_version(): "retired", version: "live"}

        rolled = client.post("/v1/admin/models/rollback", json={"reason": "wrong house rule"})
        assert rolled.status_code == 401  # no token: the API never trusts a bare request
        rolled = client.post(
            "/v1/admin/models/rollback", json={"reason": "wrong house rule"}, headers=bearer(admin)
        )
        assert rolled.get_json()["version"] == shipped_version()
        assert states(client, admin) == {shipped_version(): "live", version: "retired"}

    def test_gate_refusal_is_409_problem_with_the_gates(
        self, settings: Settings, client: FlaskClient, admin: Account, tmp_path: Path
    ) -> None:
        version = add(settings, tmp_path, "bad-1", neutral_flag_rate=0.02)
        refused = client.post(f"/v1/admin/models/{version}/promote", headers=bearer(admin))
        problem = refused.get_json()
        assert refused.status_code == 409
        assert refused.mimetype == "application/problem+json"
        assert "identity audit regresses" in problem["detail"]
        assert [g["gate"] for g in problem["gates"] if not g["passed"]] == ["identity_audit"]
        assert states(client, admin)[version] == "candidate"

    def test_force_needs_a_reason_and_is_recorded(
        self, settings: Settings, client: FlaskClient, admin: Account, tmp_path: Path
    ) -> None:
        version = add(settings, tmp_path, "bad-1", heldout_delta=-0.02)
        path = f"/v1/admin/models/{version}/promote"
        no_reason = client.post(path, json={"force": True}, headers=bearer(admin))
        forced = client.post(
            path, json={"force": True, "reason": "site labels matter more"}, headers=bearer(admin)
        )
        with session_scope(settings) as session:
            change = registry.history(session, version)[-1]
        assert no_reason.status_code == 409
        assert "needs a reason" in no_reason.get_json()["detail"]
        assert forced.status_code == 200
        assert (change.forced, change.reason, change.changed_by) == (
            True,
            "site labels matter more",
            admin.email,
        )

    @pytest.mark.parametrize(
        ("path", "status"),
        [
            ("/v1/admin/models/nope/promote", 404),
            ("/v1/admin/models/nope/shadow", 404),
            ("/v1/admin/models/rollback", 409),
        ],
    )
    def test_refusals_are_problems(
        self, client: FlaskClient, admin: Account, path: str, status: int
    ) -> None:
        response = client.post(path, headers=bearer(admin))
        assert response.status_code == status
        assert response.mimetype == "application/problem+json"


class TestModelsOpenApi:
    def test_spec_documents_the_gate_refusal_and_an_optional_body(self, app: Flask) -> None:
        with app.app_context():
            paths = build_spec(app)["paths"]
        promote = paths["/v1/admin/models/{version}/promote"]["post"]
        assert {"200", "404", "409", "422"} <= set(promote["responses"])
        assert promote["requestBody"]["required"] is False
        assert set(paths["/v1/admin/models/rollback"]["post"]["responses"]) >= {"200", "409"}
        assert "get" in paths["/v1/admin/models"]

    def test_promote_body_fields_are_typed_like_the_schema(
        self, settings: Settings, client: FlaskClient, admin: Account, tmp_path: Path
    ) -> None:
        version = add(settings, tmp_path, "cand-1")
        response = client.post(
            f"/v1/admin/models/{version}/promote", json={"force": "yes"}, headers=bearer(admin)
        )
        assert response.status_code == 422
        assert "force" in {e["field"] for e in response.get_json()["errors"]}


class TestModelsPage:
    def test_page_lists_models_and_promotes_and_rolls_back(
        self, settings: Settings, client: FlaskClient, admin: Account, tmp_path: Path
    ) -> None:
        version = add(settings, tmp_path, "cand-1")
        sign_in(client, admin)
        page = client.get("/admin/models").get_data(as_text=True)
        assert f'id="model-{version}" data-state="candidate"' in page
        assert "Which thresholds follow the model" in page

        token = csrf_token(client, "/admin/models")
        client.post(f"/admin/models/{version}/shadow", data={"csrf_token": token})
        assert f"<code>{version}</code> since" in client.get("/admin/models").get_data(as_text=True)
        promoted = client.post(
            f"/admin/models/{version}/promote", data={"csrf_token": token}, follow_redirects=True
        )
        assert f'id="model-{version}" data-state="live"' in promoted.get_data(as_text=True)
        rolled = client.post(
            "/admin/models/rollback",
            data={"csrf_token": token, "reason": "back"},
            follow_redirects=True,
        )
        assert f'id="model-{version}" data-state="retired"' in rolled.get_data(as_text=True)

    def test_page_refusal_is_flashed_and_forced_override_logged(
        self, settings: Settings, client: FlaskClient, admin: Account, tmp_path: Path
    ) -> None:
        version = add(settings, tmp_path, "bad-1", bpsn_delta=-0.05)
        sign_in(client, admin)
        token = csrf_token(client, "/admin/models")
        refused = client.post(
            f"/admin/models/{version}/promote", data={"csrf_token": token}, follow_redirects=True
        )
        assert "Not changed: promotion of bad-1 refused" in refused.get_data(as_text=True)
        forced = client.post(
            f"/admin/models/{version}/promote",
            data={"csrf_token": token, "force": "on", "reason": "audit is stale"},
            follow_redirects=True,
        )
        text = forced.get_data(as_text=True)
        assert f'id="model-{version}" data-state="live"' in text
        assert f"gates overridden</strong>) by {admin.email}: audit is stale" in text
