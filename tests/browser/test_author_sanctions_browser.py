"""The author page in a real browser: suspend, see the state, reinstate, ban, at 1280 and 390 px."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from core.db import session_scope
from core.settings import Settings
from core.tables import AuthorSanction, Event
from tests.browser.review_pages import sign_in
from tests.service.review_support import Account, add_comment

pytestmark = pytest.mark.browser


def sanctions(settings: Settings, source_id: str) -> list[tuple[str, bool]]:
    with session_scope(settings) as session:
        rows = session.scalars(
            select(AuthorSanction)
            .where(AuthorSanction.source_id == source_id)
            .order_by(AuthorSanction.id)
        )
        return [(r.kind, r.lifted_at is None) for r in rows]


def event_types(settings: Settings, source_id: str) -> list[str]:
    with session_scope(settings) as session:
        rows = session.scalars(
            select(Event.type)
            .where(Event.source_id == source_id, Event.comment_id.is_(None))
            .order_by(Event.created_at)
        )
        return list(rows)


@pytest.mark.parametrize("width", [1280, 390])
def test_author_page_suspends_reinstates_and_bans(
    page: Page,
    live_server: str,
    settings: Settings,
    source_id: str,
    moderator: Account,
    problems: list[str],
    artifacts: Path,
    width: int,
) -> None:
    comment_id = add_comment(settings, source_id, author="Rude Reader", author_id="u-77")
    page.set_viewport_size({"width": width, "height": 900})
    path = f"/moderate/comments/{comment_id}/author"
    sign_in(page, live_server, moderator, path)
    panel = page.get_by_role("region", name="Suspension and ban")
    expect(panel.get_by_role("status")).to_have_text("In good standing.")

    suspend_form = panel.locator("form").filter(has=page.get_by_role("button", name="Suspend"))
    suspend_form.get_by_label("Reason").fill("Insults other readers")
    suspend_form.get_by_label("Days").fill("3")
    suspend_form.get_by_role("button", name="Suspend").click()
    expect(page.locator(".flash")).to_contain_text("Author suspended.")
    expect(panel.get_by_role("status")).to_contain_text("Suspended until")
    expect(panel.get_by_role("status")).to_contain_text("Insults other readers")
    # Nothing wider than the screen on a phone.
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.screenshot(path=str(artifacts / f"author-suspended-{width}.png"), full_page=True)

    reinstate_form = panel.locator("form").filter(has=page.get_by_role("button", name="Reinstate"))
    reinstate_form.get_by_label("Reason").fill("Apologised")
    reinstate_form.get_by_role("button", name="Reinstate").click()
    expect(page.locator(".flash")).to_contain_text("Author reinstated.")
    expect(panel.get_by_role("status")).to_have_text("In good standing.")

    suspend_form.get_by_label("Reason").fill("Spam bot")
    suspend_form.get_by_role("button", name="Ban").click()
    expect(panel.get_by_role("status")).to_contain_text("Banned")
    expect(panel.locator(".sanction-history li")).to_have_count(2)
    page.screenshot(path=str(artifacts / f"author-banned-{width}.png"), full_page=True)

    assert sanctions(settings, source_id) == [("suspension", False), ("ban", True)]
    assert event_types(settings, source_id) == [
        "author.suspended",
        "author.reinstated",
        "author.banned",
    ]
    assert problems == []
