"""The Reported page in a real browser: readers' reports past the threshold, dismissed."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from core import reports
from core.db import session_scope
from core.domain import Status
from core.settings import Settings
from core.tables import Comment, Source
from tests.browser.review_pages import sign_in
from tests.service.review_support import Account, add_comment

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("width", [1280, 390])
def test_reported_comment_is_dismissed(
    page: Page,
    live_server: str,
    settings: Settings,
    source_id: str,
    moderator: Account,
    problems: list[str],
    artifacts: Path,
    width: int,
) -> None:
    comment_id = add_comment(
        settings,
        source_id,
        author="Blunt Reader",
        status=Status.APPROVED,
        body="The council's plan is a waste of money and everyone knows it.",
    )
    with session_scope(settings) as session:
        session.get_one(Source, source_id).report_threshold = 2.0
        external_id = session.get_one(Comment, comment_id).external_id
        for reader in ("r-1", "r-2"):
            reports.receive_report(session, source_id, external_id, reader, "abusive", "Rude")
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(page, live_server, moderator, "/moderate/reported")
    card = page.get_by_role("article", name="Reported comment by Blunt Reader")
    expect(card).to_contain_text("reports weigh 2.0 (threshold 2)")
    expect(card.locator(".reasons li")).to_have_count(2)
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.screenshot(path=str(artifacts / f"reported-{width}.png"), full_page=True)
    card.get_by_role("button", name="Dismiss: keep").click()
    expect(page.locator(".flash")).to_contain_text("Reports dismissed.")
    expect(page.get_by_text("Nothing reported past its threshold.")).to_be_visible()
    with session_scope(settings) as session:
        assert session.get_one(Comment, comment_id).status == "approved"
    assert problems == []
