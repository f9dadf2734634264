"""In a real browser: a rep sends intelligence from a lead page, the marketer acknowledges
it with a response, the rep sees the response and the unread count; an executive resolves
a dispute."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from alignment.accounts.roles import Role
from alignment.feedback.services import battlecard_save, dispute_raise
from alignment.models import Dispute, DisputeStatus, FieldIntel, IntelStatus
from tests.e2e.conftest import logout, screenshot
from tests.factories import CampaignFactory, LeadFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-for-tests"


def test_intel_from_a_lead_page_is_answered_and_the_rep_sees_the_response(page, logged_in):
    rep = UserFactory(username="rina", first_name="Rina", last_name="Rep", role=Role.SALES_REP)
    marketer = UserFactory(username="maya", first_name="Maya", role=Role.MARKETER)
    lead = LeadFactory(
        first_name="Ada", last_name="Byte", company="Bytewise", owner=rep,
        campaign=CampaignFactory(owner=marketer),
    )  # fmt: skip
    battlecard_save(
        user=marketer,
        competitor_name="Rivalix",
        differentiators="One funnel both teams signed",
        objections=[("Rivalix is cheaper", "Count the hours lost to lead blame")],
    )

    # The rep sends what they heard, from the lead page; htmx swaps the panel in place.
    logged_in(page, "rina", PASSWORD)
    page.goto(f"/leads/{lead.pk}/")
    page.click("text=Send intelligence to marketing")
    page.select_option("#intel-form select[name=kind]", "competitor")
    page.fill("#intel-form textarea[name=text]", "They are comparing us with Rivalix on price.")
    page.select_option("#intel-form select[name=competitor]", label="Rivalix")
    with page.expect_response(lambda r: "/feedback/intel/new/" in r.url):
        page.click("#intel-form button[type=submit]")
    page.wait_for_selector("text=Sent to marketing")
    assert page.url.endswith(f"/leads/{lead.pk}/")
    assert page.locator("#lead-intel").inner_text().count("comparing us with Rivalix") == 1
    # The competitor is now recorded on the lead, so its battlecard shows there.
    page.reload()
    expect(page.get_by_text("Battlecard: Rivalix")).to_be_visible()
    expect(page.get_by_text("Count the hours lost to lead blame").first).to_be_visible()
    screenshot(page, "feedback-lead-panel-after-submit")
    intel = FieldIntel.objects.get()
    logout(page)

    # The marketer finds it in the inbox and acknowledges it with a response.
    logged_in(page, "maya", PASSWORD)
    expect(page.locator("#unread-badge .count")).to_have_text("1")
    page.click("nav >> text=Intel inbox")
    page.wait_for_url("**/feedback/intel/")
    screenshot(page, "feedback-intel-inbox")
    page.click("text=They are comparing us with Rivalix")
    page.wait_for_url(f"**/feedback/intel/{intel.pk}/")
    page.fill(
        "#acknowledge-form textarea[name=response]", "Thanks! Price sheet vs Rivalix by Friday."
    )
    page.click("#acknowledge-form button[type=submit]")
    page.wait_for_selector("text=Acknowledged; the rep has been told.")
    screenshot(page, "feedback-intel-acknowledged")
    intel.refresh_from_db()
    assert intel.status == IntelStatus.ACKNOWLEDGED and intel.acknowledged_at is not None
    logout(page)

    # The rep sees the unread count, the response on the lead page and in notifications.
    logged_in(page, "rina", PASSWORD)
    expect(page.locator("#unread-badge .count")).to_have_text("1")
    page.goto(f"/leads/{lead.pk}/")
    expect(page.get_by_text("Price sheet vs Rivalix by Friday.").first).to_be_visible()
    page.click("#unread-badge")
    page.wait_for_url("**/feedback/notifications/")
    expect(page.get_by_text("Marketing acknowledged your intelligence")).to_be_visible()
    screenshot(page, "feedback-rep-notifications")
    with page.expect_response(lambda r: "/read/" in r.url):
        page.click("button.mark-read")
    # Not wait_for_function: its string predicates are eval'd, which the CSP refuses once
    # the first check fails (it passed only when the badge was already updated).
    expect(page.locator("#unread-badge .count")).to_have_text("0")
    assert page.locator("button.mark-read").count() == 0
    assert page.url.endswith("/feedback/notifications/")  # updated in place


def test_an_executive_resolves_a_dispute_and_others_see_no_resolve_form(page, logged_in):
    rep = UserFactory(username="rina", role=Role.SALES_REP)
    marketer = UserFactory(username="maya", role=Role.MARKETER)
    UserFactory(username="evelyn", first_name="Evelyn", role=Role.EXECUTIVE)
    lead = LeadFactory(first_name="Bo", last_name="Quinn", owner=rep)
    dispute = dispute_raise(
        user=marketer,
        lead=lead,
        kind="rejection",
        reason="Rejected as no budget, yet they asked for a quote.",
    )
    logged_in(page, "rina", PASSWORD)
    page.goto(f"/feedback/disputes/{dispute.pk}/")
    assert page.locator("#resolve-form").count() == 0
    logout(page)
    logged_in(page, "evelyn", PASSWORD)
    page.click("nav >> text=Disputes")
    page.wait_for_url("**/feedback/disputes/")
    screenshot(page, "feedback-dispute-list")
    page.click('table a:has-text("Rejection contested")')
    page.select_option("#resolve-form select[name=decision]", "for_marketing")
    page.fill("#resolve-form textarea[name=resolution_note]", "A quote request is budget intent.")
    page.click("#resolve-form button[type=submit]")
    page.click("dialog.confirm [data-confirm-yes]")  # it names the consequence first
    page.wait_for_selector("text=Dispute resolved; both sides have been told.")
    screenshot(page, "feedback-dispute-resolved")
    dispute.refresh_from_db()
    assert dispute.status == DisputeStatus.RESOLVED
    assert Dispute.objects.get().resolved_at is not None


def test_marketing_writes_a_battlecard_and_a_rep_chooses_email_events(page, logged_in):
    UserFactory(username="rina", role=Role.SALES_REP)
    UserFactory(username="maya", role=Role.MARKETER)
    logged_in(page, "maya", PASSWORD)
    page.click("nav >> text=Battlecards")
    page.click("text=New battlecard")
    page.fill("input[name=competitor_name]", "PipeLane")
    page.fill("input[name=website]", "https://pipelane.example")
    page.fill("textarea[name=differentiators]", "SLA clock on every MQL\nDisputes with an arbiter")
    page.fill("textarea[name=table_stakes]", "Email campaigns, landing pages")
    page.fill("input[name=objections-0-objection]", "PipeLane scores leads too")
    page.fill("textarea[name=objections-0-answer]", "Ours are agreed by both teams and backtested.")
    screenshot(page, "feedback-battlecard-edit")
    page.click("text=Save the battlecard")
    page.wait_for_selector("text=Battlecard saved.")
    screenshot(page, "feedback-battlecard-detail")
    logout(page)
    logged_in(page, "rina", PASSWORD)
    page.goto("/feedback/battlecards/")
    expect(page.get_by_text("PipeLane")).to_be_visible()
    assert page.locator("text=New battlecard").count() == 0
    screenshot(page, "feedback-battlecard-list")
    page.goto("/feedback/notifications/preferences/")
    page.check("input[value='intel.responded']")
    page.click("#preferences-form button[type=submit]")
    page.wait_for_selector("text=Your email preferences are saved.")
    assert page.is_checked("input[value='intel.responded']")
    screenshot(page, "feedback-notification-preferences")
