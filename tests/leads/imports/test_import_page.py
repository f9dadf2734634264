"""The import page: upload, column mapping, dry-run preview, import, progress, report CSV."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from leads.models import Lead, LeadImport

pytestmark = pytest.mark.django_db

CSV = (
    b"E-mail,Given name,Plan,Company size\n"
    b"ada@example.com,Ada,gold,12\n"
    b"broken,Bob,silver,x\n"
    b"grace@example.com,=HYPERLINK(1),gold,5\n"
)


@pytest.fixture(autouse=True)
def _media(settings, tmp_path, active_agreement):
    settings.MEDIA_ROOT = tmp_path


def _logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _upload(client: Client) -> str:
    response = client.post("/leads/import/", {"file": SimpleUploadedFile("crm.csv", CSV)})
    assert response.status_code == 302, response.content
    return response["Location"]


def test_a_marketer_maps_previews_and_imports_a_file(marketer):
    client = _logged_in(marketer)
    map_url = _upload(client)
    page = client.get(map_url).content.decode()
    assert "Given name" in page and "ada@example.com" in page
    assert '<option value="email" selected>' not in page  # "E-mail" maps itself below
    mapping = {
        "col_0": "email",
        "col_1": "first_name",
        "col_2": "custom:plan",
        "col_3": "company_size",
    }

    preview = client.post(map_url, {**mapping, "action": "preview"})
    body = preview.content.decode()
    assert preview.status_code == 200 and "Dry run" in body
    assert "company_size" in body and not Lead.objects.exists()

    response = client.post(map_url, {**mapping, "action": "import"})
    assert response.status_code == 302
    run = LeadImport.objects.get(dry_run=False)
    assert response["Location"] == f"/leads/import/runs/{run.pk}/"
    assert (run.status, run.created_count, run.error_count) == ("done", 2, 1)
    assert Lead.objects.get(email="ada@example.com").custom_fields == {"plan": "gold"}

    progress = client.get(f"/leads/import/runs/{run.pk}/", HTTP_HX_REQUEST="true")
    assert "import-progress" in progress.content.decode()
    report = client.get(f"/leads/import/runs/{run.pk}/report.csv")
    assert report["Content-Type"].startswith("text/csv")
    lines = list(csv.reader(io.StringIO(b"".join(report.streaming_content).decode())))
    assert lines[0] == ["row", "status", "id", "field", "message", "lead", "email"]
    assert lines[1][:3] == ["1", "created", str(Lead.objects.get(email="ada@example.com").pk)]
    assert {tuple(line[:4]) for line in lines[2:4]} == {
        ("2", "error", "", "email"),
        ("2", "error", "", "company_size"),
    }
    # The uploaded file is gone once imported.
    assert client.get(map_url).status_code == 302


def test_the_report_escapes_formulas_from_the_file(marketer):
    client = _logged_in(marketer)
    run = LeadImport.objects.create(
        created_by=marketer,
        report=[
            {
                "row": 1,
                "status": "error",
                "errors": [{"field": "x", "message": "=cmd|'/c calc'!A1"}],
            }
        ],
    )
    body = b"".join(client.get(f"/leads/import/runs/{run.pk}/report.csv").streaming_content)
    assert b"'=cmd" in body


def test_mapping_needs_an_email_column_and_one_target_per_column(marketer):
    client = _logged_in(marketer)
    map_url = _upload(client)
    body = client.post(map_url, {"col_0": "", "col_1": "first_name", "action": "preview"}).content
    assert "email" in body.decode()
    body = client.post(
        map_url, {"col_0": "email", "col_1": "email", "action": "preview"}
    ).content.decode()
    assert "chosen twice" in body


def test_a_bad_upload_is_a_form_error(marketer):
    client = _logged_in(marketer)
    response = client.post("/leads/import/", {"file": SimpleUploadedFile("x.exe", b"MZ")})
    assert (
        response.status_code == 400 and "Upload a .csv or .json file" in response.content.decode()
    )


def test_a_rep_sees_no_upload_form_and_cannot_post(rep):
    client = _logged_in(rep)
    assert "may not import" in client.get("/leads/import/").content.decode()
    client.post("/leads/import/", {"file": SimpleUploadedFile("crm.csv", CSV)})
    assert not Lead.objects.exists()


def test_unknown_runs_and_uploads_redirect_back(marketer, executive):
    client = _logged_in(marketer)
    assert client.get("/leads/import/runs/999/").status_code == 302
    assert client.get("/leads/import/nope/").status_code == 302
    run = LeadImport.objects.create(created_by=marketer, filename="a.csv", status="done")
    assert _logged_in(executive).get(f"/leads/import/runs/{run.pk}/").status_code == 200


def test_a_large_file_goes_to_the_worker(
    marketer, settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.LEAD_IMPORT_INLINE_MAX_BYTES = 10
    sent = []
    from leads import tasks

    monkeypatch.setattr(tasks.import_leads_file, "delay", lambda *args: sent.append(args))
    client = _logged_in(marketer)
    map_url = _upload(client)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(map_url, {"col_0": "email", "action": "import"})
    run = LeadImport.objects.get()
    assert run.status == "pending" and sent == [(run.pk,)]
    assert run.upload and run.mapping == {"E-mail": "email", "Given name": "", "Plan": "",
                                          "Company size": ""}  # fmt: skip
    tasks.import_leads_file(*sent[0])
    run.refresh_from_db()
    assert run.status == "done" and run.created_count == 2 and run.rows_expected == 3
    assert run.upload == "" and not list(settings.MEDIA_ROOT.rglob("*.csv"))  # file deleted
    assert tasks.import_leads_file(*sent[0]) == "skipped"  # delivered twice: imports once
    assert Lead.objects.count() == 2


def test_a_file_of_more_rows_than_the_inline_limit_goes_to_the_worker(
    marketer, settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.LEAD_IMPORT_INLINE_MAX_ROWS = 2  # the file has 3 rows, 150 bytes
    sent = []
    from leads import tasks

    monkeypatch.setattr(tasks.import_leads_file, "delay", lambda *args: sent.append(args))
    client = _logged_in(marketer)
    map_url = _upload(client)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(map_url, {"col_0": "email", "action": "import"})
    run = LeadImport.objects.get()
    assert response["Location"] == f"/leads/import/runs/{run.pk}/"
    assert run.status == "pending" and sent == [(run.pk,)] and not Lead.objects.exists()
    page = client.get(f"/leads/import/runs/{run.pk}/").content.decode()
    assert "hx-trigger" in page  # the run page polls while the worker works


@pytest.mark.django_db(transaction=True)  # the task is queued on commit, within the request
def test_with_the_broker_down_the_page_says_so_and_the_upload_waits_for_another_try(
    marketer, settings, monkeypatch
):
    from kombu.exceptions import OperationalError

    from leads import tasks

    settings.LEAD_IMPORT_INLINE_MAX_BYTES = 10

    def refuse(*args):
        raise OperationalError("connection refused")

    monkeypatch.setattr(tasks.import_leads_file, "delay", refuse)
    client = _logged_in(marketer)
    map_url = _upload(client)
    response = client.post(map_url, {"col_0": "email", "action": "import"})
    assert response.status_code == 503
    assert "was not started" in response.content.decode()
    assert not LeadImport.objects.exists() and not Lead.objects.exists()
    assert client.get(map_url).status_code == 200  # the file is still there to import


ODD = (
    b"email,created_at,mql_at,won_at,deal_amount,first_name\n"
    b"odd@example.com,2018-03-10,2018-03-10,2018-03-08 12:00:00,10,Odd\n"
    b"nul@example.com,2018-03-10,,,,N\x00l\n"
    b"far@example.com,9999-12-31,,,,Far\n"
    b"fine@example.com,2018-03-01,,,,Fine\n"
)


def test_warnings_and_row_errors_show_in_the_preview_the_run_and_the_report(marketer):
    client = _logged_in(marketer)
    response = client.post("/leads/import/", {"file": SimpleUploadedFile("crm.csv", ODD)})
    assert response.status_code == 302, response.content  # a NUL in a cell is not "binary"
    map_url = response["Location"]
    mapping = {
        "col_0": "email",
        "col_1": "created_at",
        "col_2": "mql_at",
        "col_3": "won_at",
        "col_4": "deal_amount",
        "col_5": "first_name",
    }

    preview = client.post(map_url, {**mapping, "action": "preview"}).content.decode()
    assert "would be created with warnings" in preview
    assert "imported, with a warning" in preview and "earlier than mql_at" in preview
    assert "NUL character" in preview and "1970-01-01" in preview
    assert not Lead.objects.exists()

    client.post(map_url, {**mapping, "action": "import"})
    run = LeadImport.objects.get(dry_run=False)
    assert (run.created_count, run.warning_count, run.error_count) == (2, 1, 2)
    odd = Lead.objects.get(email="odd@example.com")
    page = client.get(f"/leads/import/runs/{run.pk}/").content.decode()
    assert "created with warnings" in page and f'href="/leads/{odd.pk}/"' in page
    assert "earlier than mql_at" in page

    report = client.get(f"/leads/import/runs/{run.pk}/report.csv")
    lines = list(csv.reader(io.StringIO(b"".join(report.streaming_content).decode())))
    assert lines[1][:4] == ["1", "warning", str(odd.pk), "won_at"]
    assert [line[:2] for line in lines[2:]] == [["2", "error"], ["3", "error"], ["4", "created"]]
    listing = client.get("/leads/import/").content.decode()
    assert "Warnings" in listing
