"""In a real browser: a sales manager puts a rep on holiday and reorders the territory, and
the next MQLs follow; a rep on a phone sees what waits on them, overdue first, and is
offered no claim on another territory's lead."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from playwright.sync_api import expect

from alignment.accounts.roles import Role
from alignment.models import StageKey
from leads.models import Lead
from leads.services import lead_create
from leads.services.assignment import lead_assign_round_robin
from metrics.models import TerritoryChange, TerritoryCountry, TerritoryMember
from tests.e2e.conftest import screenshot
from tests.factories import TerritoryFactory, UserFactory
from tests.leads.conftest import make_lead

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _overflows(page) -> bool:
    return page.evaluate(
        "document.documentElement.scrollWidth > document.documentElement.clientWidth + 1"
    )


def test_a_manager_sends_a_rep_on_holiday_and_round_robin_follows(
    page, active_agreement, sales_manager, logged_in
):
    emea = TerritoryFactory(code="emea", name="EMEA", is_default=True, manager=sales_manager)
    TerritoryCountry.objects.create(territory=emea, country="PL")
    ana, ben = (
        UserFactory(username=n.lower(), first_name=n, last_name="Rep", role=Role.SALES_REP)
        for n in ("Ana", "Ben")
    )
    for position, rep in enumerate((ana, ben), 1):
        TerritoryMember.objects.create(territory=emea, user=rep, position=position)

    page.set_viewport_size({"width": 390, "height": 844})
    logged_in(page, sales_manager)
    page.goto("/territories/")
    page.get_by_role("link", name="Edit").first.click()
    page.wait_for_url("**/edit/")
    assert not _overflows(page)
    page.select_option(f"select[name=m{ana.pk}_availability]", "away")
    page.fill(f"input[name=m{ana.pk}_position]", "2")
    page.fill(f"input[name=m{ben.pk}_position]", "1")
    page.click("form button.primary")
    expect(page.get_by_text("EMEA is saved.")).to_be_visible()
    screenshot(page, "territory-saved-390")
    assert TerritoryChange.objects.filter(territory=emea, actor=sales_manager).count() == 1

    owners = []
    for n in range(2):
        with transaction.atomic():  # the territory row is locked while the turn passes
            lead = lead_create(data={"email": f"l{n}@acme.pl", "country": "PL"}, actor=None)
            owners.append(lead_assign_round_robin(lead=lead))
            Lead.objects.filter(pk=lead.pk).update(owner=lead.owner)
    assert owners == [ben, ben]  # Ana is away: Ben takes every turn


def test_a_rep_sees_what_waits_on_them_and_is_refused_another_territory_s_lead(
    page, active_agreement, sales_manager, logged_in
):
    emea = TerritoryFactory(code="emea", name="EMEA", is_default=True, manager=sales_manager)
    apac = TerritoryFactory(code="apac", name="APAC", manager=sales_manager)
    TerritoryCountry.objects.create(territory=emea, country="PL")
    TerritoryCountry.objects.create(territory=apac, country="ID")
    rep = UserFactory(username="rina", first_name="Rina", role=Role.SALES_REP)
    TerritoryMember.objects.create(territory=emea, user=rep)
    late = make_lead(email="late@acme.pl", stage=StageKey.SAL, owner=rep, company="Latecorp")
    Lead.objects.filter(pk=late.pk).update(
        next_follow_up_at=timezone.now() - timedelta(hours=3), territory=emea
    )
    foreign = lead_create(
        data={"email": "budi@nusantara.id", "country": "ID", "company": "Nusantara"},
        actor=None,
        score=False,
    )
    assert foreign.territory == apac and foreign.owner is None

    page.set_viewport_size({"width": 390, "height": 844})
    logged_in(page, rep)
    page.goto("/waiting/")
    overdue = page.locator("#overdue")
    expect(overdue.locator(".overdue-flag").first).to_be_visible()
    expect(overdue.get_by_text("Latecorp")).to_be_visible()
    assert not _overflows(page)
    screenshot(page, "waiting-rep-390")
    overdue.get_by_role("link").first.click()
    page.wait_for_url(f"**/leads/{late.pk}/")

    # Another territory's lead offers her no claim (a forged POST is refused: see
    # tests/metrics/territories/test_claims.py).
    page.goto(f"/leads/{foreign.pk}/")
    expect(page.get_by_text("Nusantara").first).to_be_visible()
    assert page.locator(f"form[action='/leads/{foreign.pk}/claim/']").count() == 0
    assert Lead.objects.get(pk=foreign.pk).owner is None
