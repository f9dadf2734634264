"""In a real browser: a marketer uploads a CSV, maps columns, previews, imports, gets a report."""

from __future__ import annotations

import pytest

from config.demo import demo_seed
from leads.models import Lead, LeadImport
from tests.e2e.conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CSV = (
    "Email,First name,Company,Country,Company size,Plan\n"
    "ada@lovelace.example,Ada,Analytical Engines,GB,120,gold\n"
    "not-an-email,Bob,Nowhere,DE,x,silver\n"
    "grace@hopper.example,Grace,COBOL Inc,US,40,gold\n"
)


def test_a_marketer_imports_a_csv_in_a_browser(page, tmp_path, settings, logged_in):
    settings.MEDIA_ROOT = tmp_path
    demo_seed(lead_count=5, scorecard_weeks=1)
    logged_in(page, "marketer")
    page.click("nav >> text=Import")
    page.wait_for_url("**/leads/import/")
    screenshot(page, "import-upload")

    upload = tmp_path / "crm-export.csv"
    upload.write_text(CSV)
    page.set_input_files("input[type=file]", str(upload))
    page.click("text=Upload and map columns")
    page.wait_for_url("**/leads/import/*/")
    page.select_option("select[name=col_5]", "custom:plan")
    page.click("button[value=preview]")
    page.wait_for_selector("#preview")
    assert "Dry run" in page.inner_text("#preview")
    assert "company_size" in page.inner_text("#preview")
    screenshot(page, "import-preview")
    assert not Lead.objects.filter(email="ada@lovelace.example").exists()

    page.click("button[value=import]")
    page.wait_for_url("**/leads/import/runs/*/")
    page.wait_for_selector("text=Download the per-row report (CSV)")
    screenshot(page, "import-done")
    run = LeadImport.objects.get(dry_run=False)
    assert (run.created_count, run.error_count) == (2, 1)
    assert Lead.objects.get(email="ada@lovelace.example").custom_fields == {"plan": "gold"}
    with page.expect_download() as download:
        page.click("text=Download the per-row report (CSV)")
    assert download.value.suggested_filename == f"import-{run.pk}-report.csv"


def test_the_report_of_a_long_problem_fits_a_phone(
    browser, live_server, tmp_path, settings, logged_in
):
    """The report's problems are cards on a phone (each cell labelled): a long message, such
    as the source channels an unknown source lists, no longer pushes the page sideways."""
    settings.MEDIA_ROOT = tmp_path
    demo_seed(lead_count=5, scorecard_weeks=1)
    context = browser.new_context(base_url=live_server.url, viewport={"width": 390, "height": 844})
    phone = context.new_page()
    logged_in(phone, "mktmgr")
    upload = tmp_path / "untidy.csv"
    upload.write_text("email,source\nann@example.com,web\n")  # "web" is no channel
    phone.goto("/leads/import/")
    phone.set_input_files("input[type=file]", str(upload))
    phone.click("text=Upload and map columns")
    phone.wait_for_url("**/leads/import/*/")
    phone.click("button[value=import]")
    phone.wait_for_url("**/leads/import/runs/*/")
    phone.wait_for_selector("table.problems")
    assert "not a source channel" in phone.inner_text("table.problems")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    assert phone.locator("table.problems td[data-label='Problem']").count() == 1
    screenshot(phone, "import-problem-phone")
    # Back on the import page, the recent runs are cards too: nothing scrolls sideways.
    phone.goto("/leads/import/")
    assert phone.locator("table.runs td[data-label='Errors']").count() == 1
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(phone, "import-runs-phone")
    context.close()
