"""POST /api/v1/leads/import/: CSV upload or JSON list, per-row results, dry run, roles."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from alignment.services import agreement_create_default
from leads.models import Lead

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
