"""POST /api/v1/leads/import/: CSV upload or JSON list, per-row results, dry run, roles."""

from __future__ import annotations

import os
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from alignment.accounts.roles import Role
from leads.models import Lead, LeadImport
from tests.factories import UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("active_agreement")]


CSV = b"email,first_name,company_size\nada@example.com,Ada,12\nbad,Bob,x\nADA@example.com,Ada,12\n"


def test_a_csv_upload_keeps_valid_rows_and_reports_bad_ones(marketer, api_client):
    response = api_client(marketer).post(
        "/api/v1/leads/import/", {"file": SimpleUploadedFile("leads.csv", CSV)}, format="multipart"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["created"], body["errors"], body["unchanged"]) == (1, 1, 1)
    assert body["results"][0] == {"row": 1, "status": "created", "id": Lead.objects.get().pk}
    bad = body["results"][1]
    assert bad["row"] == 2 and bad["status"] == "error"
    assert {e["field"] for e in bad["errors"]} == {"email", "company_size"}


def test_a_json_list_and_a_dry_run(marketer, api_client):
    rows = [{"email": "a@example.com"}, {"email": "b@example.com", "stage": "bogus"}]
    response = api_client(marketer).post("/api/v1/leads/import/?dry_run=true", rows, format="json")
    assert response.status_code == 200
    assert [r["status"] for r in response.json()["results"]] == ["created", "error"]
    assert response.json()["dry_run"] is True and not Lead.objects.exists()
    response = api_client(marketer).post("/api/v1/leads/import/", rows, format="json")
    assert response.json()["created"] == 1 and Lead.objects.count() == 1


def test_a_json_file_upload(marketer, api_client):
    upload = SimpleUploadedFile("leads.json", b'[{"email": "a@example.com"}]')
    response = api_client(marketer).post(
        "/api/v1/leads/import/", {"file": upload}, format="multipart"
    )
    assert response.json()["created"] == 1


def test_no_file_is_400_and_a_rep_may_not_import(marketer, rep, api_client):
    assert (
        api_client(marketer).post("/api/v1/leads/import/", {}, format="multipart").status_code
        == 400
    )
    assert (
        api_client(marketer).post("/api/v1/leads/import/", {"x": 1}, format="json").status_code
        == 400
    )
    response = api_client(rep).post("/api/v1/leads/import/", [{"email": "a@b.co"}], format="json")
    assert response.status_code == 403 and not Lead.objects.exists()


def test_a_row_out_of_funnel_order_answers_warning_with_what_was_put_right(marketer, api_client):
    rows = [
        {"email": "odd@example.com", "created_at": "2018-03-10", "mql_at": "2018-03-10",
         "won_at": "2018-03-08 12:00:00", "deal_amount": "0"},
        {"email": "fine@example.com", "created_at": "2018-03-01"},
    ]  # fmt: skip
    response = api_client(marketer).post("/api/v1/leads/import/", rows, format="json")
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
def test_a_time_outside_the_window_is_a_field_error_of_that_row(marketer, value, api_client):
    rows = [{"email": "a@example.com", "mql_at": value}, {"email": "b@example.com"}]
    response = api_client(marketer).post("/api/v1/leads/import/", rows, format="json")
    assert response.status_code == 200
    bad, good = response.json()["results"]
    assert bad["status"] == "error" and bad["errors"][0]["field"] == "mql_at"
    assert "1970-01-01" in bad["errors"][0]["message"]
    assert good["status"] == "created"


