"""The shared dashboard in a real browser: figures, charts, a drill-down, targets and the pack."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from config.demo import demo_seed
from metrics.models import Scorecard, Target
from tests.e2e.conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_manager_reads_the_dashboard_and_drills_into_a_figure(page, logged_in):
    demo_seed(lead_count=120, scorecard_weeks=4)
    # The demo seeds targets and the past weeks' scorecards, idempotently.
    targets, cards = Target.objects.count(), Scorecard.objects.count()
    assert targets and cards
    demo_seed(lead_count=120, scorecard_weeks=4)
    assert (Target.objects.count(), Scorecard.objects.count()) == (targets, cards)

    logged_in(page, "salesmgr")
    page.click("nav >> text=Dashboard")
    page.wait_for_url("**/metrics/")
    start = (timezone.localdate() - timezone.timedelta(days=84)).isoformat()
    page.fill("input[name=start]", start)
    page.click("button:has-text('Apply')")
    page.wait_for_load_state()
    assert page.locator("svg").count() >= 2  # the funnel and the score over the weeks
    expect(page.get_by_role("heading", name="Follow-up ledger")).to_be_visible()
    screenshot(page, "metrics-dashboard")

    mqls = page.locator(".funnel-table tr", has_text="Marketing qualified").locator("a").first
    shown = int(mqls.inner_text().replace(",", ""))
    mqls.click()
    page.wait_for_url("**/metrics/records/**")
    count = int(re.match(r"(\d+)", page.locator(".record-count").inner_text()).group(1))
    assert count == shown
    screenshot(page, "metrics-records")

    page.goto("/metrics/targets/")
    expect(page.get_by_text("Reverse-funnel plan").first).to_be_visible()
    screenshot(page, "metrics-targets")
    page.goto("/metrics/pack/")
    expect(page.get_by_role("heading", name=re.compile("Alignment meeting"))).to_be_visible()
    screenshot(page, "metrics-pack")


# Words of an element broken across lines: a word whose range has two line boxes.
_BROKEN_WORDS = """(element) => {
  const broken = [];
  const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    for (const match of node.textContent.matchAll(/\\S+/g)) {
      const range = document.createRange();
      range.setStart(node, match.index);
      range.setEnd(node, match.index + match[0].length);
      const tops = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
      if (tops.size > 1) broken.push(match[0]);
    }
  }
  return broken;
}"""


def test_on_a_phone_the_funnel_fits_with_every_word_whole(browser, live_server, logged_in):
    demo_seed(lead_count=60, scorecard_weeks=2)
    context = browser.new_context(base_url=live_server.url, viewport={"width": 390, "height": 844})
    page = context.new_page()
    logged_in(page, "mktmgr")
    page.goto("/metrics/")
    table = page.locator(".funnel-table")
    expect(table.get_by_text("Opportunity")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert table.evaluate(_BROKEN_WORDS) == []  # was ["Entered", "Opportunity"]
    screenshot(page, "metrics-dashboard-phone")
    context.close()
