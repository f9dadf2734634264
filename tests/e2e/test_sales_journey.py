"""A rep's day in a real browser: queue, most urgent lead, follow-up on the timeline in place."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from alignment.accounts.roles import Role
from alignment.models import StageKey
from leads.models import FollowUp
from leads.services.follow_ups import follow_up_log
from leads.services.sla import sla_breaches_check
from metrics.models import TerritoryMember
from tests.e2e.conftest import screenshot
from tests.factories import TerritoryFactory, UserFactory
from tests.leads.conftest import make_lead

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-for-tests"


@pytest.fixture
def sales_floor(active_agreement):
    manager = UserFactory(username="boss-sales", role=Role.SALES_MANAGER, first_name="Sam")
    territory = TerritoryFactory(code="emea", name="EMEA", is_default=True, manager=manager)
    rep = UserFactory(username="rina", role=Role.SALES_REP, first_name="Rina", last_name="W")
    rep2 = UserFactory(username="piotr", role=Role.SALES_REP, first_name="Piotr", last_name="N")
    for user in (rep, rep2):
        TerritoryMember.objects.create(territory=territory, user=user)
    now = timezone.now()
    make_lead(
        email="calm@nordlicht.de",
        stage=StageKey.SAL,
        owner=rep,
        first_name="Calm",
        last_name="Kowalski",
        company="Nordlicht GmbH",
    )
    urgent = make_lead(
        email="urgent@baltic.pl",
        stage=StageKey.MQL,
        owner=rep,
        first_name="Urgent",
        last_name="Santoso",
        company="Baltic Freight",
        at=now - timedelta(hours=27),
    )
    make_lead(
        email="soon@kopi.id",
        stage=StageKey.MQL,
        owner=rep,
        first_name="Soon",
        last_name="Tan",
        company="Kopi Nusantara",
        at=now - timedelta(hours=20),
    )
    late = make_lead(
        email="late@vistula.pl",
        stage=StageKey.MQL,
        owner=rep2,
        first_name="Late",
        last_name="Novak",
        company="Vistula Software",
        at=now - timedelta(hours=40),
    )
    follow_up_log(
        lead=late,
        author=rep2,
        kind="visit",
        outcome="completed",
        next_step="Visit the Gdańsk office",
        next_follow_up_at=now + timedelta(days=1),
    )
    sla_breaches_check()
    return {"rep": rep, "manager": manager, "urgent": urgent}


def test_a_rep_logs_a_follow_up_on_the_most_urgent_lead_without_a_reload(
    page, sales_floor, logged_in
):
    urgent = sales_floor["urgent"]
    logged_in(page, "rina", PASSWORD)
    page.get_by_role("navigation").get_by_role("link", name="My queue", exact=True).click()
    page.wait_for_url("**/leads/queue/")
    first_row = page.locator("table.queue tbody tr").first
    assert "Urgent Santoso" in first_row.inner_text()
    assert "overdue-row" in (first_row.get_attribute("class") or "")
    screenshot(page, "sales-queue")

    first_row.get_by_role("link", name="Urgent Santoso").click()
    page.wait_for_url(f"**/leads/{urgent.pk}/")
    expect(page.locator("#lead-clock .sla.overdue")).to_be_visible()
    # A marker on the window survives only if the page is not reloaded.
    page.evaluate("window.__stillHere = true")
    page.select_option("#id_kind", "call")
    page.select_option("#id_outcome", "meeting_booked")
    page.fill("#id_notes", "Spoke to Urgent: demo booked for Thursday")
    page.fill("#id_next_step", "Run the demo")
    page.get_by_role("button", name="Log follow-up").click()
    entry = page.locator("#follow-up-section .timeline li.tl-follow_up").first
    entry.wait_for()
    assert "Spoke to Urgent: demo booked for Thursday" in entry.inner_text()
    assert "Call: Meeting booked" in entry.inner_text()
    assert page.evaluate("window.__stillHere") is True
    expect(page.locator("text=Follow-up logged.")).to_be_visible()
    # The header's SLA clock stopped with it (swapped out of band).
    assert page.locator("#lead-clock .sla.overdue").count() == 0
    screenshot(page, "sales-lead-after-follow-up")
    assert FollowUp.objects.filter(lead=urgent, author=sales_floor["rep"]).count() == 1


def test_the_agenda_team_and_ledger_pages_render_in_a_browser(page, sales_floor, logged_in):
    logged_in(page, "piotr", PASSWORD)
    page.get_by_role("navigation").get_by_role("link", name="Agenda", exact=True).click()
    page.wait_for_url("**/leads/agenda/")
    expect(page.get_by_text("Visit the Gdańsk office")).to_be_visible()
    screenshot(page, "sales-agenda")
    page.click("text=Log out")
    logged_in(page, "boss-sales", PASSWORD)
    page.get_by_role("navigation").get_by_role("link", name="Team", exact=True).click()
    page.wait_for_url("**/leads/team/")
    expect(
        page.get_by_text("reps are behind").or_(page.get_by_text("rep is behind"))
    ).to_be_visible()
    screenshot(page, "sales-team")
    page.get_by_role("navigation").get_by_role("link", name="Ledger", exact=True).click()
    page.wait_for_url("**/leads/ledger/")
    expect(page.get_by_text("The team's SLA ledger")).to_be_visible()
    screenshot(page, "sales-ledger")
