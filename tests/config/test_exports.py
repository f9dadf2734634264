"""config.exports, the one CSV helper, and the API's CSV (config/renderers.py).

Every cell, and every piece of it after `,`, `;`, tab, CR or LF, is defused; plain
numbers stay numbers; the API answers `Accept: text/csv` and `?format=csv` on its lists.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from config.exports import csv_filename, csv_response, csv_safe
from config.renderers import csv_table
from tests.exports import HOSTILE, column, csv_body, live_pieces, safe_rows
from tests.factories import CampaignFactory, LeadFactory


@pytest.mark.parametrize("value", HOSTILE)
def test_a_hostile_value_runs_nothing_whole_or_split(value):
    assert live_pieces([[csv_safe(value)]]) == []


def test_it_defuses_the_pieces_after_a_separator():
    assert csv_safe('Acme;=HYPERLINK("http://x")') == 'Acme;\'=HYPERLINK("http://x")'
    assert csv_safe("a,=b") == "a,'=b"
    assert csv_safe("a\t@c") == "a\t'@c"
    assert csv_safe("\t=x") == "'\t'=x"
    assert csv_safe("\r=x") == "'\r'=x"
    assert csv_safe("line\n+1") == "line\n'+1"
    assert csv_safe("-2+3") == "'-2+3"
    assert csv_safe("a;-1") == "a;'-1"


def test_it_leaves_ordinary_text_alone():
    for text in ("plain", "Acme, Inc.", "O'Brien; Sons", "a - b", "2026-03-02", "x=1"):
        assert csv_safe(text) == text


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        (3, "3"),
        (-3, "-3"),
        (Decimal("-12.50"), "-12.50"),
        (Decimal("1E+2"), "100"),
        (0.25, "0.25"),
        (-0.5, "-0.5"),
        ("-12.50", "-12.50"),
        ("3", "3"),
        (float("nan"), ""),
        (True, "true"),
        (False, "false"),
        (None, ""),
        (date(2026, 3, 2), "2026-03-02"),
    ],
)
def test_numbers_stay_numbers_and_other_values_read_plainly(value, cell):
    assert csv_safe(value) == cell


def test_a_moment_is_written_in_the_readers_time_zone(settings):
    with timezone.override("Europe/Warsaw"):
        assert csv_safe(datetime(2026, 3, 2, 8, 30, tzinfo=UTC)) == "2026-03-02 09:30"


def test_the_response_is_an_attachment_of_formula_safe_utf8_csv():
    response = csv_response(
        filename='report "x"/../é.csv',
        header=["Name", "Amount"],
        rows=iter([[value, Decimal("-12.50")] for value in HOSTILE] + [["Zoë", 3]]),
    )
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="report-x.csv"'
    rows = safe_rows(response)
    assert rows[0] == ["Name", "Amount"]
    assert column(rows, "Amount") == ["-12.50"] * len(HOSTILE) + ["3"]
    assert rows[-1][0] == "Zoë"


def test_a_filename_is_always_a_safe_csv_name():
    assert csv_filename("sla-ledger_2026-03-02.csv") == "sla-ledger_2026-03-02.csv"
    assert csv_filename("stage_conversion[mql→sal]") == "stage_conversion-mql-sal.csv"
    assert csv_filename("") == "export.csv"
    assert csv_filename("\r\nSet-Cookie: x") == "Set-Cookie-x.csv"


def test_an_empty_export_still_has_its_header():
    rows = safe_rows(csv_response(filename="x", header=["A", "B"], rows=[]))
    assert rows == [["A", "B"]]


# --- the API -----------------------------------------------------------------------------------


def test_the_csv_table_flattens_nested_objects_and_joins_lists():
    header, rows = csv_table(
        {"results": [{"id": 1, "owner": {"id": 2, "name": "=x"}, "tags": ["a", "b"]}]},
        ["id", "extra"],
    )
    assert header == ["id", "extra", "owner.id", "owner.name", "tags"]
    assert rows == [[1, "", 2, "=x", "a; b"]]


@pytest.fixture
def hostile_leads(active_agreement):
    return [
        LeadFactory(
            email=f"h{i}@example.com", company=value, first_name=value, custom_fields={"n": value}
        )
        for i, value in enumerate(HOSTILE)
    ]


@pytest.mark.django_db
def test_the_lead_list_answers_accept_text_csv(api_client, marketer, hostile_leads):
    response = api_client(marketer).get("/api/v1/leads/", HTTP_ACCEPT="text/csv")
    assert response.status_code == 200
    rows = safe_rows(csv_body(response))
    assert {"id", "email", "company"} <= set(rows[0])
    assert sorted(column(rows, "email")) == sorted(lead.email for lead in hostile_leads)
    assert "'=1+1" in column(rows, "company")


@pytest.mark.django_db
def test_format_csv_also_asks_for_csv_and_json_stays_the_default(api_client, marketer):
    CampaignFactory(name="=cmd|' /C calc'!A0", budget=Decimal("1250.50"))
    client = api_client(marketer)
    rows = safe_rows(csv_body(client.get("/api/v1/campaigns/?format=csv")))
    assert column(rows, "name") == ["'=cmd|' /C calc'!A0"]
    assert column(rows, "budget") == ["1250.50"]
    plain = client.get("/api/v1/campaigns/")
    assert plain["Content-Type"] == "application/json"
    assert plain.json()["results"][0]["name"] == "=cmd|' /C calc'!A0"


@pytest.mark.django_db
def test_an_empty_list_has_the_serializers_header(api_client, marketer, active_agreement):
    rows = safe_rows(csv_body(api_client(marketer).get("/api/v1/leads/", HTTP_ACCEPT="text/csv")))
    assert len(rows) == 1 and {"id", "email"} <= set(rows[0])


@pytest.mark.django_db
def test_errors_stay_json(api_client, marketer, active_agreement):
    client = api_client(marketer)
    bad = client.get("/api/v1/leads/?page_size=0", HTTP_ACCEPT="text/csv")
    assert bad.status_code == 400
    assert bad["Content-Type"] == "application/json" and "page_size" in bad.json()
    missing = client.get("/api/v1/leads/999999/", HTTP_ACCEPT="text/csv")
    assert missing.status_code == 404 and missing.json()["detail"]
    anonymous = api_client().get("/api/v1/leads/", HTTP_ACCEPT="text/csv")
    assert anonymous.status_code in (401, 403)
    assert anonymous["Content-Type"] == "application/json"


@pytest.mark.django_db
def test_the_csv_of_a_list_parses_with_the_csv_module(api_client, marketer, hostile_leads):
    body = csv_body(api_client(marketer).get("/api/v1/leads/?format=csv"))
    assert len(list(csv.DictReader(io.StringIO(body, newline="")))) == len(HOSTILE)
