"""/openapi.json and the code agree where they once did not: what the schema forbids is refused
with 422, what it allows is not, and every status the code answers is documented."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from core.settings import Settings
from core.store import NewSource
from service.openapi import build_spec
from tests.service.review_support import Account, add_comment, make_account


@pytest.fixture
def admin(settings: Settings) -> Account:
    return make_account(settings, "admin")


def bearer(account: Account) -> dict[str, str]:
    return {"Authorization": f"Bearer {account.token}"}


def operation(app: Flask, method: str, path: str) -> dict[str, Any]:
    with app.app_context():
        spec = build_spec(app)
    result: dict[str, Any] = spec["paths"][path][method]
    return result


def assert_refused(response: Any, field: str) -> None:
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    assert field in {e["field"] for e in response.get_json().get("errors", [])}, response.get_json()


class TestAgreement:
    @pytest.mark.parametrize(
        "path", ["/v1/review/comments/{comment_id}/decision", "/v1/review/decisions"]
    )
    def test_decision_routes_document_and_answer_415(
        self, app: Flask, client: FlaskClient, settings: Settings, source: NewSource, path: str
    ) -> None:
        assert "415" in operation(app, "post", path)["responses"]
        comment_id = add_comment(settings, source.source.id)
        response = client.post(
            path.format(comment_id=comment_id),
            data="status=approved",
            headers={**bearer(make_account(settings)), "Content-Type": "text/plain"},
        )
        assert response.status_code == 415

    @pytest.mark.parametrize("value", [False, True])
    def test_source_update_refuses_a_boolean_max_links(
        self, client: FlaskClient, source: NewSource, admin: Account, value: bool
    ) -> None:
        path = f"/v1/admin/sources/{source.source.id}"
        response = client.patch(path, headers=bearer(admin), json={"max_links": value})
        assert_refused(response, "max_links")

    def test_source_update_refuses_a_boolean_threshold(
        self, client: FlaskClient, source: NewSource, admin: Account
    ) -> None:
        response = client.patch(
            f"/v1/admin/sources/{source.source.id}",
            headers=bearer(admin),
            json={"thresholds": {"toxic": {"flag": True}}},
        )
        assert_refused(response, "thresholds.toxic.flag")

    def test_rotate_secret_without_a_body_is_refused(
        self, client: FlaskClient, source: NewSource, admin: Account
    ) -> None:
        response = client.post(
            f"/v1/admin/sources/{source.source.id}/rotate-secret", headers=bearer(admin)
        )
        assert response.status_code == 415
        assert response.mimetype == "application/problem+json"
        accepted = client.post(
            f"/v1/admin/sources/{source.source.id}/rotate-secret", headers=bearer(admin), json={}
        )
        assert accepted.status_code == 200

    @pytest.mark.parametrize(
        ("path", "field"),
        [
            ("/v1/review/audit?until=", "until"),
            ("/v1/review/audit?since=", "since"),
            ("/v1/review/audit.csv?until=", "until"),
            ("/v1/review/queue?label=", "label"),
            ("/v1/review/queue?status=", "status"),
            ("/v1/review/queue?page=", "page"),
            ("/v1/admin/deliveries?state=", "state"),
        ],
    )
    def test_empty_typed_query_values_are_refused(
        self, client: FlaskClient, admin: Account, path: str, field: str
    ) -> None:
        assert_refused(client.get(path, headers=bearer(admin)), field)

    @pytest.mark.parametrize(
        ("query", "field"),
        [("offset=-1", "offset"), ("offset=4611686018427387905", "offset"), ("limit=0", "limit")],
    )
    def test_deliveries_paging_out_of_range_is_refused_not_clamped(
        self, client: FlaskClient, admin: Account, query: str, field: str
    ) -> None:
        assert_refused(client.get(f"/v1/admin/deliveries?{query}", headers=bearer(admin)), field)

    def test_rejection_without_reason_code_is_forbidden_by_the_schema_too(
        self, app: Flask, client: FlaskClient, settings: Settings, source: NewSource
    ) -> None:
        with app.app_context():
            schema = build_spec(app)["components"]["schemas"]["DecideRequest"]
        assert schema["if"]["properties"]["status"] == {"const": "rejected"}
        assert "reason_code" in schema["then"]["required"]
        comment_id = add_comment(settings, source.source.id)
        response = client.post(
            f"/v1/review/comments/{comment_id}/decision",
            headers=bearer(make_account(settings)),
            json={"status": "rejected"},
        )
        assert response.status_code == 422
        assert "reason code" in response.get_data(as_text=True)

    def test_approval_with_a_reject_reason_is_refused(
        self, client: FlaskClient, settings: Settings, source: NewSource
    ) -> None:
        comment_id = add_comment(settings, source.source.id)
        response = client.post(
            f"/v1/review/comments/{comment_id}/decision",
            headers=bearer(make_account(settings)),
            json={"status": "approved", "reason_code": "toxic"},
        )
        assert response.status_code == 422

    @pytest.mark.parametrize(
        ("path", "name"),
        [
            ("/v1/review/queue", "author"),
            ("/v1/review/audit", "comment"),
            ("/v1/admin/deliveries", "source"),
        ],
    )
    def test_nul_in_a_text_query_value_is_forbidden_by_the_schema_and_refused(
        self, app: Flask, client: FlaskClient, admin: Account, path: str, name: str
    ) -> None:
        parameters = {p["name"]: p for p in operation(app, "get", path)["parameters"]}
        assert parameters[name]["schema"]["pattern"] == "^[^\\x00]*$"
        assert_refused(client.get(f"{path}?{name}=a%00b", headers=bearer(admin)), name)

    def test_undo_documents_its_body_as_optional(self, app: Flask) -> None:
        assert operation(app, "post", "/v1/review/undo")["requestBody"]["required"] is False

    def test_the_pages_still_take_empty_form_fields(
        self, client: FlaskClient, settings: Settings
    ) -> None:
        from tests.service.review_support import sign_in

        sign_in(client, make_account(settings))
        assert client.get("/moderate?label=&source=").status_code == 200
        assert client.get("/moderate/audit?until=&since=").status_code == 200