def test_a_file_with_a_nul_a_huge_cell_and_an_unclosed_quote_imports_its_other_rows(
    marketer, api_client
):
    data = (
        b"email,first_name\n"
        b"a@example.com,Ada\n"
        b"nul@example.com,N\x00\n"
        b"huge@example.com," + b"x" * 1_048_576 + b"\n"
        b'open@example.com,"Open\n'
        b"b@example.com,Bob\n"
    )
    upload = SimpleUploadedFile("leads.csv", data)
    response = api_client(marketer).post(
        "/api/v1/leads/import/", {"file": upload}, format="multipart"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert [r["status"] for r in body["results"]] == [
        "created", "error", "error", "error", "created",
    ]  # fmt: skip
    messages = [r["errors"][0]["message"] for r in body["results"][1:4]]
    assert "NUL" in messages[0] and "131,072" in messages[1] and "never closed" in messages[2]
    assert set(Lead.objects.values_list("email", flat=True)) == {"a@example.com", "b@example.com"}


# --- large imports: 202, the worker, the status URL ----------------------------------------


@pytest.fixture
def queued(settings, tmp_path, monkeypatch, django_capture_on_commit_callbacks):
    """Imports over two rows go to the worker; the task is caught, to be run by the test."""
    settings.MEDIA_ROOT = tmp_path
    settings.LEAD_IMPORT_INLINE_MAX_ROWS = 2
    sent: list[tuple] = []
    from leads import tasks

    monkeypatch.setattr(tasks.import_leads_file, "delay", lambda *args: sent.append(args))

    def post(client, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(*args, **kwargs)

    return post, sent


ROWS = b"email,first_name\na@example.com,A\nb@example.com,B\nnope,C\nd@example.com,D\n"


def test_a_large_upload_answers_202_with_a_status_url_and_runs_on_the_worker(
    marketer, queued, api_client
):
    post, sent = queued
    client = api_client(marketer)
    upload = SimpleUploadedFile("big.csv", ROWS)
    response = post(client, "/api/v1/leads/import/", {"file": upload}, format="multipart")
    assert response.status_code == 202, response.content
    body = response.json()
    run = LeadImport.objects.get()
    assert body["status_url"] == f"http://testserver/api/v1/leads/import/{run.pk}/"
    assert response["Location"] == body["status_url"]
    assert (body["id"], body["status"], body["rows_done"], body["results"]) == (
        run.pk, "pending", 0, [],
    )  # fmt: skip
    assert sent == [(run.pk,)] and not Lead.objects.exists()  # nothing ran in the request

    from leads import tasks

    assert tasks.import_leads_file(run.pk) == "done"
    status = client.get(body["status_url"]).json()
    assert (status["status"], status["rows_done"], status["rows_total"]) == ("done", 4, 4)
    assert (status["created"], status["errors"], status["failure"]) == (3, 1, "")
    assert status["count"] == 4 and status["next"] is None
    assert [r["status"] for r in status["results"]] == ["created", "created", "error", "created"]
    assert status["results"][0]["id"] == Lead.objects.get(email="a@example.com").pk

    first = client.get(body["status_url"] + "?page_size=3").json()
    assert [r["row"] for r in first["results"]] == [1, 2, 3] and first["previous"] is None
    second = client.get(first["next"]).json()
    assert [r["row"] for r in second["results"]] == [4] and second["next"] is None


def test_a_long_json_list_and_a_large_dry_run_go_to_the_worker_too(marketer, queued, api_client):
    post, sent = queued
    client = api_client(marketer)
    rows = [{"email": "a@example.com"}, 7, {"email": "b@example.com"}]
    response = post(client, "/api/v1/leads/import/?dry_run=true", rows, format="json")
    assert response.status_code == 202 and response.json()["dry_run"] is True
    from leads import tasks

    tasks.import_leads_file(*sent[0])
    status = client.get(response["Location"]).json()
    assert status["status"] == "done" and status["dry_run"] is True
    assert [r["status"] for r in status["results"]] == ["created", "error", "created"]
    assert not Lead.objects.exists()

    response = post(client, "/api/v1/leads/import/", rows, format="json")
    tasks.import_leads_file(*sent[1])
    status = client.get(response["Location"]).json()
    assert (status["created"], status["errors"]) == (2, 1) and Lead.objects.count() == 2


def test_a_small_import_stays_inline_and_names_its_run(marketer, queued, api_client):
    post, sent = queued
    response = post(api_client(marketer), "/api/v1/leads/import/", [{"email": "a@example.com"}] * 2,
                    format="json")  # fmt: skip
    assert response.status_code == 200 and sent == []
    body = response.json()
    assert body["status_url"].endswith(f"/api/v1/leads/import/{body['id']}/")
    assert (body["created"], body["unchanged"]) == (1, 1)


def test_the_status_url_is_the_importers_or_a_managers(
    marketer, marketing_manager, rep, queued, api_client
):
    post, _sent = queued
    response = post(api_client(marketer), "/api/v1/leads/import/", [{"email": "a@example.com"}] * 3,
                    format="json")  # fmt: skip
    url = response["Location"]
    assert api_client(marketing_manager).get(url).status_code == 200
    assert api_client(rep).get(url).status_code == 403
    stranger = UserFactory(username="mkt2", role=Role.MARKETER)
    assert api_client(stranger).get(url).status_code == 404
    assert APIClient().get(url).status_code == 401
    assert api_client(marketer).get("/api/v1/leads/import/999999/").status_code == 404


def test_a_run_that_stopped_beating_reads_as_failed_with_its_committed_rows(
    marketer, settings, api_client
):
    from datetime import timedelta

    from django.utils import timezone

    run = LeadImport.objects.create(
        created_by=marketer, filename="big.csv", status="running", total_rows=98_000,
        created_count=98_000,
    )  # fmt: skip
    LeadImport.objects.filter(pk=run.pk).update(
        heartbeat_at=timezone.now() - timedelta(seconds=settings.LEAD_IMPORT_STALE_SECONDS + 5)
    )
    body = api_client(marketer).get(f"/api/v1/leads/import/{run.pk}/").json()
    assert (body["status"], body["failure"], body["rows_done"]) == ("failed", "stalled", 98_000)
    assert "The first 98,000 rows were imported" in body["failure_detail"]
    assert body["finished_at"]


# --- on a real worker -------------------------------------------------------------------------


@pytest.fixture
def worker(monkeypatch):
    """A real Celery worker on a queue of its own; the import task is routed to it."""
    import subprocess
    import sys
    import uuid
    from pathlib import Path

    from leads import tasks
    from tests.conftest import need
    from tests.foundation.test_infrastructure import _broker_reachable, _database_url_for_subprocess

    need(_broker_reachable(), "the Celery broker (REDIS_URL) is not reachable")
    queue = f"imports-{uuid.uuid4().hex[:8]}"
    task = tasks.import_leads_file
    monkeypatch.setattr(task, "delay", lambda *args: task.apply_async(args, queue=queue))
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "-Q", queue,
         "--loglevel=INFO", "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=Path(__file__).resolve().parents[3],
        env={**os.environ, "DATABASE_URL": _database_url_for_subprocess()},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    yield process
    from tests.processes import process_stop

    process_stop(process)


def _poll(client, url: str, until, *, worker, seconds: float = 180) -> dict:
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        body = client.get(url).json()
        if until(body):
            return body
        if worker is not None and worker.poll() is not None:
            pytest.fail(f"the worker exited:\n{worker.stdout.read()[-3000:]}")
        time.sleep(0.3)
    pytest.fail(f"timed out; last status {body}")


def _big_csv(rows: int) -> bytes:
    return b"email,first_name\n" + b"".join(b"w%d@example.com,W\n" % n for n in range(rows))


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_large_import_runs_on_a_real_worker_and_its_status_url_shows_it(
    marketer, worker, api_client
):
    client = api_client(marketer)
    upload = SimpleUploadedFile("big.csv", _big_csv(2500))
    response = client.post("/api/v1/leads/import/", {"file": upload}, format="multipart")
    assert response.status_code == 202, response.content[:300]
    done = _poll(client, response["Location"], lambda b: b["status"] in ("done", "failed"),
                 worker=worker)  # fmt: skip
    assert (done["status"], done["rows_done"], done["rows_total"], done["created"]) == (
        "done", 2500, 2500, 2500,
    )  # fmt: skip
    assert done["count"] == 2500 and len(done["results"]) == 50 and done["next"]
    assert Lead.objects.count() == 2500
    # The stored file is gone: the worker deletes it once the run is recorded done, a
    # moment after the status says so.
    deadline = time.monotonic() + 30
    while LeadImport.objects.get().upload and time.monotonic() < deadline:
        time.sleep(0.05)
    assert LeadImport.objects.get().upload == ""


@pytest.mark.worker
@pytest.mark.faults
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_import_leaves_a_failed_run_and_exactly_its_committed_rows(
    marketer, worker, settings, api_client
):
    import signal

    client = api_client(marketer)
    upload = SimpleUploadedFile("big.csv", _big_csv(30_000))
    url = client.post("/api/v1/leads/import/", {"file": upload}, format="multipart")["Location"]
    _poll(client, url, lambda b: b["status"] == "running" and b["rows_done"] >= 1000,
          worker=worker)  # fmt: skip
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=30)
    running = client.get(url).json()
    assert running["status"] == "running"  # silent only a moment: not yet taken for dead

    settings.LEAD_IMPORT_STALE_SECONDS = 0  # the heartbeat is now "too old"
    # A batch whose COMMIT the worker sent just before it died is still finished by the
    # database (deferred checks take a moment) and moves the heartbeat once more; the first
    # read after that commit takes the run for dead. CI once read in between.
    failed = _poll(client, url, lambda b: b["status"] != "running", worker=None, seconds=30)
    assert (failed["status"], failed["failure"]) == ("failed", "stalled")
    assert 1000 <= failed["rows_done"] < 30_000
    # Rows 1 to rows_done are in, none after: the batch in hand died with the worker.
    assert Lead.objects.count() == failed["created"] == failed["rows_done"]
    assert f"The first {failed['rows_done']:,} rows were imported" in failed["failure_detail"]
    assert LeadImport.objects.get().upload == ""  # its file is deleted with the verdict


def test_a_deeply_nested_json_file_is_a_clear_error_not_a_500(active_agreement, marketer):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(marketer)
    deep = "[" + '{"a":' * 100_000 + "1" + "}" * 100_000 + "]"
    response = client.post(
        "/api/v1/leads/import/",
        {"file": SimpleUploadedFile("deep.json", deep.encode(), "application/json")},
        format="multipart",
    )
    assert response.status_code in (200, 400), response.content  # a row or file error
    assert "nests deeper than 32 levels" in str(response.json())
    lines = (
        '{"email": "ok@example.com"}\n'
        + '{"email": "deep@example.com", "custom": '
        + "[" * 40
        + "]" * 40
        + "}\n"
    )
    response = client.post(
        "/api/v1/leads/import/",
        {"file": SimpleUploadedFile("rows.jsonl", lines.encode(), "application/json")},
        format="multipart",
    )
    assert response.status_code == 200, response.content
    statuses = [row["status"] for row in response.json()["results"]]
    assert statuses == ["created", "error"]
