"""Winning a lead in a real browser: the move to won opens the close-deal form, and the
lead is won when its deal is (the stage follows the deal)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from alignment.accounts.roles import Role
from alignment.models import StageKey
from leads.models import Deal, DealOutcome, Lead
from leads.services.deals import deal_create
from metrics.models import TerritoryMember
from tests.e2e.conftest import screenshot
from tests.factories import TerritoryFactory, UserFactory
from tests.leads.conftest import make_lead

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-for-tests"


@pytest.fixture
def opportunity(active_agreement):
    manager = UserFactory(username="boss-sales", role=Role.SALES_MANAGER)
    territory = TerritoryFactory(code="emea", name="EMEA", is_default=True, manager=manager)
    rep = UserFactory(username="rina", role=Role.SALES_REP, first_name="Rina")
    TerritoryMember.objects.create(territory=territory, user=rep)
    lead = make_lead(
        email="buyer@baltic.pl", stage=StageKey.SQL, owner=rep, first_name="Bea",
        company="Baltic Freight",
    )  # fmt: skip
    deal = deal_create(lead=lead, actor=rep, amount=12000, name="Baltic fleet plan")
    return {"lead": lead, "deal": deal}


@pytest.mark.parametrize("width", [1440, 390])
def test_moving_to_won_opens_the_close_deal_form_and_wins_through_the_deal(
    page, opportunity, width, logged_in
):
    lead, deal = opportunity["lead"], opportunity["deal"]
    page.set_viewport_size({"width": width, "height": 900})
    logged_in(page, "rina", PASSWORD)
    page.goto(f"/leads/{lead.pk}/")
    page.select_option("#id_to_stage", "won")
    page.get_by_role("button", name="Move", exact=True).click()
    expect(page.get_by_text("Close the deal “Baltic fleet plan”")).to_be_visible()
    close = page.locator(f"form[action='/leads/{lead.pk}/deals/{deal.pk}/close/']")
    expect(close.locator("select[name=outcome]")).to_have_value("won")
    assert Lead.objects.get(pk=lead.pk).stage == StageKey.OPPORTUNITY
    close.locator("input[name=amount]").fill("12500")
    screenshot(page, f"won-close-deal-form-{width}")
    close.get_by_role("button", name="Close deal").click()
    page.locator("dialog.confirm").get_by_role("button", name="Close as won").click()
    expect(page.get_by_text("Deal closed as Won.")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    screenshot(page, f"won-lead-{width}")
    lead.refresh_from_db()
    deal.refresh_from_db()
    assert lead.stage == StageKey.WON
    assert deal.outcome == DealOutcome.WON and deal.amount == Decimal("12500.00")
    assert Deal.objects.filter(lead=lead, outcome=DealOutcome.OPEN).count() == 0
