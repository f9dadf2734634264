"""POST /api/v1/leads/import/: CSV upload or JSON list, per-row results, dry run, roles."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from alignment.services import agreement_create_default
from leads.models import Lead, LeadImport

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def active():
    return agreement_create_default()


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


CSV = b"email,first_name,company_size\nada@example.com,Ada,12\nbad,Bob,x\nADA@example.com,Ada,12\n"


def test_a_csv_upload_keeps_valid_rows_and_reports_bad_ones(marketer):
    response = api(marketer).post(
        "/api/v1/leads/import/", {"file": SimpleUploadedFile("leads.csv", CSV)}, format="multipart"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["created"], body["errors"], body["unchanged"]) == (1, 1, 1)
    assert body["results"][0] == {"row": 1, "status": "created", "id": Lead.objects.get().pk}
    bad = body["results"][1]
    assert bad["row"] == 2 and bad["status"] == "error"
    assert {e["field"] for e in bad["errors"]} == {"email", "company_size"}


def test_a_json_list_and_a_dry_run(marketer):
    rows = [{"email": "a@example.com"}, {"email": "b@example.com", "stage": "bogus"}]
    response = api(marketer).post("/api/v1/leads/import/?dry_run=true", rows, format="json")
    assert response.status_code == 200
    assert [r["status"] for r in response.json()["results"]] == ["created", "error"]
    assert response.json()["dry_run"] is True and not Lead.objects.exists()
    response = api(marketer).post("/api/v1/leads/import/", rows, format="json")
    assert response.json()["created"] == 1 and Lead.objects.count() == 1


def test_a_json_file_upload(marketer):
    upload = SimpleUploadedFile("leads.json", b'[{"email": "a@example.com"}]')
    response = api(marketer).post("/api/v1/leads/import/", {"file": upload}, format="multipart")
    assert response.json()["created"] == 1


def test_no_file_is_400_and_a_rep_may_not_import(marketer, rep):
    assert api(marketer).post("/api/v1/leads/import/", {}, format="multipart").status_code == 400
    assert api(marketer).post("/api/v1/leads/import/", {"x": 1}, format="json").status_code == 400
    response = api(rep).post("/api/v1/leads/import/", [{"email": "a@b.co"}], format="json")
    assert response.status_code == 403 and not Lead.objects.exists()


def test_a_row_out_of_funnel_order_answers_warning_with_what_was_put_right(marketer):
    rows = [
        {"email": "odd@example.com", "created_at": "2018-03-10", "mql_at": "2018-03-10",
         "won_at": "2018-03-08 12:00:00", "deal_amount": "0"},
        {"email": "fine@example.com", "created_at": "2018-03-01"},
    ]  # fmt: skip
    response = api(marketer).post("/api/v1/leads/import/", rows, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["created"], body["warnings"], body["errors"]) == (2, 1, 0)
    odd = body["results"][0]
    assert odd["status"] == "warning"
    assert odd["id"] == Lead.objects.get(email="odd@example.com").pk
    assert [w["field"] for w in odd["warnings"]] == ["won_at"]
    assert "earlier than mql_at" in odd["warnings"][0]["message"]
    assert body["results"][1] == {"row": 2, "status": "created", "id": body["results"][1]["id"]}
    assert LeadImport.objects.get(pk=body["id"]).warning_count == 1


@pytest.mark.parametrize("value", ["9999-12-31", "0001-01-01"])
def test_a_time_outside_the_window_is_a_field_error_of_that_row(marketer, value):
    rows = [{"email": "a@example.com", "mql_at": value}, {"email": "b@example.com"}]
    response = api(marketer).post("/api/v1/leads/import/", rows, format="json")
    assert response.status_code == 200
    bad, good = response.json()["results"]
    assert bad["status"] == "error" and bad["errors"][0]["field"] == "mql_at"
    assert "1970-01-01" in bad["errors"][0]["message"]
    assert good["status"] == "created"


def test_a_file_with_a_nul_a_huge_cell_and_an_unclosed_quote_imports_its_other_rows(marketer):
    data = (
        b"email,first_name\n"
        b"a@example.com,Ada\n"
        b"nul@example.com,N\x00\n"
        b"huge@example.com," + b"x" * 1_048_576 + b"\n"
        b'open@example.com,"Open\n'
        b"b@example.com,Bob\n"
    )
    upload = SimpleUploadedFile("leads.csv", data)
    response = api(marketer).post("/api/v1/leads/import/", {"file": upload}, format="multipart")
    assert response.status_code == 200, response.content
    body = response.json()
    assert [r["status"] for r in body["results"]] == [
        "created", "error", "error", "error", "created",
    ]  # fmt: skip
    messages = [r["errors"][0]["message"] for r in body["results"][1:4]]
    assert "NUL" in messages[0] and "131,072" in messages[1] and "never closed" in messages[2]
    assert set(Lead.objects.values_list("email", flat=True)) == {"a@example.com", "b@example.com"}
