"""Phone first: a sales rep's pages at 390×844 (an iPhone-sized screen), no sideways scroll."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from config.demo import demo_seed
from leads.models import Lead
from tests.e2e.conftest import screenshot
from tests.factories import FieldIntelFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
HEADER_MAX = 169  # a fifth of the first screen

PAGES = {
    "home": "/",
    "queue": "/leads/queue/",
    "leads": "/leads/",
    "agenda": "/leads/agenda/",
    "ledger": "/leads/ledger/",
    "intel": "/feedback/intel/",
    "battlecards": "/feedback/battlecards/",
    "notifications": "/feedback/notifications/",
    "profile": "/account/profile/",
}


@pytest.fixture
def phone(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport=PHONE, has_touch=True)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def rep_lead():
    """The demo company, and one of the rep's MQLs given a phone number."""
    demo_seed(lead_count=60, scorecard_weeks=2)
    lead = Lead.objects.filter(owner__username="rep", stage="mql").order_by("pk").first()
    lead = lead or Lead.objects.filter(owner__username="rep").order_by("pk").first()
    lead.phone = "+1 415 555 0105"
    lead.save(update_fields=["phone"])
    return lead


def _fits(page) -> tuple[int, float]:
    width = page.evaluate("document.documentElement.scrollWidth")
    header = page.locator("header.topbar").bounding_box()
    return width, header["height"]


def test_every_page_a_rep_uses_fits_a_phone(phone, logged_in, rep_lead):
    logged_in(phone, "rep")
    pages = {**PAGES, "lead": f"/leads/{rep_lead.pk}/"}
    measured = {}
    for name, url in pages.items():
        phone.goto(url)
        measured[name] = _fits(phone)
        screenshot(phone, f"phone-{name}")
    too_wide = {name: w for name, (w, _) in measured.items() if w > PHONE["width"]}
    too_tall = {name: h for name, (_, h) in measured.items() if h > HEADER_MAX}
    assert too_wide == {}, f"sideways scroll at 390 px: {too_wide}"
    assert too_tall == {}, f"header taller than {HEADER_MAX} px: {too_tall}"


# A card's labels each fit their cell: none reaches below the cell it labels.
_LABELS_OVERFLOWING = """() => [...document.querySelectorAll('table.cards td')].filter(td => {
    const label = getComputedStyle(td, '::before');
    return label.display !== 'none' && parseFloat(label.height) > td.clientHeight + 1;
}).map(td => td.dataset.label)"""


def test_the_pages_managers_and_marketers_open_fit_a_phone(phone, logged_in, rep_lead):
    """The team's week (eleven columns), targets and forecast, and field intel naming a
    lead with a long e-mail: cards on a phone, no sideways scroll, no label running into
    the next cell ("Missed follow-ups" takes two lines)."""
    rep_lead.email = "rafael.wisniewska.594.second.address@demo-14.example"
    rep_lead.save(update_fields=["email"])
    intel = FieldIntelFactory(author=rep_lead.owner, lead=rep_lead)
    pages = {"salesmgr": ["/leads/team/", "/metrics/targets/"],
             "mktmgr": ["/metrics/targets/", f"/feedback/intel/{intel.pk}/"]}  # fmt: skip
    measured, overlapping = {}, {}
    for user, urls in pages.items():
        logged_in(phone, user)
        for url in urls:
            phone.goto(url)
            measured[(user, url)] = _fits(phone)[0]
            overlapping[(user, url)] = phone.evaluate(_LABELS_OVERFLOWING)
            screenshot(phone, f"phone-{user}-{url.strip('/').replace('/', '-')}")
        phone.context.clear_cookies()
    assert {page: w for page, w in measured.items() if w > PHONE["width"]} == {}
    assert {page: labels for page, labels in overlapping.items() if labels} == {}
    logged_in(phone, "salesmgr")
    phone.goto("/leads/team/")
    assert phone.locator("table.team-table td[data-label='Missed follow-ups']").count() >= 1


