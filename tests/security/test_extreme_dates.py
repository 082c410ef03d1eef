"""Dates at the ends of the calendar: a 422 (or the right answer), never a 500 or a cut export.

Python's datetime covers the years 1 to 9999; an offset can push a date's UTC time outside them
(0001-01-01T00:30+01:00 is in the year 0 in UTC), which used to raise OverflowError.
"""

from __future__ import annotations

import csv
import io

import pytest
from flask.testing import FlaskClient

from core.settings import Settings
from core.store import NewSource
from tests.service.conftest import SignedPost, comment_payload
from tests.service.review_support import Account, add_comment, bearer, make_account, sign_in

BOTH = pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
# Valid ISO 8601, but outside the years 1 to 9999 once in UTC.
OUT_OF_RANGE = [
    "0001-01-01T00:30:00+01:00",
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:30:00-01:00",
]
BAD_FILTERS = [
    {"since": "0001-01-01T00:30:00+01:00"},
    {"since": "0001-01-01T00:00:00+01:00"},
    {"until": "9999-12-31T23:30:00-01:00"},
]
# Bounds at the calendar's ends that every decision lies within: the whole log.
WIDEST_FILTERS = [
    {"until": "9999-12-31"},
    {"since": "0001-01-01"},
    {"since": "0001-01-01T00:00:00Z"},
    {"since": "0001-01-01T00:00:00-01:00", "until": "9999-12-31T23:59:59+01:00"},
]


@pytest.fixture
def moderator(settings: Settings) -> Account:
    return make_account(settings, "moderator")


@pytest.fixture
def decided(settings: Settings, source: NewSource) -> str:
    """A comment with one decision (the model's) in the audit log."""
    return add_comment(settings, source.source.id)


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


@BOTH
class TestExtremeDates:
    @pytest.mark.parametrize("created_at", OUT_OF_RANGE)
    def test_extreme_dates_intake_refuses_created_at_outside_utc_range(
        self, signed_post: SignedPost, created_at: str
    ) -> None:
        response = signed_post(comment_payload(created_at=created_at))
        assert response.status_code == 422
        assert response.mimetype == "application/problem+json"
        assert [e["field"] for e in response.get_json()["errors"]] == ["created_at"]

    @pytest.mark.parametrize("created_at", ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"])
    def test_extreme_dates_intake_stores_created_at_at_the_ends_of_the_range(
        self, signed_post: SignedPost, client: FlaskClient, source: NewSource, created_at: str
    ) -> None:
        response = signed_post(comment_payload(created_at=created_at))
        assert response.status_code == 202
        read = client.get(
            response.get_json()["links"]["self"].removeprefix("http://localhost"),
            headers={"Authorization": f"Bearer {source.token}"},
        )
        assert read.get_json()["created_at"].startswith(created_at[:19])

    @pytest.mark.parametrize("query", BAD_FILTERS)
    @pytest.mark.parametrize("path", ["/v1/review/audit", "/v1/review/audit.csv"])
    def test_extreme_dates_audit_api_refuses_bounds_outside_utc_range(
        self,
        client: FlaskClient,
        moderator: Account,
        decided: str,
        path: str,
        query: dict[str, str],
    ) -> None:
        response = client.get(path, query_string=query, headers=bearer(moderator))
        assert response.status_code == 422
        assert response.mimetype == "application/problem+json"
        assert response.get_json()["errors"] == [
            {
                "field": name,
                "message": "must be between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z",
            }
            for name in query
        ]

    @pytest.mark.parametrize("query", WIDEST_FILTERS)
    def test_extreme_dates_audit_api_widest_bounds_return_the_whole_log(
        self, client: FlaskClient, moderator: Account, decided: str, query: dict[str, str]
    ) -> None:
        # The comment filter keeps out other tests' decisions (PostgreSQL is shared by the run).
        query = {**query, "comment": decided}
        page = client.get("/v1/review/audit", query_string=query, headers=bearer(moderator))
        assert page.status_code == 200
        assert [d["comment_id"] for d in page.get_json()["decisions"]] == [decided]
        export = client.get("/v1/review/audit.csv", query_string=query, headers=bearer(moderator))
        assert [r["comment_id"] for r in csv_rows(export.get_data(as_text=True))] == [decided]

    @pytest.mark.parametrize("query", BAD_FILTERS)
    @pytest.mark.parametrize("path", ["/moderate/audit", "/moderate/audit.csv"])
    def test_extreme_dates_audit_page_goes_back_with_a_message(
        self,
        client: FlaskClient,
        moderator: Account,
        decided: str,
        path: str,
        query: dict[str, str],
    ) -> None:
        sign_in(client, moderator)
        response = client.get(path, query_string=query)
        assert response.status_code == 302
        assert response.headers["Location"] == "/moderate/audit"
        page = client.get(response.headers["Location"]).get_data(as_text=True)
        assert f"{next(iter(query))} must be between 0001-01-01T00:00:00Z and" in page

    @pytest.mark.parametrize("query", WIDEST_FILTERS)
    def test_extreme_dates_audit_page_widest_bounds_show_the_whole_log(
        self, client: FlaskClient, moderator: Account, decided: str, query: dict[str, str]
    ) -> None:
        sign_in(client, moderator)
        query = {**query, "comment": decided}
        page = client.get("/moderate/audit", query_string=query)
        assert page.status_code == 200
        assert "<span data-audit-total>1</span>" in page.get_data(as_text=True)
        export = client.get("/moderate/audit.csv", query_string=query)
        assert [r["comment_id"] for r in csv_rows(export.get_data(as_text=True))] == [decided]
