"""Property: whatever signed JSON a CMS sends, intake answers 2xx, 400 or 422, never a 500."""

from __future__ import annotations

from typing import Any

import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.service.conftest import SignedPost, nested

JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = ["id", "thread", "author", "body", "parent_id", "created_at", "ip", "user_agent"]
NESTED = ["thread.id", "thread.url", "thread.title", "author.name", "author.email", "author.id"]


class TestIntakeFuzz:
    @settings(
        max_examples=60,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(path=st.sampled_from(FIELDS + NESTED), value=JSON_VALUES)
    def test_intake_never_fails_on_odd_field_values(
        self, signed_post: SignedPost, broker: redis.Redis, path: str, value: Any
    ) -> None:
        response = signed_post(nested(path, value))
        assert response.status_code in (200, 202, 422), response.get_data(as_text=True)

    @settings(
        max_examples=40,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(body=st.binary(max_size=200) | JSON_VALUES.map(str).map(str.encode))
    def test_intake_never_fails_on_odd_bodies(
        self, signed_post: SignedPost, broker: redis.Redis, body: bytes
    ) -> None:
        response = signed_post(body)
        assert response.status_code in (202, 400, 422), response.get_data(as_text=True)
