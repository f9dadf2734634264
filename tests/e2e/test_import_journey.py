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
