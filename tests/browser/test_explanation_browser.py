"""Why, for the moderator, in real Chromium: a flagged card lists per label the words that pushed
its score up with their weights (escaped), at desktop and phone widths."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from core.settings import Settings
from tests.browser.review_pages import sign_in
from tests.service.review_support import (
    XSS_BODY,
    Account,
    add_comment,
    explain_with_shipped_model,
)

pytestmark = pytest.mark.browser


class TestExplanationOnTheCard:
    @pytest.mark.parametrize("width", [1280, 390])
    def test_flagged_card_shows_the_words_and_weights_per_label(
        self,
        page: Page,
        live_server: str,
        settings: Settings,
        source_id: str,
        moderator: Account,
        artifacts: Path,
        problems: list[str],
        width: int,
    ) -> None:
        body = f"{XSS_BODY} You are a stupid idiot, go back to your country."
        explained = add_comment(settings, source_id, body=body, author="Angry Reader")
        stored = explain_with_shipped_model(settings, explained)
        plain = add_comment(settings, source_id, body="A card without an explanation.")
        page.set_viewport_size({"width": width, "height": 900})
        sign_in(page, live_server, moderator)

        card = page.locator(f'.item[data-id="{explained}"]')
        toxic = card.locator('.why-label[data-label="toxic"]')
        expect(toxic).to_be_visible()
        words = toxic.locator(".why-word").all_inner_texts()
        weights = [float(w.lstrip("+")) for w in toxic.locator(".num").all_inner_texts()]
        heaviest = [body[s:e] for s, e, _ in stored["toxic"][: len(words)]]
        assert words == heaviest and {"idiot", "stupid"} <= set(words[:3]), words
        assert weights == sorted(weights, reverse=True) and weights[-1] > 0
        assert weights[0] == pytest.approx(stored["toxic"][0][2], abs=0.005)
        assert len(words) <= 5
        # The comment's markup is shown as text, never run, in the body and in the words.
        assert page.evaluate("() => window.__xss") is None
        expect(page.locator(f'.item[data-id="{plain}"] .why')).to_have_count(0)
        box = toxic.bounding_box()
        assert box is not None and box["x"] + box["width"] <= width
        card.scroll_into_view_if_needed()
        card.screenshot(path=str(artifacts / f"queue-why-{width}.png"))
        assert problems == []
