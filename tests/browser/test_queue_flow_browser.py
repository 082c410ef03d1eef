"""A moderator's day in the queue, in real Chromium: moving on past a page by key, a key per
reject reason, compact cards, whole-page actions that ask first, undo that survives the reload,
each card's source and a thread filter per source, and no no-op approve on the Approved tab."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import func, select

from core.db import session_scope
from core.domain import Status
from core.reasons import REJECT_REASONS
from core.settings import Settings
from core.store import create_source
from core.tables import Decision
from tests.browser.review_pages import focused_id, press_and_wait_gone, sign_in, statuses
from tests.service.review_support import Account, add_comment, make_account

pytestmark = pytest.mark.browser

PER_PAGE = 20


def flagged(settings: Settings, source_id: str, count: int, **fields: object) -> list[str]:
    """`count` flagged comments, riskiest first (the queue's default order)."""
    return [
        add_comment(
            settings,
            source_id,
            body=f"Flagged comment {n}: you are all idiots and this is rubbish.",
            scores={"toxic": 0.95 - n / 100, "spam": 0.02},
            author=f"Reader {n}",
            **fields,
        )
        for n in range(count)
    ]


def latest(settings: Settings, comment_id: str) -> tuple[str, str | None]:
    with session_scope(settings) as session:
        decision = session.scalars(
            select(Decision).where(Decision.comment_id == comment_id).order_by(Decision.id.desc())
        ).first()
        assert decision is not None
        return decision.status, decision.reason_code


def decision_count(settings: Settings) -> int:
    with session_scope(settings) as session:
        return int(session.scalar(select(func.count()).select_from(Decision)) or 0)


def cards_in_view(page: Page) -> int:
    """Cards whole inside the window, as a moderator sees them without scrolling."""
    return int(
        page.evaluate(
            """() => Array.from(document.querySelectorAll('.item')).filter((el) => {
                 const box = el.getBoundingClientRect();
                 return box.top >= 0 && box.bottom <= window.innerHeight;
               }).length"""
        )
    )


class TestQueueFlow:
    def test_j_past_the_last_card_opens_the_next_page_and_k_comes_back(
        self, page: Page, live_server: str, settings: Settings, source_id: str, moderator: Account
    ) -> None:
        ids = flagged(settings, source_id, PER_PAGE + 5)
        sign_in(page, live_server, moderator)
        assert focused_id(page) == ids[0]
        for _ in range(PER_PAGE - 1):
            page.keyboard.press("j")
        assert focused_id(page) == ids[PER_PAGE - 1]
        page.keyboard.press("j")
        expect(page).to_have_url(f"{live_server}/moderate?page=2")
        assert focused_id(page) == ids[PER_PAGE]
        page.keyboard.press("k")
        expect(page).to_have_url(f"{live_server}/moderate")
        assert focused_id(page) == ids[PER_PAGE - 1]

    def test_moving_on_after_decisions_lands_on_the_first_comment_not_yet_seen(
        self, page: Page, live_server: str, settings: Settings, source_id: str, moderator: Account
    ) -> None:
        ids = flagged(settings, source_id, PER_PAGE + 5)
        sign_in(page, live_server, moderator)
        press_and_wait_gone(page, "a")
        press_and_wait_gone(page, "a")
        for _ in range(PER_PAGE - 3):
            page.keyboard.press("j")
        assert focused_id(page) == ids[PER_PAGE - 1]
        # Two comments left page 1, so the next two moved up onto it: that is where to go on.
        page.keyboard.press("j")
        expect(page.locator(f'.item[data-id="{ids[PER_PAGE]}"]')).to_have_count(1)
        assert focused_id(page) == ids[PER_PAGE]

    def test_a_number_key_rejects_with_that_reason_as_help_lists(
        self, page: Page, live_server: str, settings: Settings, source_id: str, moderator: Account
    ) -> None:
        ids = flagged(settings, source_id, 3)
        sign_in(page, live_server, moderator)
        page.keyboard.press("?")
        codes = list(REJECT_REASONS)
        help_keys = page.locator("#help .keys")
        for n, code in enumerate(codes, start=1):
            expect(help_keys).to_contain_text(f"{n}reject: {REJECT_REASONS[code]}")
        page.keyboard.press("Escape")
        threat = codes.index("threat") + 1
        spam = codes.index("spam") + 1
        press_and_wait_gone(page, str(threat))
        press_and_wait_gone(page, str(spam))
        assert latest(settings, ids[0]) == ("rejected", "threat")
        assert latest(settings, ids[1]) == ("rejected", "spam")

    def test_the_approved_tab_offers_no_approve(
        self,
        page: Page,
        live_server: str,
        settings: Settings,
        source_id: str,
        moderator: Account,
        problems: list[str],
    ) -> None:
        flagged(settings, source_id, 2, status=Status.APPROVED)
        sign_in(page, live_server, moderator)
        page.goto(f"{live_server}/moderate?status=approved")
        expect(page.locator(".item")).to_have_count(2)
        expect(page.get_by_role("button", name="Approve", exact=False)).to_have_count(0)
        expect(page.get_by_role("button", name="Reject selected")).to_have_count(1)
        before = decision_count(settings)
        page.keyboard.press("a")
        expect(page.locator("#toast")).to_contain_text("Already approved.")
        expect(page.locator(".item")).to_have_count(2)
        assert decision_count(settings) == before
        assert problems == []

    @pytest.mark.parametrize("width", [1280, 390])
    def test_a_long_queue_opens_in_compact_cards_and_d_switches(
        self,
        page: Page,
        live_server: str,
        settings: Settings,
        source_id: str,
        moderator: Account,
        artifacts: Path,
        width: int,
    ) -> None:
        flagged(settings, source_id, PER_PAGE + 5)
        page.set_viewport_size({"width": width, "height": 900})
        sign_in(page, live_server, moderator)
        expect(page.locator(".items")).to_have_attribute("data-density", "compact")
        compact = cards_in_view(page)
        page.screenshot(path=str(artifacts / f"queue-compact-{width}.png"))
        page.keyboard.press("d")
        expect(page.locator(".items")).to_have_attribute("data-density", "comfortable")
        comfortable = cards_in_view(page)
        assert compact > comfortable, (compact, comfortable)
        if width == 1280:
            assert compact >= 8, f"only {compact} compact cards fit a 900 px window"
            assert comfortable <= 5, comfortable
        # The choice is kept for the next visit.
        page.reload()
        expect(page.locator(".items")).to_have_attribute("data-density", "comfortable")

    @pytest.mark.parametrize("width", [1280, 390])
    def test_a_whole_page_action_asks_first_and_its_undo_survives_the_reload(
        self,
        page: Page,
        live_server: str,
        settings: Settings,
        source_id: str,
        moderator: Account,
        problems: list[str],
        artifacts: Path,
        width: int,
    ) -> None:
        ids = flagged(settings, source_id, 3)
        page.set_viewport_size({"width": width, "height": 844})
        sign_in(page, live_server, moderator)
        confirm = page.locator("#confirm")

        page.get_by_role("button", name="Approve page").click()
        expect(confirm).to_be_visible()
        expect(confirm).to_contain_text("Approve all 3 comments on this page?")
        page.screenshot(path=str(artifacts / f"queue-confirm-{width}.png"))
        confirm.get_by_role("button", name="Cancel").click()
        expect(confirm).to_be_hidden()
        assert statuses(settings, ids) == ["flagged"] * 3

        page.get_by_role("button", name="Approve page").click()
        confirm.get_by_role("button", name="Approve 3 comments").click()
        # The cleared page reloads; the toast and its undo are still there afterwards.
        expect(page.locator(".empty")).to_contain_text("The queue is clear.")
        assert statuses(settings, ids) == ["approved"] * 3
        expect(page.locator("#toast")).to_contain_text("Approved 3 comments.")
        expect(page.locator("#toast .toast-undo")).to_be_visible()
        page.keyboard.press("u")
        expect(page.locator(".item")).to_have_count(3)
        assert statuses(settings, ids) == ["flagged"] * 3
        assert problems == []

    def test_cards_name_their_source_and_a_thread_filter_keeps_to_one_source(
        self,
        page: Page,
        live_server: str,
        settings: Settings,
        source_id: str,
        moderator: Account,
        artifacts: Path,
    ) -> None:
        with session_scope(settings) as session:
            other = create_source(session, "Evening Post").source.id
        daily = flagged(settings, source_id, 2, thread="article-3")
        evening = flagged(settings, other, 1, thread="article-3")
        sign_in(page, live_server, moderator)
        for comment_id in daily:
            card = page.locator(f'.item[data-id="{comment_id}"]')
            expect(card.locator(".source")).to_have_text("Daily News")
        card = page.locator(f'.item[data-id="{evening[0]}"]')
        expect(card.locator(".source")).to_have_text("Evening Post")
        page.screenshot(path=str(artifacts / "queue-sources-1280.png"))

        page.goto(f"{live_server}/moderate?source={other}&thread=article-3")
        expect(page.locator(".item")).to_have_count(1)
        expect(page.locator(f'.item[data-id="{evening[0]}"]')).to_have_count(1)
        # The card's own link filters by its thread within its source.
        page.goto(f"{live_server}/moderate")
        link = page.locator(f'.item[data-id="{daily[0]}"] .thread-filter')
        page.locator(f'.item[data-id="{daily[0]}"]').click()
        link.click()
        expect(page.locator(".item")).to_have_count(2)
        assert {page.locator(".item").nth(n).get_attribute("data-id") for n in range(2)} == set(
            daily
        )


class TestWorkingTogether:
    def test_undo_works_from_a_new_tab_within_the_window(
        self, page: Page, live_server: str, settings: Settings, source_id: str, moderator: Account
    ) -> None:
        ids = flagged(settings, source_id, 2)
        sign_in(page, live_server, moderator)
        press_and_wait_gone(page, "a")
        assert statuses(settings, ids[:1]) == ["approved"]
        # A new tab keeps nothing of the first one: the server knows the last action.
        second = page.context.new_page()
        second.goto(f"{live_server}/moderate")
        expect(second.locator("#toast")).to_contain_text("can still be undone")
        second.keyboard.press("u")
        expect(second.locator(f'.item[data-id="{ids[0]}"]')).to_have_count(1)
        assert statuses(settings, ids[:1]) == ["flagged"]

    def test_a_note_and_who_holds_what_reach_a_colleague(
        self,
        browser: Browser,
        page: Page,
        live_server: str,
        settings: Settings,
        source_id: str,
        moderator: Account,
        artifacts: Path,
    ) -> None:
        ids = flagged(settings, source_id, 3)
        colleague = make_account(settings, "moderator", email="colleague@example.org")
        sign_in(page, live_server, moderator)
        assert focused_id(page) == ids[0]
        page.keyboard.press("n")
        page.keyboard.type("Asked the author for a source; decide after 5 pm.")
        page.keyboard.press("Enter")
        notes = page.locator(f'.item[data-id="{ids[0]}"] .notes')
        expect(notes).to_contain_text("mod@example.org: Asked the author for a source")
        page.locator(f'.item[data-id="{ids[0]}"]').focus()
        page.keyboard.press("j")  # moving on gives the first comment back, holds the second
        assert focused_id(page) == ids[1]

        context = browser.new_context(viewport={"width": 390, "height": 844})
        other = context.new_page()
        try:
            sign_in(other, live_server, colleague)
            expect(other.locator("#presence")).to_contain_text("mod@example.org (holds 1)")
            card = other.locator(f'.item[data-id="{ids[0]}"]')
            expect(card.locator(".notes")).to_contain_text("Asked the author for a source")
            expect(other.locator(f'.item[data-id="{ids[1]}"]')).to_have_count(0)
            other.screenshot(path=str(artifacts / "queue-note-presence-390.png"), full_page=True)
        finally:
            context.close()
        # Back on the first screen, the colleague shows up within a refresh of presence.
        page.reload()
        expect(page.locator("#presence")).to_contain_text("colleague@example.org")
        page.screenshot(path=str(artifacts / "queue-note-presence-1280.png"))
