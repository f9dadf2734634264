"""A Polish rep's visit in a real browser: the page, form errors, the timeline, a notification
and money all in Polish, with the deployment currency (PLN) grouped the Polish way."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone, translation
from playwright.sync_api import expect

from alignment.accounts.roles import Role
from alignment.feedback.services import intel_acknowledge, intel_submit
from alignment.models import StageKey, UserProfile
from leads.models import FollowUp
from leads.services.deals import deal_create
from metrics.models import TerritoryMember
from tests.e2e.conftest import screenshot
from tests.factories import TerritoryFactory, UserFactory
from tests.leads.conftest import make_lead

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-for-tests"


def spaced(text: str) -> str:
    """Polish groups thousands with a no-break space; compare what a reader sees."""
    return text.replace("\xa0", " ").replace("\u202f", " ")


@pytest.fixture
def polish_floor(settings, active_agreement):
    settings.ACCORD_CURRENCY = "PLN"
    manager = UserFactory(username="kierownik", role=Role.SALES_MANAGER)
    territory = TerritoryFactory(code="pl", name="Polska", is_default=True, manager=manager)
    rep = UserFactory(username="ola", role=Role.SALES_REP, first_name="Ola", last_name="Nowak")
    TerritoryMember.objects.create(territory=territory, user=rep)
    marketer = UserFactory(username="mark", role=Role.MARKETER, first_name="Mark")
    lead = make_lead(
        email="zakupy@wisla.pl",
        stage=StageKey.SQL,
        owner=rep,
        first_name="Jan",
        last_name="Wiśniewski",
        company="Wisła Logistyka",
    )
    deal_create(lead=lead, actor=rep, amount=Decimal("12500.00"), name="Wdrożenie Wisła")
    intel = intel_submit(author=rep, kind="pricing", text="Konkurent obniżył ceny o 15%", lead=lead)
    return {"rep": rep, "marketer": marketer, "lead": lead, "intel": intel}


def test_a_polish_rep_works_a_lead_in_polish_with_zloty_amounts(page, polish_floor, logged_in):
    rep, lead = polish_floor["rep"], polish_floor["lead"]
    # The browser asks for English; the rep chooses Polish in the header once.
    logged_in(page, "ola", PASSWORD)
    assert page.locator("html").get_attribute("lang") == "en"
    page.select_option("#lang-switch", "pl")
    expect(page.locator("html")).to_have_attribute("lang", "pl")
    assert UserProfile.objects.get(user=rep).language == "pl"
    screenshot(page, "polish-home")

    page.goto(f"/leads/{lead.pk}/")
    assert page.locator("html").get_attribute("lang") == "pl"
    expect(page.get_by_role("heading", name="Oś czasu")).to_be_visible()
    deal = page.locator(".deal").first
    assert "12 500,00 zł" in spaced(deal.inner_text())
    assert "W toku" in deal.inner_text()  # the deal's state, translated
    # The stage move the deal caused, stored by the service, reads in Polish too.
    assert page.locator("#follow-up-section .timeline").get_by_text("Otwarto transakcję.").count()

    # A follow-up dated in the future is refused, with the reason in Polish.
    form = page.locator("#follow-up-section form.follow-up-form")
    form.locator("#id_kind").select_option("call")
    form.locator("#id_outcome").select_option("meeting_booked")
    later = timezone.localtime() + timedelta(days=2)
    form.locator("#id_occurred_at").fill(later.strftime("%Y-%m-%dT%H:%M"))
    form.locator("#id_notes").fill("Rozmowa z Janem: demo w czwartek")
    form.get_by_role("button", name="Zarejestruj kontakt").click()
    error = page.locator("#follow-up-section .field-error").first
    error.wait_for()
    assert error.inner_text().strip() == "Kontakt nie może mieć daty z przyszłości."
    assert FollowUp.objects.filter(lead=lead).count() == 0
    screenshot(page, "polish-follow-up-error")

    # Corrected, it lands on the timeline in Polish.
    form = page.locator("#follow-up-section form.follow-up-form")
    form.locator("#id_occurred_at").fill("")
    form.get_by_role("button", name="Zarejestruj kontakt").click()
    page.get_by_text("Zarejestrowano kontakt.").wait_for()
    entry = page.locator("#follow-up-section .timeline li.tl-follow_up").first
    assert "Rozmowa z Janem: demo w czwartek" in entry.inner_text()
    assert "Rozmowa telefoniczna: Umówiono spotkanie" in entry.inner_text()
    # When, in the one Polish date format (config/locale_formats/pl): 6 Gru 2026, 16:40.
    assert re.fullmatch(r"\d{1,2} \w{3} \d{4}, \d{2}:\d{2}", entry.locator("time").inner_text())
    assert FollowUp.objects.filter(lead=lead, author=rep).count() == 1
    screenshot(page, "polish-follow-up-logged")

    # Marketing answers her intelligence while working in English; she reads it in Polish.
    with translation.override("en"):
        intel_acknowledge(
            intel=polish_floor["intel"], user=polish_floor["marketer"], response="Thanks, noted"
        )
    page.goto("/")
    page.locator("#unread-badge").click()
    page.wait_for_url("**/feedback/notifications/")
    expect(page.get_by_role("heading", name="Powiadomienia").first).to_be_visible()
    notice = "Marketing potwierdził przyjęcie twoich informacji z rynku"
    expect(page.get_by_text(notice)).to_be_visible()
    screenshot(page, "polish-notifications")
