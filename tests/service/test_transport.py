"""Plain HTTP at a host name: the sign-in page says what to set; a trusted proxy's TLS counts."""

from __future__ import annotations

import pytest

from core.settings import Settings
from service import create_app

WARNING_ID = 'id="transport-warning"'


def login_page(settings: Settings, host: str, **headers: str) -> str:
    client = create_app(settings=settings).test_client()
    response = client.get("/login", headers={"Host": host, **headers})
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_plain_http_to_a_host_name_names_both_fixes(settings: Settings) -> None:
    page = login_page(settings, "mod.test:8080")
    assert WARNING_ID in page
    assert "PUBLIC_URL=http://mod.test:8080" in page
    assert "TRUSTED_PROXIES=1" in page


@pytest.mark.parametrize("host", ["127.0.0.1:8000", "localhost:8000", "[::1]:8000", "a.localhost"])
def test_loopback_hosts_keep_secure_cookies_and_need_no_warning(
    settings: Settings, host: str
) -> None:
    assert WARNING_ID not in login_page(settings, host)


def test_a_plain_http_public_url_allows_cookies_without_tls(settings: Settings) -> None:
    relaxed = settings.model_copy(update={"public_url": "http://mod.test"})
    assert WARNING_ID not in login_page(relaxed, "mod.test")


def test_forwarded_proto_is_ignored_unless_the_proxy_is_trusted(settings: Settings) -> None:
    assert WARNING_ID in login_page(settings, "mod.test", **{"X-Forwarded-Proto": "https"})


def test_a_trusted_proxy_terminating_tls_makes_the_request_secure(settings: Settings) -> None:
    behind_proxy = settings.model_copy(update={"trusted_proxies": 1})
    client = create_app(settings=behind_proxy).test_client()
    headers = {"Host": "internal:8000", "X-Forwarded-Proto": "https"}
    assert WARNING_ID in client.get("/login", headers={"Host": "mod.test"}).get_data(as_text=True)
    assert WARNING_ID not in client.get("/login", headers=headers).get_data(as_text=True)
