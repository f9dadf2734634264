"""Confirming what matters, in a real browser: a move to lost opens a dialog naming the
consequence, with Cancel focused; Cancel changes nothing, confirming moves the lead once."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from alignment.accounts.roles import Role
from alignment.models import StageKey
from leads.models import Lead, StageEvent
from metrics.models import TerritoryMember
from tests.e2e.conftest import screenshot
from tests.factories import TerritoryFactory, UserFactory
from tests.leads.conftest import make_lead

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-for-tests"


@pytest.fixture
def sql_lead(active_agreement):
    manager = UserFactory(username="boss-sales", role=Role.SALES_MANAGER)
    territory = TerritoryFactory(code="emea", name="EMEA", is_default=True, manager=manager)
    rep = UserFactory(username="rina", role=Role.SALES_REP, first_name="Rina")
    TerritoryMember.objects.create(territory=territory, user=rep)
    return make_lead(
        email="buyer@baltic.pl", stage=StageKey.SQL, owner=rep, first_name="Bea",
        last_name="Nowak", company="Baltic Freight",
    )  # fmt: skip


def _lost_events(lead: Lead) -> int:
    return StageEvent.objects.filter(lead=lead, to_stage=StageKey.LOST).count()


def test_a_move_to_lost_asks_in_a_dialog_cancel_keeps_it_confirm_moves_once(
    page, sql_lead, logged_in
):
    logged_in(page, "rina", PASSWORD)
    page.goto(f"/leads/{sql_lead.pk}/")
    expect(page.locator("#id_to_stage")).to_have_value("")  # no stage chosen beforehand
    page.select_option("#id_to_stage", "lost")
    page.select_option("#id_reason_code", "price")
    move = page.get_by_role("button", name="Move", exact=True)

    move.click()
    dialog = page.locator("dialog.confirm[open]")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Marks Bea Nowak · Baltic Freight as lost")
    cancel = dialog.get_by_role("button", name="Cancel")
    expect(cancel).to_be_focused()  # the default is the harmless choice
    screenshot(page, "confirm-dialog-move-to-lost")
    cancel.click()
    expect(page.locator("dialog.confirm")).to_have_count(0)
    assert Lead.objects.get(pk=sql_lead.pk).stage == StageKey.SQL
    assert _lost_events(sql_lead) == 0

    move.click()
    page.locator("dialog.confirm[open]").get_by_role("button", name="Mark as lost").click()
    expect(page.get_by_text("Moved to Lost.")).to_be_visible()
    assert Lead.objects.get(pk=sql_lead.pk).stage == StageKey.LOST
    assert _lost_events(sql_lead) == 1
