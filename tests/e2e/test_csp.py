"""The Content-Security-Policy in a real browser: the key pages log no violation, and what
moved out of inline handlers (language switch, print, auto-submitting filters) still works."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from campaigns.models import Campaign
from config.demo import demo_seed
from leads.models import Lead
from tests.e2e.conftest import logout

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Chromium fires securitypolicyviolation on the document for every refused script, style,
# handler or resource; collected from the first script the page runs.
_COLLECT = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(
    `${event.violatedDirective} blocked ${event.blockedURI || "inline"} ` +
    `(${event.sourceFile || "page"}:${event.lineNumber})`
  );
});
"""


def _watch(page) -> list[str]:
    """CSP violations of every page this browser page opens (events and console)."""
    console: list[str] = []
    page.add_init_script(_COLLECT)
    page.on(
        "console",
        lambda message: (
            console.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return console


def _violations(page, console: list[str]) -> list[str]:
    page.wait_for_load_state("networkidle")
    return [*page.evaluate("window.__cspViolations || []"), *console]


def test_the_key_pages_log_no_csp_violation(page, settings, logged_in):
    demo_seed(lead_count=60, scorecard_weeks=3)
    console = _watch(page)
    seen: dict[str, list[str]] = {}

    page.goto("/login/")
    seen["login"] = _violations(page, console)
    logged_in(page, "salesmgr")
    seen["home"] = _violations(page, console)
    lead = Lead.objects.order_by("pk").first()
    page.goto(f"/leads/{lead.pk}/")
    seen["lead"] = _violations(page, console)
    page.goto("/metrics/")
    seen["dashboard"] = _violations(page, console)
    assert page.locator("svg.pygal-chart").count() >= 1
    # The chart's CSS comes from static/css/charts.css, not an inline <style>.
    fill = page.locator("svg.chart-funnel .graph").first.evaluate(
        "node => getComputedStyle(node).fill"
    )
    assert fill == "rgb(31, 41, 51)"
    page.goto("/metrics/pack/")
    seen["pack"] = _violations(page, console)
    campaign = Campaign.objects.order_by("pk").first()
    page.goto(f"/campaigns/{campaign.pk}/")
    seen["campaign"] = _violations(page, console)
    settings.API_DOCS_PUBLIC = False
    page.goto("/api/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Accord API")
    seen["api-docs"] = _violations(page, console)
    page.goto("/")
    logout(page)
    logged_in(page, "admin")
    page.goto(f"/admin/leads/lead/{lead.pk}/change/")
    expect(page.locator("#content h1")).to_be_visible()
    seen["admin"] = _violations(page, console)

    assert {name: found for name, found in seen.items() if found} == {}


def test_behaviour_moved_out_of_inline_handlers_still_works(page, logged_in):
    demo_seed(lead_count=20, scorecard_weeks=1)
    console = _watch(page)
    logged_in(page, "salesmgr")

    # The language switch submits on change (it was onchange="this.form.submit()").
    with page.expect_navigation():
        page.select_option("#lang-switch", "pl")
    expect(page.locator("html")).to_have_attribute("lang", "pl")
    with page.expect_navigation():
        page.select_option("#lang-switch", "en")
    expect(page.locator("html")).to_have_attribute("lang", "en")

    # The meeting pack: the territory filter submits on change, Print prints.
    page.goto("/metrics/pack/")
    territory = page.locator("select[name=territory] option").nth(1)
    value = territory.get_attribute("value")
    with page.expect_navigation():
        page.select_option("select[name=territory]", value)
    assert f"territory={value}" in page.url
    page.evaluate(
        "() => { window.__printed = 0; window.print = () => { window.__printed += 1; }; }"
    )
    page.get_by_role("button", name="Print").click()
    assert page.evaluate("window.__printed") == 1
    assert _violations(page, console) == []
