"""The sources page in a real browser: which thresholds are the model's, and going back to them."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from core.db import session_scope
from core.settings import Settings
from core.store import create_source
from core.tables import Source
from models.artifact import SHIPPED_DIR, read_manifest
from tests.browser.review_pages import sign_in
from tests.service.review_support import Account, make_account

pytestmark = pytest.mark.browser


def stored_thresholds(settings: Settings, source_id: str) -> dict[str, object]:
    with session_scope(settings) as session:
        source = session.get(Source, source_id)
        assert source is not None
        return dict(source.thresholds)


class TestSourcesPageBrowser:
    def test_sources_page_shows_model_thresholds_and_goes_back_to_them(
        self, page: Page, live_server: str, settings: Settings
    ) -> None:
        manifest: dict[str, float] = read_manifest(SHIPPED_DIR)["thresholds"]
        with session_scope(settings) as session:
            source_id = create_source(session, "Daily News").source.id
        admin: Account = make_account(settings, "admin", email="admin@example.org")
        sign_in(page, live_server, admin, "/admin/sources")

        section = page.locator(f"#source-{source_id}")
        expect(section.locator(".thresholds-source")).to_contain_text("live model's")
        expect(section.get_by_label("toxic flag threshold")).to_have_value(str(manifest["toxic"]))
        expect(section.get_by_label("toxic follows the model")).to_be_checked()

        section.get_by_label("toxic flag threshold").fill("0.7")
        section.get_by_role("button", name="Save").click()
        section = page.locator(f"#source-{source_id}")
        expect(section.locator(".thresholds-source")).to_contain_text("some set by a person")
        expect(section.get_by_label("toxic follows the model")).not_to_be_checked()
        expect(section.get_by_label("spam follows the model")).to_be_checked()
        assert stored_thresholds(settings, source_id) == {"toxic": {"flag": 0.7, "reject": None}}

        section.get_by_label("toxic follows the model").check()
        section.get_by_role("button", name="Save").click()
        section = page.locator(f"#source-{source_id}")
        expect(section.locator(".thresholds-source")).to_contain_text("live model's")
        expect(section.get_by_label("toxic flag threshold")).to_have_value(str(manifest["toxic"]))
        assert stored_thresholds(settings, source_id) == {}
