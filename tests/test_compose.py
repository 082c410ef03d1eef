"""docker-compose.yml parses with Debian's docker-compose and wires the production stack."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.cli.helpers import clean_environment

REPO_ROOT = Path(__file__).resolve().parents[1]
DOCKER_COMPOSE = shutil.which("docker-compose")
APP_SERVICES = ("api", "worker", "deliverer", "beat")

# scripts/test-prerequisites installs docker-compose, so this skips only outside `make test`.
pytestmark = pytest.mark.skipif(DOCKER_COMPOSE is None, reason="docker-compose is not installed")


def compose_config(**env: str) -> subprocess.CompletedProcess[str]:
    assert DOCKER_COMPOSE is not None
    return subprocess.run(
        [DOCKER_COMPOSE, "-f", "docker-compose.yml", "config"],
        cwd=REPO_ROOT,
        env=clean_environment(**env),
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    result = compose_config(SECRET_KEY="compose-test-secret")
    assert result.returncode == 0, result.stderr
    parsed: dict[str, Any] = yaml.safe_load(result.stdout)
    return parsed


class TestCompose:
    def test_compose_names_the_six_services_and_the_migration(self, config: dict[str, Any]) -> None:
        assert set(config["services"]) == {
            "api", "worker", "deliverer", "beat", "redis", "postgres", "migrate"
        }  # fmt: skip

    def test_compose_starts_the_app_only_after_a_successful_migration(
        self, config: dict[str, Any]
    ) -> None:
        services = config["services"]
        assert services["migrate"]["command"] == ["moderation", "db", "upgrade"]
        assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
        for name in APP_SERVICES:
            depends = services[name]["depends_on"]
            assert depends["migrate"]["condition"] == "service_completed_successfully"
            assert depends["redis"]["condition"] == "service_healthy"

    def test_compose_checks_health_of_api_postgres_and_redis(self, config: dict[str, Any]) -> None:
        services = config["services"]
        assert any("/healthz" in part for part in services["api"]["healthcheck"]["test"])
        assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
        assert services["redis"]["healthcheck"]["test"][-2:] == ["redis-cli", "ping"]

    def test_compose_runs_gunicorn_worker_and_beat_from_one_image(
        self, config: dict[str, Any]
    ) -> None:
        services = config["services"]
        assert services["api"]["command"][:2] == ["moderation", "api"]
        assert services["worker"]["command"][:2] == ["moderation", "worker"]
        assert services["deliverer"]["command"][:2] == ["moderation", "deliverer"]
        assert services["beat"]["command"][:4] == ["celery", "-A", "worker.app", "beat"]
        for name in (*APP_SERVICES, "migrate"):
            environment = services[name]["environment"]
            assert environment["DATABASE_URL"].startswith("postgresql://")
            assert environment["REDIS_URL"] == "redis://redis:6379/0"
            assert environment["SECRET_KEY"] == "compose-test-secret"

    def test_compose_worker_and_deliverer_can_be_scaled_out(self, config: dict[str, Any]) -> None:
        # `--scale worker=3` needs replicas that differ in nothing fixed: no container name,
        # no host port, no volume of their own.
        for name in ("worker", "deliverer"):
            service = config["services"][name]
            assert not {"container_name", "ports", "volumes"} & set(service)

    def test_compose_refuses_to_start_without_a_secret_key(self) -> None:
        result = compose_config()
        assert result.returncode != 0
        assert "SECRET_KEY" in result.stderr

    def test_compose_passes_metrics_token_to_the_api(self) -> None:
        result = compose_config(SECRET_KEY="compose-test-secret", METRICS_TOKEN="scrape-token")
        assert result.returncode == 0, result.stderr
        api = yaml.safe_load(result.stdout)["services"]["api"]
        assert api["environment"]["METRICS_TOKEN"] == "scrape-token"
