"""/metrics: protected by METRICS_TOKEN when set, and no label an outsider could use."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from core.settings import Settings
from core.store import NewSource
from service import create_app
from tests.service.conftest import SignedPost, comment_payload
from worker.metrics import observe_callback, observe_decision

TOKEN = "scrape-token-of-this-test"


@pytest.fixture
def guarded(settings: Settings) -> FlaskClient:
    changed = settings.model_copy(update={"metrics_token": TOKEN})
    return create_app({"TESTING": True}, settings=changed).test_client()


class TestMetricsAccess:
    @pytest.mark.parametrize("header", [None, "Bearer wrong", f"Basic {TOKEN}", "Bearer "])
    def test_metrics_token_refuses_scrapes_without_it(
        self, guarded: FlaskClient, header: str | None
    ) -> None:
        response = guarded.get("/metrics", headers={"Authorization": header} if header else {})
        assert response.status_code == 401
        assert response.mimetype == "application/problem+json"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert "moderation_intake" not in response.get_data(as_text=True)

    def test_metrics_token_lets_the_scraper_in(self, guarded: FlaskClient) -> None:
        response = guarded.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 200
        assert "moderation_intake_requests" in response.get_data(as_text=True)

    def test_metrics_without_token_setting_stay_open(self, client: FlaskClient) -> None:
        assert client.get("/metrics").status_code == 200

    def test_metrics_401_is_declared_in_openapi(self, client: FlaskClient) -> None:
        spec = client.get("/openapi.json").get_json()
        operation = spec["paths"]["/metrics"]["get"]
        assert {"200", "401"} <= set(operation["responses"])
        assert operation["security"] == [{"metricsToken": []}]

    def test_metrics_labels_name_no_source(
        self, client: FlaskClient, signed_post: SignedPost, source: NewSource
    ) -> None:
        assert signed_post(comment_payload()).status_code == 202
        assert signed_post(comment_payload(), secret="whsec_" + "A" * 32).status_code == 401
        observe_decision("approved")
        observe_callback(None, failed=True)
        text = client.get("/metrics").get_data(as_text=True)
        assert "moderation_decisions_total" in text
        assert source.source.id not in text
        assert 'source="' not in text
