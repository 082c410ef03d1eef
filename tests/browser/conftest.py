"""Browser fixtures: the app on 127.0.0.1 (tests.live_server), driven by Debian's Chromium.

Playwright never downloads a browser here: it launches /usr/bin/chromium by path.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from playwright.sync_api import Browser, Page, sync_playwright

from core.db import session_scope
from core.settings import Settings
from core.store import create_source
from service import create_app
from tests.live_server import serving
from tests.service.review_support import Account, make_account

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # A host name that is not loopback, for the plain-HTTP sign-in scenario.
    "--host-resolver-rules=MAP mod.test 127.0.0.1",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def live_server(settings: Settings) -> Iterator[str]:
    """The whole app on a free port of 127.0.0.1, on the test's database and queue."""
    with serving(create_app({"TESTING": True}, settings=settings)) as url:
        yield url
    client = redis.Redis.from_url(settings.redis_client_url)
    client.delete(settings.queue_name, settings.delivery_queue_name)
    client.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    opened = context.new_page()
    yield opened
    context.close()


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def source_id(settings: Settings) -> str:
    with session_scope(settings) as session:
        return create_source(session, "Daily News").source.id


@pytest.fixture
def moderator(settings: Settings) -> Account:
    return make_account(settings, "moderator", email="mod@example.org")


@pytest.fixture
def problems(page: Page) -> list[str]:
    """Script errors and console errors (CSP violations land here): the page must have none."""
    seen: list[str] = []
    page.on("pageerror", lambda error: seen.append(f"pageerror: {error}"))
    page.on(
        "console", lambda msg: seen.append(f"console: {msg.text}") if msg.type == "error" else None
    )
    return seen