@pytest.mark.parametrize("language", ["pl", "id"])
def test_a_reps_lists_fit_a_phone_in_every_language(phone, live_server, logged_in, rep_lead,
                                                     language):  # fmt: skip
    """Stage names are longest in Polish ("Zakwalifikowany przez marketing (MQL)") and
    Indonesian: they wrap inside their cards on every page that lists leads."""
    phone.context.add_cookies([{"name": "django_language", "value": language,
                                "url": live_server.url}])  # fmt: skip
    logged_in(phone, "rep")
    measured = {}
    for url in ("/", "/leads/", "/leads/queue/"):
        phone.goto(url)
        assert phone.evaluate("document.documentElement.lang") == language
        measured[url] = _fits(phone)[0]
        screenshot(phone, f"phone-{language}-{url.strip('/').replace('/', '-') or 'home'}")
    assert {url: w for url, w in measured.items() if w > PHONE["width"]} == {}


def test_the_lead_page_puts_the_field_actions_on_the_first_screen(phone, logged_in, rep_lead):
    logged_in(phone, "rep")
    phone.goto(f"/leads/{rep_lead.pk}/")
    first_screen = PHONE["height"]
    call = phone.locator('a[href^="tel:"]').first
    mail = phone.locator('a[href^="mailto:"]').first
    form = phone.locator("form.follow-up-form")
    for element in (call, mail, form):
        expect(element).to_be_visible()
        assert element.bounding_box()["y"] < first_screen
    assert call.get_attribute("href") == "tel:+14155550105"
    assert mail.get_attribute("href") == f"mailto:{rep_lead.email}"
    if rep_lead.stage == "mql":
        jump = phone.locator('a[href="#mql-decision"]')
        assert jump.bounding_box()["y"] < first_screen
        jump.click()
        expect(phone.locator("#mql-decision button.primary")).to_be_in_viewport()
    # Touch targets: buttons and form controls are at least 44 px tall.
    controls = (
        "main a.button, main button, main select, main textarea, header summary,"
        " main input:not([type=hidden]):not([type=checkbox]):not([type=radio])"
    )
    short = phone.evaluate(
        """(selector) => [...document.querySelectorAll(selector)]
            .filter(e => e.getBoundingClientRect().width > 0)
            .filter(e => e.getBoundingClientRect().height < 44)
            .map(e => e.outerHTML.slice(0, 80))""",
        controls,
    )
    assert short == []


def test_the_menu_button_opens_the_navigation(phone, logged_in, rep_lead):
    logged_in(phone, "rep")
    nav_link = phone.locator("header nav a", has_text="My queue")
    expect(nav_link).to_be_hidden()
    phone.get_by_text("Menu", exact=True).click()
    expect(nav_link).to_be_visible()
    box = nav_link.bounding_box()
    assert box["height"] >= 44
    screenshot(phone, "phone-menu-open")
    nav_link.click()
    phone.wait_for_url("**/leads/queue/")
    expect(phone.get_by_role("heading", name="My queue", level=1)).to_be_visible()


def test_the_menu_works_without_javascript(browser, live_server, phone, logged_in, rep_lead):
    logged_in(phone, "rep")
    context = browser.new_context(
        base_url=live_server.url,
        viewport=PHONE,
        java_script_enabled=False,
        storage_state=phone.context.storage_state(),  # the rep's session
    )
    page = context.new_page()
    try:
        page.goto("/")
        nav_link = page.locator("header nav a", has_text="Leads").first
        expect(nav_link).to_be_hidden()
        page.locator("header summary").click()
        expect(nav_link).to_be_visible()
        nav_link.click()
        page.wait_for_url("**/leads/")
    finally:
        context.close()


def test_the_desktop_header_shows_the_navigation_without_a_menu_button(page, logged_in, rep_lead):
    page.set_viewport_size({"width": 1440, "height": 900})
    logged_in(page, "rep")
    expect(page.locator("header summary")).to_be_hidden()
    expect(page.locator("header nav a", has_text="My queue")).to_be_visible()
    assert page.locator("header.topbar").bounding_box()["height"] < 100
