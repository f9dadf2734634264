"""Every CSV export defuses formula injection: a cell starting with = + - @ tab or CR is quoted.

The exports: the metrics drill-down (records.csv), the import report on the page, and the
import command's --report file. All write through config.exports.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from django.core.management import call_command
from django.test import Client

from alignment.agreement.services import agreement_create_default
from config.exports import FORMULA_START, csv_lines, csv_safe
from leads.models import LeadImport
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db

STARTS = ["=", "+", "-", "@", "\t", "\r"]


def _cells(body: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(body, newline="")) for cell in row]


def _assert_no_live_formula(body: str) -> None:
    live = [cell for cell in _cells(body) if cell.startswith(FORMULA_START)]
    assert live == [], f"cells a spreadsheet would run: {live!r}"


@pytest.mark.parametrize("start", STARTS)
def test_the_one_escaping_function_quotes_each_formula_start(start):
    assert csv_safe(f"{start}SUM(1)") == f"'{start}SUM(1)"
    assert csv_safe("plain") == "plain" and csv_safe(None) == "" and csv_safe(7) == "7"
    assert "".join(csv_lines([[f"{start}x", "ok"]])).startswith(("'", "\"'"))


@pytest.mark.parametrize("start", STARTS)
def test_the_metrics_records_export_quotes_a_formula_cell(start, marketer):
    LeadFactory(
        email="evil@x.test",
        company=f'{start}HYPERLINK("http://x")',
        created_at=datetime(2026, 3, 3, tzinfo=UTC),
    )
    client = Client()
    client.force_login(marketer)
    response = client.get("/metrics/records.csv?metric=new_leads&start=2026-03-02&end=2026-03-09")
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode()
    assert f'\'{start}HYPERLINK("http://x")' in _cells(body)
    _assert_no_live_formula(body)


@pytest.mark.parametrize("start", STARTS)
def test_the_import_report_page_export_quotes_a_formula_cell(start, marketer):
    run = LeadImport.objects.create(
        created_by=marketer,
        report=[
            {
                "row": 1,
                "status": "error",
                "errors": [{"field": f"{start}f", "message": f"{start}m"}],
            }
        ],
    )
    client = Client()
    client.force_login(marketer)
    response = client.get(f"/leads/import/runs/{run.pk}/report.csv")
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode()
    assert {f"'{start}f", f"'{start}m"} <= set(_cells(body))
    _assert_no_live_formula(body)


@pytest.mark.parametrize("start", STARTS)
def test_the_import_command_report_quotes_a_formula_cell(start, tmp_path, marketer):
    agreement_create_default()
    source = tmp_path / "in.csv"
    with source.open("w", newline="") as out:
        csv.writer(out).writerows(
            [
                ["email", "company", "company_size"],
                [f"{start}bad", f"{start}cmd", f"{start}1"],
                ["ok@x.test", f"{start}cmd", "3"],
            ]
        )
    report = tmp_path / "report.csv"
    call_command("import_leads", str(source), "--report", str(report), "--no-progress")
    body = report.read_text()
    assert "error" in body
    _assert_no_live_formula(body)
