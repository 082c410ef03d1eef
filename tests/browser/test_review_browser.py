"""The moderator page in a real browser: sign in, keyboard review, bulk, undo, XSS, 50-item run."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, Response, expect

from core.domain import Status
from core.settings import Settings
from tests.browser.review_pages import focused_id, press_and_wait_gone, sign_in, statuses
from tests.service.review_support import XSS_BODY, Account, add_comment, make_account

pytestmark = pytest.mark.browser


class TestReviewBrowser:
    def test_review_browser_keyboard_bulk_undo_and_xss(
        self,
        page: Page,
        live_server: str,
        settings: Settings,
        source_id: str,
        moderator: Account,
        problems: list[str],
        artifacts: Path,
    ) -> None:
        parent = add_comment(
            settings,
            source_id,
            status=Status.APPROVED,
            external_id="p-1",
            author="Ann",
            body="I think the council should fund the library.",
        )
        xss = add_comment(
            settings, source_id, body=XSS_BODY, author="Mallory", scores={"toxic": 0.99}
        )
        worst = add_comment(
            settings,
            source_id,
            body="You are a complete idiot and everyone here knows it.",
            highlights=[[19, 24]],
            scores={"toxic": 0.97, "identity_hate": 0.1, "threat": 0.02, "spam": 0.01},
            parent="p-1",
            author="Rude Reader",
        )
        spam = [
            add_comment(
                settings,
                source_id,
                body=f"Buy cheap watches at http://spam.example/{n} best prices!!!",
                highlights=[[21, 42]],
                scores={"toxic": 0.05, "spam": 0.9 - n / 100},
                author=f"Seller {n}",
            )
            for n in range(3)
        ]
        sign_in(page, live_server, moderator)

        # Hostile text shows as text and runs nothing.
        expect(page.locator(f'.item[data-id="{xss}"] .body')).to_have_text(XSS_BODY)
        assert page.evaluate("typeof window.__xss") == "undefined"
        expect(page.locator(f'.item[data-id="{worst}"] mark')).to_have_text("idiot")
        parent_text = page.locator(f'.item[data-id="{worst}"] .parent')
        expect(parent_text).to_contain_text("fund the library")
        page.screenshot(path=str(artifacts / "queue-1280.png"), full_page=True)

        # Keyboard: the riskiest comment is focused; approve it with "a".
        assert focused_id(page) == xss
        press_and_wait_gone(page, "a")
        expect(page.locator('[data-count="flagged"]')).to_have_text("4")
        expect(page.locator('[data-count="approved"]')).to_have_text("2")
        assert statuses(settings, [xss]) == ["approved"]

        # j moves down, r rejects with the suggested reason.
        assert focused_id(page) == worst
        page.keyboard.press("j")
        assert focused_id(page) == spam[0]
        page.keyboard.press("k")
        assert focused_id(page) == worst
        press_and_wait_gone(page, "r")
        assert statuses(settings, [worst]) == ["rejected"]

        # Undo within 10 s brings it back.
        expect(page.locator("#toast")).to_be_visible()
        page.keyboard.press("u")
        expect(page.locator(f'.item[data-id="{worst}"]')).to_have_count(1)
        assert statuses(settings, [worst]) == ["flagged"]

        # Bulk: select two spam comments with x, reject them with the bulk button.
        focused_id(page)
        page.keyboard.press("j")
        assert focused_id(page) == spam[0]
        page.keyboard.press("x")
        page.keyboard.press("j")
        page.keyboard.press("x")
        expect(page.locator("[data-selected]")).to_have_text("2")
        page.locator("#bulk-form select[name=reason_code]").select_option("spam")
        page.get_by_role("button", name="Reject selected").click()
        expect(page.locator(".item")).to_have_count(2)
        assert statuses(settings, spam) == ["rejected", "rejected", "flagged"]
        expect(page.locator("#toast")).to_contain_text("Rejected 2 comments.")

        # The help overlay opens with ? and closes with Escape.
        page.keyboard.press("?")
        expect(page.locator("#help")).to_be_visible()
        page.keyboard.press("Escape")
        expect(page.locator("#help")).to_be_hidden()

        # The author view and the audit page render too.
        page.goto(f"{live_server}/moderate/comments/{xss}/author")
        expect(page.locator(".item .body").first).to_have_text(XSS_BODY)
        assert page.evaluate("typeof window.__xss") == "undefined"
        page.goto(f"{live_server}/moderate/audit")
        expect(page.locator("[data-audit-total]")).to_have_text("11")
        page.screenshot(path=str(artifacts / "audit-1280.png"), full_page=True)
        assert parent
        assert problems == []

    def test_review_browser_narrow_screen(
        self,
        page: Page,
        live_server: str,
        settings: Settings,
        source_id: str,
        moderator: Account,
        problems: list[str],
        artifacts: Path,
    ) -> None:
        add_comment(settings, source_id, external_id="p-1", status=Status.APPROVED)
        for n in range(3):
            add_comment(
                settings,
                source_id,
                body=f"Comment number {n}: this is an awful take and you should feel bad. " * 2,
                highlights=[[29, 34]],
                scores={"toxic": 0.8 - n / 10, "spam": 0.2, "threat": 0.05, "identity_hate": 0.1},
                parent="p-1",
                author=f"Reader {n}",
            )
        page.set_viewport_size({"width": 390, "height": 844})
        sign_in(page, live_server, moderator)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"page scrolls sideways at 390 px ({width} px wide)"
        page.screenshot(path=str(artifacts / "queue-390.png"), full_page=True)
        # Buttons stay usable by touch at this width.
        page.locator(".item").first.get_by_role("button", name="Approve").click()
        expect(page.locator(".item")).to_have_count(2)
        page.goto(f"{live_server}/moderate/audit")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"audit page scrolls sideways at 390 px ({width} px wide)"
        page.screenshot(path=str(artifacts / "audit-390.png"), full_page=True)
        assert problems == []

    def test_review_browser_clears_50_with_the_keyboard(
        self,
        page: Page,
        live_server: str,
        settings: Settings,
        source_id: str,
        moderator: Account,
        problems: list[str],
    ) -> None:
        ids = [
            add_comment(
                settings,
                source_id,
                body=f"Flagged comment {n}",
                scores={"toxic": 0.5 + n / 200},
                author=f"Reader {n}",
            )
            for n in range(50)
        ]
        sign_in(page, live_server, moderator)
        decided = [press_and_wait_gone(page, "a" if n % 2 else "r") for n in range(50)]
        expect(page.locator(".empty")).to_contain_text("The queue is clear.")
        assert sorted(decided) == sorted(ids)
        assert set(statuses(settings, ids)) == {"approved", "rejected"}

        audit = httpx.get(
            f"{live_server}/v1/review/audit",
            params={"actor": "moderator", "per_page": 100},
            headers={"Authorization": f"Bearer {moderator.token}"},
        ).json()
        assert audit["total"] == 50
        assert {d["comment_id"] for d in audit["decisions"]} == set(ids)
        assert {d["moderator"] for d in audit["decisions"]} == {moderator.email}
        assert problems == []

    def test_review_browser_claim_on_focus_hides_the_item_from_others(
        self,
        browser: Browser,
        page: Page,
        live_server: str,
        settings: Settings,
        source_id: str,
        moderator: Account,
        problems: list[str],
    ) -> None:
        first = add_comment(settings, source_id, scores={"toxic": 0.9}, author="First")
        second = add_comment(settings, source_id, scores={"toxic": 0.8}, author="Second")

        def claimed(response: Response) -> bool:
            return response.url.endswith(f"/v1/review/comments/{first}/claim") and (
                response.request.method == "POST"
            )

        with page.expect_response(claimed) as claim:
            sign_in(page, live_server, moderator)
        assert claim.value.status == 200
        assert focused_id(page) == first

        colleague = make_account(settings, "moderator", email="colleague@example.org")
        with browser.new_context(viewport={"width": 1280, "height": 900}) as context:
            other = context.new_page()
            sign_in(other, live_server, colleague)
            expect(other.locator(f'.item[data-id="{second}"]')).to_have_count(1)
            expect(other.locator(f'.item[data-id="{first}"]')).to_have_count(0)
            expect(other.locator('[data-count="flagged"]')).to_have_text("1")

        # A session that ended sends the next action to the sign-in page, and back after.
        page.context.clear_cookies()
        page.keyboard.press("a")
        expect(page).to_have_url(f"{live_server}/login?next=%2Fmoderate")
        assert statuses(settings, [first]) == ["flagged"]
        # The refused request is the only error the browser reports.
        assert all("status of 401" in p for p in problems)
