"""A Polish rep reads the agreement's own texts in Polish in a real browser: the reject
reasons on the lead page, the stage names and reason labels on the agreement page, at a
desktop's 1440 px and a phone's 390 px without sideways scroll."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from alignment.models import StageKey
from tests.e2e.conftest import screenshot
from tests.leads.conftest import make_lead

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _overflows(page) -> bool:
    return page.evaluate(
        "document.documentElement.scrollWidth > document.documentElement.clientWidth + 1"
    )


def test_a_polish_rep_sees_the_agreement_in_polish(page, active_agreement, rep, logged_in):
    lead = make_lead(email="zakupy@wisla.pl", stage=StageKey.MQL, owner=rep)
    page.set_viewport_size({"width": 1440, "height": 900})
    logged_in(page, rep)
    page.select_option("#lang-switch", "pl")
    expect(page.locator("html")).to_have_attribute("lang", "pl")

    page.goto(f"/leads/{lead.pk}/")
    reasons = page.locator("#mql-decision select[name=reason_code] option").all_inner_texts()
    assert "Nie jest decydentem" in reasons and "Brak budżetu" in reasons
    assert "Not a decision maker" not in reasons
    moves = page.locator("#move select[name=reason_code]").inner_text()
    assert "Spam lub fałszywe zgłoszenie" in moves and "Spam or fake" not in moves
    # The stage tile in the header holds its long Polish name without running over the next.
    badge = page.locator(".lead-header .facts .stage").first
    expect(badge).to_have_text("Zakwalifikowany przez marketing (MQL)")
    tile, name = badge.locator("xpath=..").bounding_box(), badge.bounding_box()
    assert name["x"] + name["width"] <= tile["x"] + tile["width"] + 1
    screenshot(page, "polish-agreement-lead-1440")

    page.goto("/agreement/")
    stages = page.locator("section.card").first
    expect(stages.get_by_text("Lead zaakceptowany przez sprzedaż")).to_be_visible()
    expect(stages.get_by_text("Zwrócony do pielęgnowania")).to_be_visible()
    assert "Sales accepted lead" not in stages.inner_text()
    expect(page.get_by_text("Nie jest decydentem")).to_be_visible()
    assert not _overflows(page)
    screenshot(page, "polish-agreement-1440")

    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    expect(page.get_by_text("Nie jest decydentem")).to_be_visible()
    assert not _overflows(page)
    screenshot(page, "polish-agreement-390")
