"""The appeals page in a real browser: a second moderator grants an appeal, at 1280 and 390 px."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from core import appeals
from core.db import session_scope
from core.domain import Status
from core.settings import Settings
from core.tables import Comment
from tests.browser.review_pages import sign_in
from tests.service.review_support import Account, add_comment

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("width", [1280, 390])
def test_second_moderator_grants_an_appeal(
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
        author="Quoted Reader",
        author_id="u-5",
        status=Status.REJECTED,
        body="As the minister said: 'idiots run this council'.",
    )
    with session_scope(settings) as session:
        external_id = session.get_one(Comment, comment_id).external_id
        appeals.receive_appeal(
            session, source_id, external_id, "u-5", "I was quoting the minister, not insulting."
        )
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(page, live_server, moderator, "/moderate/appeals")
    card = page.get_by_role("article", name="Appeal by Quoted Reader")
    expect(card).to_contain_text("I was quoting the minister")
    expect(card).to_contain_text("Rejected by the model")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.screenshot(path=str(artifacts / f"appeals-{width}.png"), full_page=True)
    card.get_by_label("Note").fill("Quotation, fair enough.")
    card.get_by_role("button", name="Grant: approve").click()
    expect(page.locator(".flash")).to_contain_text("Appeal granted.")
    expect(page.get_by_text("No open appeals.")).to_be_visible()
    with session_scope(settings) as session:
        assert session.get_one(Comment, comment_id).status == "approved"
    page.get_by_role("link", name="granted").click()
    expect(page.get_by_role("article", name="Appeal by Quoted Reader")).to_contain_text(
        "Quotation, fair enough."
    )
    assert problems == []
