"""Steps the browser tests of the moderator pages share: sign in, read the focus, decide by key."""

from __future__ import annotations

from urllib.parse import quote

from playwright.sync_api import Page, expect

from core.db import session_scope
from core.settings import Settings
from core.tables import Comment
from tests.service.review_support import Account


def sign_in(page: Page, base: str, account: Account, path: str = "/moderate") -> None:
    page.goto(f"{base}{path}")
    expect(page).to_have_url(f"{base}/login?next={quote(path, safe='')}")
    page.get_by_label("E-mail").fill(account.email)
    page.get_by_label("Password").fill(account.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{base}{path}")


def statuses(settings: Settings, ids: list[str]) -> list[str]:
    with session_scope(settings) as session:
        return [session.get(Comment, i).status for i in ids]  # type: ignore[union-attr]


def focused_id(page: Page) -> str:
    focused = page.locator(".item.focused")
    expect(focused).to_have_count(1)
    return str(focused.get_attribute("data-id"))


def press_and_wait_gone(page: Page, key: str) -> str:
    """Press a decision key on the focused comment and wait until it leaves the page."""
    comment_id = focused_id(page)
    page.keyboard.press(key)
    expect(page.locator(f'.item[data-id="{comment_id}"]')).to_have_count(0)
    return comment_id
