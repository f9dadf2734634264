"""On a phone (390x844): a rep logs a visit with a next step for tomorrow on the lead page
and finds it on tomorrow's agenda, with no sideways scroll."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from django.utils import timezone
from django.utils.formats import date_format
from playwright.sync_api import expect

from alignment.accounts.roles import Role
from alignment.models import StageKey
from metrics.models import TerritoryMember
from tests.e2e.conftest import screenshot
from tests.factories import TerritoryFactory, UserFactory
from tests.leads.conftest import make_lead

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_visit_planned_for_tomorrow_is_on_tomorrows_agenda(
    browser, live_server, logged_in, active_agreement
):
    manager = UserFactory(username="boss-sales", role=Role.SALES_MANAGER)
    territory = TerritoryFactory(code="emea", name="EMEA", is_default=True, manager=manager)
    rep = UserFactory(username="rina", role=Role.SALES_REP, first_name="Rina", last_name="W")
    TerritoryMember.objects.create(territory=territory, user=rep)
    lead = make_lead(
        email="plant@baltic.pl",
        stage=StageKey.SAL,
        owner=rep,
        first_name="Ola",
        last_name="Nowak",
        company="Baltic Freight",
    )
    tomorrow = timezone.localdate() + timedelta(days=1)
    context = browser.new_context(base_url=live_server.url, viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        logged_in(page, rep)
        page.goto(f"/leads/{lead.pk}/")
        page.select_option("#id_kind", "visit")
        page.select_option("#id_outcome", "completed")
        page.fill("#id_next_step", "Walk the loading docks")
        page.fill(
            "#id_next_follow_up_at",
            datetime.combine(tomorrow, time(10, 30)).strftime("%Y-%m-%dT%H:%M"),
        )
        page.get_by_role("button", name="Log follow-up").click()
        expect(page.locator("text=Follow-up logged.")).to_be_visible()

        page.goto("/leads/agenda/")
        day = page.locator(".agenda-day", has_text=date_format(tomorrow, "DATE_FORMAT"))
        expect(day.get_by_text("Walk the loading docks")).to_be_visible()
        expect(day.get_by_text("Baltic Freight")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        screenshot(page, "agenda-phone-tomorrow")
    finally:
        context.close()
