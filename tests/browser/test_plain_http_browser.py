"""Signing in over plain HTTP at a host name, in Chromium: the page says what to set, and it works.

Chromium keeps Secure cookies over http only for loopback hosts, so the scenario needs a real
host name: the browser fixture maps mod.test to 127.0.0.1.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from core.settings import Settings
from service import create_app
from tests.live_server import serving
from tests.service.review_support import make_account

pytestmark = pytest.mark.browser


def at_mod_test(url: str) -> str:
    return url.replace("127.0.0.1", "mod.test")


@pytest.mark.parametrize("width", [1280, 390])
def test_secure_cookies_over_plain_http_say_what_to_set(
    browser: Browser, settings: Settings, artifacts: Path, width: int
) -> None:
    account = make_account(settings, "moderator", email="mod@example.org")
    with serving(create_app(settings=settings)) as url:
        base = at_mod_test(url)
        context = browser.new_context(viewport={"width": width, "height": 900})
        page = context.new_page()
        page.goto(f"{base}/login")
        warning = page.locator("#transport-warning")
        expect(warning).to_contain_text(f"PUBLIC_URL={base}")
        expect(warning).to_contain_text("TRUSTED_PROXIES=1")
        page.screenshot(path=str(artifacts / f"plain-http-login-{width}.png"), full_page=True)
        page.get_by_label("E-mail").fill(account.email)
        page.get_by_label("Password").fill(account.password)
        page.get_by_role("button", name="Sign in").click()
        # The browser dropped the Secure session cookie: the error says why, not only "CSRF".
        expect(page.locator(".flash-error")).to_contain_text(f"PUBLIC_URL={base}")
        context.close()


def test_a_plain_http_public_url_signs_in(browser: Browser, settings: Settings) -> None:
    account = make_account(settings, "moderator", email="mod@example.org")
    relaxed = settings.model_copy(update={"public_url": "http://mod.test"})
    with serving(create_app(settings=relaxed)) as url:
        base = at_mod_test(url)
        context = browser.new_context()
        page = context.new_page()
        page.goto(f"{base}/login")
        expect(page.locator("#transport-warning")).to_have_count(0)
        page.get_by_label("E-mail").fill(account.email)
        page.get_by_label("Password").fill(account.password)
        page.get_by_role("button", name="Sign in").click()
        expect(page).to_have_url(f"{base}/moderate")
        context.close()
