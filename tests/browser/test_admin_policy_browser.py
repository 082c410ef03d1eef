"""The admin policy page in a real browser: thresholds from a target (shown, refused, saved)
and the drift chart with its banner."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect

from bench._history import seed_history
from core.db import session_scope
from core.policies import policy_versions
from core.settings import Settings
from core.sources import get_source
from core.store import create_source
from core.tables import ScoreReference, Source
from core.thresholds import live_model_thresholds
from core.whatif import proposed_policy
from tests.browser.review_pages import sign_in
from tests.service.review_support import make_account

pytestmark = pytest.mark.browser

HOSTILE_NAME = '<img src=x onerror="window.pwned=1">Planet'


def seeded_source(settings: Settings, name: str = "Daily Planet") -> str:
    """A source with 800 scored, decided comments over 30 days (some moderated)."""
    with session_scope(settings) as session:
        source_id = create_source(session, name).source.id
        policy = proposed_policy(get_source(session, source_id), live_model_thresholds(settings))
        seed_history(session, source_id, policy, 800, now=datetime.now(UTC), seed=5)
    return source_id


def open_policy_page(page: Page, live_server: str, settings: Settings, source_id: str) -> None:
    admin = make_account(settings, "admin", email="admin@example.org")
    sign_in(page, live_server, admin, f"/admin/sources/{source_id}/policy")


class TestSuggestOnThePolicyPage:
    def test_a_capacity_shows_thresholds_and_what_if_and_saves_them(
        self, page: Page, live_server: str, settings: Settings
    ) -> None:
        source_id = seeded_source(settings)
        open_policy_page(page, live_server, settings, source_id)
        form = page.locator("#suggest form").first
        form.get_by_label("Label").select_option("toxic")
        form.get_by_label("Review capacity: flagged comments a day").check()
        form.get_by_label("Value").fill("2")
        form.get_by_role("button", name="Suggest thresholds").click()

        suggestion = page.locator("#suggestion")
        expect(suggestion).to_be_visible()
        flag = float(suggestion.locator("#suggested-flag").inner_text())
        expect(suggestion).to_contain_text("flag capacity 2")
        flagged = int(
            suggestion.locator("#suggest-what-if tbody tr").nth(1).locator("td").nth(2).inner_text()
        )
        assert flagged <= 2 * 30

        suggestion.get_by_role("button", name="Save these thresholds").click()
        expect(page.locator(".flash")).to_contain_text(
            "Saved the suggested toxic thresholds as version 2"
        )
        with session_scope(settings) as session:
            source = session.get(Source, source_id)
            assert source is not None
            assert source.thresholds["toxic"]["flag"] == flag
            latest = policy_versions(session, source_id)[-1]
            assert (latest.version, latest.changed_by) == (2, "admin@example.org")
            assert latest.reason == "policy suggest: toxic for a capacity of 2 flagged a day"

    def test_too_few_labels_is_refused_readably_and_escaped(
        self, page: Page, live_server: str, settings: Settings
    ) -> None:
        source_id = seeded_source(settings, HOSTILE_NAME)
        open_policy_page(page, live_server, settings, source_id)
        form = page.locator("#suggest form").first
        form.get_by_label("Label").select_option("threat")
        form.get_by_label("Precision of automatic rejection, in (0, 1]").check()
        form.get_by_label("Value").fill("0.95")
        form.get_by_label("Days").fill("2")
        form.get_by_role("button", name="Suggest thresholds").click()

        refused = page.locator("#suggest-refused")
        expect(refused).to_be_visible()
        expect(refused).to_contain_text("more are needed to judge a precision")
        # The source's name is in the message, as text: no element made of it, nothing ran.
        expect(refused).to_contain_text(HOSTILE_NAME)
        assert refused.locator("img").count() == 0
        assert page.evaluate("window.pwned") is None
        expect(page.locator("#suggestion")).to_have_count(0)
        with session_scope(settings) as session:
            assert len(policy_versions(session, source_id)) == 1


class TestDriftChart:
    def test_the_chart_plots_psi_and_override_rate_with_the_banner_on_alert(
        self, page: Page, live_server: str, settings: Settings
    ) -> None:
        source_id = seeded_source(settings)
        now = datetime.now(UTC)
        with session_scope(settings) as session:
            # A reference the seeded toxic scores (mostly below 0.5) are far from: PSI > 0.2.
            session.add(
                ScoreReference(
                    source_id=source_id,
                    label="toxic",
                    edges=[0.0, 0.5, 1.0],
                    fractions=[0.5, 0.5],
                    count=1000,
                    period_start=now - timedelta(days=90),
                    period_end=now - timedelta(days=60),
                )
            )
        open_policy_page(page, live_server, settings, source_id)

        expect(page.get_by_role("alert").first).to_contain_text("the scores of toxic moved")
        chart = page.locator("#drift-chart svg")
        expect(chart).to_be_visible()
        assert chart.bounding_box()["width"] > 300  # type: ignore[index]
        expect(page.locator("#drift-chart #psi-toxic")).to_have_count(1)
        # No reference for the other labels: nothing drawn for them.
        expect(page.locator("#drift-chart #psi-spam")).to_have_count(0)
        expect(page.locator("#drift-chart #override-rate")).to_have_count(1)
        expect(page.locator("#drift-chart #override-mean")).to_have_count(1)
        expect(chart).to_contain_text("Score drift per label")
        expect(page.locator("#drift-chart figcaption")).to_contain_text("30-day mean")
