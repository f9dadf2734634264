"""On a phone (390x844): a rep logs a visit with a next step for tomorrow on the lead page
and finds it on tomorrow's agenda, with no sideways scroll."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from django.utils import timezone
from django.utils.formats import date_format
from icalendar import Calendar
from playwright.sync_api import expect

from alignment.accounts.roles import Role
from alignment.models import StageKey
from leads.models import Lead
from metrics.models import TerritoryMember
from tests.e2e.conftest import screenshot
from tests.factories import CampaignFactory, TerritoryFactory, UserFactory
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


def test_a_rep_on_a_phone_creates_a_lead_met_at_an_event_and_plans_a_visit(
    browser, live_server, logged_in, active_agreement
):
    """The field rep's day end to end at 390x844: New lead (met at a trade fair, theirs at
    once), a visit logged with tomorrow's next step, the step on tomorrow's agenda, and
    the private calendar feed, fetched with no session, holding it as a VEVENT."""
    manager = UserFactory(username="boss-sales", role=Role.SALES_MANAGER)
    territory = TerritoryFactory(code="emea", name="EMEA", is_default=True, manager=manager)
    rep = UserFactory(username="rina", role=Role.SALES_REP, first_name="Rina", last_name="W")
    TerritoryMember.objects.create(territory=territory, user=rep)
    fair = CampaignFactory(name="LogiMAT Poznań")
    tomorrow = timezone.localdate() + timedelta(days=1)
    context = browser.new_context(base_url=live_server.url, viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        logged_in(page, rep)
        page.goto("/leads/agenda/")
        page.get_by_role("link", name="New lead").click()
        page.fill("#id_first_name", "Jan")
        page.fill("#id_last_name", "Kowalski")
        page.fill("#id_email", "jan@kowalski-trans.pl")
        page.fill("#id_phone", "+48 601 200 300")
        page.fill("#id_company", "Kowalski Trans")
        page.fill("#id_country", "PL")
        page.select_option("#id_source", "event")
        page.select_option("#id_campaign", str(fair.pk))
        expect(page.locator("#id_claim")).to_be_checked()
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        screenshot(page, "new-lead-phone")
        page.get_by_role("button", name="Create lead").click()
        expect(page.locator("text=is in Accord.")).to_be_visible()
        lead = Lead.objects.get(email="jan@kowalski-trans.pl")
        assert (lead.owner_id, lead.campaign_id) == (rep.pk, fair.pk)

        # On the lead's first screen: call, e-mail, and the follow-up form.
        expect(page.locator('a[href^="tel:"]').first).to_be_in_viewport()
        page.select_option("#id_kind", "visit")
        page.select_option("#id_outcome", "completed")
        page.fill("#id_next_step", "Demo at the Kowalski depot")
        page.fill(
            "#id_next_follow_up_at",
            datetime.combine(tomorrow, time(9, 0)).strftime("%Y-%m-%dT%H:%M"),
        )
        page.get_by_role("button", name="Log follow-up").click()
        expect(page.locator("text=Follow-up logged.")).to_be_visible()

        page.goto("/leads/agenda/")
        day = page.locator(".agenda-day", has_text=date_format(tomorrow, "DATE_FORMAT"))
        expect(day.get_by_text("Demo at the Kowalski depot")).to_be_visible()
        page.get_by_role("button", name="Make my calendar link").click()
        feed_url = page.locator("input.feed-url").input_value()
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
    finally:
        context.close()

    outsider = browser.new_context()  # no session: the secret URL alone opens the feed
    try:
        answer = outsider.request.get(feed_url)
        assert answer.status == 200
        calendar = Calendar.from_ical(answer.body())
        events = [
            e for e in calendar.walk("VEVENT") if "Kowalski depot" in str(e.get("DESCRIPTION"))
        ]
        assert len(events) == 1
        assert "Kowalski Trans" in str(events[0]["SUMMARY"])
        assert timezone.localtime(events[0].decoded("DTSTART")).date() == tomorrow
    finally:
        outsider.close()
