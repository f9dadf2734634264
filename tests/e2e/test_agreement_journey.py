"""In a real browser: a marketer drafts, the backtest updates in place, both managers sign."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from alignment.models import Agreement, AgreementStatus
from config.demo import demo_seed
from tests.e2e.conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_draft_backtest_propose_and_sign_in_a_browser(page, logged_in):
    demo_seed(lead_count=60, scorecard_weeks=1)
    logged_in(page, "marketer")
    page.goto("/agreement/")
    screenshot(page, "agreement-page")
    page.click("text=Start a draft from the version in force")
    page.wait_for_url("**/edit/")
    draft = Agreement.objects.get(status=AgreementStatus.DRAFT)
    mqls = page.locator('#backtest [data-metric="mqls"]')
    before = mqls.inner_text()
    # htmx: changing the preview threshold swaps the backtest panel in place.
    page.fill("#backtest input[name=threshold]", "0")
    with page.expect_response(lambda r: "/backtest/" in r.url):
        page.dispatch_event("#backtest input[name=threshold]", "change")
    expect(page.locator(".htmx-request, .htmx-swapping, .htmx-settling")).to_have_count(0)
    assert page.url.endswith("/edit/")  # no navigation: updated in place
    after = page.locator('#backtest [data-metric="mqls"]').inner_text()
    assert int(after) >= int(before)
    # A bad rule shows a clear error next to the field.
    page.select_option("#rule-form select[name=kind]", "fit")
    page.fill("#rule-form input[name=field]", "shoe size")
    page.click("#rule-form button[type=submit]")
    expect(page.get_by_text("Choose a lead field").first).to_be_visible()
    screenshot(page, "agreement-draft-editor")
    # On a phone the editor and its backtest stack: nothing runs off the side.
    page.set_viewport_size({"width": 390, "height": 844})
    expect(page.locator("#handoffs")).to_be_visible()
    assert page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth + 1"
    )
    screenshot(page, "agreement-draft-editor-390")
    page.set_viewport_size({"width": 1440, "height": 900})
    page.click("text=Propose for signature")
    page.wait_for_url("**/agreement/?version=*")
    page.click("text=Log out")

    for manager, button in (("salesmgr", "Sign for sales"), ("mktmgr", "Sign for marketing")):
        logged_in(page, manager)
        page.goto("/agreement/")
        page.click(f"text={button}")
        page.click("dialog.confirm [data-confirm-yes]")  # it names the consequence first
        page.wait_for_url("**/agreement/?version=*")
        page.click("text=Log out")
    draft.refresh_from_db()
    assert draft.status == AgreementStatus.ACTIVE
    logged_in(page, "rep")
    page.goto(f"/agreement/?a={draft.based_on_id}&b={draft.pk}")
    screenshot(page, "agreement-diff-after-signing")
    expect(page.get_by_text(f"From v{draft.based_on.version} to v{draft.version}")).to_be_visible()
