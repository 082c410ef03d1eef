"""SQL injection probes on every filter and path id: no 5xx, and never a row the filter excludes."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

import pytest
from flask.testing import FlaskClient

from core.settings import Settings
from core.store import NewSource
from tests.service.review_support import Account, add_comment, bearer, make_account

PROBES = [
    "' OR 1=1 --",
    "' OR '1'='1",
    '" OR ""="',
    "1; DROP TABLE comments; --",
    "%' OR 1=1 --",
    "') OR ('a'='a",
    "1 UNION SELECT id, secret FROM sources --",
    "\\'; SELECT pg_sleep(5); --",
    "*",
    "%",
    "_",
    "\x00",
    "' OR 1=1 --\x00",
]

pytestmark = pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)


@dataclass(frozen=True)
class Seeded:
    source: NewSource
    comment_id: str
    admin: Account


@pytest.fixture
def seeded(settings: Settings, source: NewSource) -> Seeded:
    comment_id = add_comment(settings, source.source.id, author="Reader", thread="article-7")
    return Seeded(source, comment_id, make_account(settings, role="admin"))


def get(client: FlaskClient, path: str, account: Account) -> tuple[int, dict[str, object] | None]:
    response = client.get(path, headers=bearer(account))
    assert response.status_code < 500, (path, response.get_data(as_text=True)[:500])
    data = response.get_json(silent=True) if response.is_json else None
    return response.status_code, data


class TestSqlInjection:
    @pytest.mark.parametrize(
        ("path", "param", "rows_key"),
        [
            ("/v1/review/queue?status=flagged", "source", "items"),
            ("/v1/review/queue?status=flagged", "thread", "items"),
            ("/v1/review/queue?status=flagged", "author", "items"),
            ("/v1/review/queue", "label", "items"),
            ("/v1/review/queue", "sort", "items"),
            ("/v1/review/audit", "moderator", "decisions"),
            ("/v1/review/audit", "source", "decisions"),
            ("/v1/review/audit", "comment", "decisions"),
            ("/v1/review/audit", "since", "decisions"),
            ("/v1/admin/deliveries", "source", "items"),
            ("/v1/admin/deliveries", "state", "items"),
        ],
    )
    def test_injection_in_filter_returns_no_extra_rows(
        self, client: FlaskClient, seeded: Seeded, path: str, param: str, rows_key: str
    ) -> None:
        separator = "&" if "?" in path else "?"
        for probe in PROBES:
            status, data = get(client, f"{path}{separator}{param}={quote(probe)}", seeded.admin)
            if status == 200:
                assert isinstance(data, dict)
                rows = data.get(rows_key, data.get("deliveries", []))
                assert rows == [], f"{param}={probe!r} matched rows: {rows}"
            else:
                assert status in (400, 404, 422), (probe, status)

    @pytest.mark.parametrize(
        "template",
        [
            "/v1/review/comments/{}",
            "/v1/review/comments/{}/author",
            "/v1/admin/sources/{}",
            "/v1/admin/deliveries/{}",
        ],
    )
    def test_injection_in_path_id_finds_nothing(
        self, client: FlaskClient, seeded: Seeded, template: str
    ) -> None:
        for probe in PROBES:
            status, _ = get(client, template.format(quote(probe, safe="")), seeded.admin)
            assert status in (400, 404), (probe, status)

    def test_injection_in_comment_id_of_source_api_finds_nothing(
        self, client: FlaskClient, seeded: Seeded
    ) -> None:
        for probe in PROBES:
            response = client.get(
                f"/v1/comments/{quote(probe, safe='')}",
                headers={"Authorization": f"Bearer {seeded.source.token}"},
            )
            assert response.status_code in (400, 404), (probe, response.get_data(as_text=True))

    def test_injection_as_bearer_token_is_refused(
        self, client: FlaskClient, seeded: Seeded
    ) -> None:
        for probe in PROBES:
            for path in (f"/v1/comments/{seeded.comment_id}", "/v1/review/queue"):
                response = client.get(path, headers={"Authorization": f"Bearer x{probe}"})
                assert response.status_code == 401, (probe, path, response.get_data(as_text=True))


class TestNulInUrl:
    @pytest.mark.parametrize(
        "url",
        ["/v1/comments/%00", "/v1/admin/deliveries/a%00b", "/moderate/comments/%00/author"],
    )
    def test_nul_in_path_is_not_found_before_any_view(
        self, client: FlaskClient, seeded: Seeded, url: str
    ) -> None:
        response = client.get(url, headers=bearer(seeded.admin))
        assert response.status_code == 404
        assert response.mimetype == "application/problem+json"

    @pytest.mark.parametrize(
        ("url", "field"),
        [
            ("/v1/admin/deliveries?source=%00", "source"),
            ("/v1/review/queue?author=a%00b", "author"),
            ("/moderate?source=%00", "source"),
            ("/v1/review/queue?%00=1", "\\0"),
        ],
    )
    def test_nul_in_query_is_refused_naming_the_parameter(
        self, client: FlaskClient, seeded: Seeded, url: str, field: str
    ) -> None:
        response = client.get(url, headers=bearer(seeded.admin))
        assert response.status_code == 422
        assert response.mimetype == "application/problem+json"
        assert [e["field"] for e in response.get_json()["errors"]] == [field]
