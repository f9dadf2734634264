"""In a real browser: the campaign list and page, a rep's acknowledgment, a confirmed launch."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from campaigns.models import Campaign
from config.demo import demo_seed
from leads.models import Lead
from tests.e2e.conftest import logout, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_campaign_pages_acknowledge_and_launch_in_a_browser(page, logged_in):
    demo_seed(lead_count=120, scorecard_weeks=1)
    logged_in(page, "marketer")
    page.goto("/campaigns/")
    assert page.locator("#campaign-kpis tbody tr").count() == Campaign.objects.count()
    screenshot(page, "campaign-list")

    # A marketer creates a campaign: a form error first, then a valid one.
    page.click("text=New campaign")
    page.fill("#id_name", "Autumn roadshow")
    page.select_option("#id_channel", "event")
    page.fill("#id_starts_on", "2026-10-01")
    page.fill("#id_ends_on", "2026-09-01")
    page.fill("#id_budget", "3000")
    page.check("text=EMEA")
    page.click("button.primary")
    screenshot(page, "campaign-form-error")
    expect(page.locator(".field-error").first).to_be_visible()
    page.fill("#id_ends_on", "2026-10-31")
    page.click("button.primary")
    page.wait_for_url("**/campaigns/*/")
    campaign = Campaign.objects.get(name="Autumn roadshow")
    page.fill("#id_body", "Roadshow in Warsaw and Berlin: expect visitors from logistics firms.")
    page.click("text=Save briefing")
    page.wait_for_load_state()
    logout(page)

    # The EMEA rep reads the briefing; readiness moves to 1 of 1.
    logged_in(page, "rep")
    page.goto(f"/campaigns/{campaign.pk}/")
    page.click("text=I have read the briefing")
    page.wait_for_load_state()
    assert "1 / 1" in page.locator("#readiness").inner_text()
    logout(page)

    # The marketer launches: ready, so no confirmation is asked.
    logged_in(page, "marketer")
    page.goto(f"/campaigns/{campaign.pk}/")
    page.click("text=Launch campaign")
    page.wait_for_load_state()
    campaign.refresh_from_db()
    assert campaign.launched_at is not None and not campaign.launched_below_readiness

    # A demo campaign nobody acknowledged: launching asks for confirmation first.
    other = Campaign.objects.create(
        name="Spring promo",
        channel="display",
        starts_on=campaign.starts_on,
        budget=500,
        owner=campaign.owner,
    )
    other.target_territories.set(campaign.target_territories.all())
    page.goto(f"/campaigns/{other.pk}/")
    page.click("text=Launch campaign")
    expect(page.get_by_text("Confirm to launch anyway")).to_be_visible()
    page.check("#launch-form input[name=confirm]")
    page.click("text=Launch campaign")
    page.wait_for_load_state()
    other.refresh_from_db()
    assert other.launched_below_readiness

    # The busiest demo campaign: KPIs, funnel, chart, rejections, collateral, readiness.
    busiest = max(Campaign.objects.all(), key=lambda c: c.first_touch_leads.count())
    page.goto(f"/campaigns/{busiest.pk}/")
    expect(page.locator("#spend-vs-revenue svg")).to_be_visible()
    screenshot(page, "campaign-page")

    lead = Lead.objects.filter(campaign=busiest).order_by("pk").first()
    page.goto(f"/leads/{lead.pk}/")
    expect(page.locator("#lead-collateral")).to_be_visible()
    screenshot(page, "lead-collateral-panel")
