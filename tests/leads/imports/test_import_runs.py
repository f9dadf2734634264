"""Import runs (leads.imports.services): the worker's side, runs that die, and the
beat jobs that fail stalled runs and delete uploads nobody will import."""

from __future__ import annotations

import io
import os
import time
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.utils import timezone

from leads import tasks
from leads.imports import services as import_runs
from leads.imports.importer import ImportAbandoned, lead_import
from leads.imports.services import (
    import_file_runs_inline,
    import_upload_save,
    lead_import_start,
)
from leads.models import Lead, LeadImport

pytestmark = pytest.mark.django_db

Status, Failure = LeadImport.Status, LeadImport.Failure


@pytest.fixture(autouse=True)
def _media(settings, tmp_path, active_agreement):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def _csv(n: int, start: int = 0) -> bytes:
    return b"email\n" + b"".join(b"r%d@example.com\n" % i for i in range(start, start + n))


def _rows(n: int) -> list[dict[str, str]]:
    return [{"email": f"r{i}@example.com"} for i in range(n)]


def _queued(data: bytes, name: str = "leads.csv", **fields) -> LeadImport:
    upload = import_upload_save(stream=io.BytesIO(data), name=name)
    return LeadImport.objects.create(filename=name, upload=upload, **fields)


def _age(path, hours: float) -> None:
    stamp = time.time() - hours * 3600
    os.utime(path, (stamp, stamp))


# --- the rule ---------------------------------------------------------------------------------


def test_the_inline_rule_counts_rows_and_bytes(settings):
    settings.LEAD_IMPORT_INLINE_MAX_ROWS = 3
    settings.LEAD_IMPORT_INLINE_MAX_BYTES = 1000
    small, many = io.BytesIO(_csv(3)), io.BytesIO(_csv(4))
    assert import_file_runs_inline(stream=small, name="a.csv", size=len(small.getvalue()))
    assert small.tell() == 0  # rewound for the import
    assert not import_file_runs_inline(stream=many, name="a.csv", size=len(many.getvalue()))
    # A quoted cell over two lines is one row: rows are counted by the importer's reader.
    quoted = io.BytesIO(b'email,note\na@example.com,"one\ntwo"\nb@example.com,x\nc@x.io,y\n')
    assert import_file_runs_inline(stream=quoted, name="a.csv", size=60)
    assert not import_file_runs_inline(stream=io.BytesIO(_csv(1)), name="a.csv", size=1001)


# --- the worker's run -----------------------------------------------------------------------


def test_the_worker_runs_a_queued_import_once_and_deletes_its_file(marketer):
    run = _queued(_csv(5), created_by=marketer)
    path = default_storage.path(run.upload)
    assert tasks.import_leads_file(run.pk) == "done"
    run.refresh_from_db()
    assert (run.status, run.created_count, run.rows_expected, run.upload) == ("done", 5, 5, "")
    assert run.started_at and run.heartbeat_at and run.finished_at
    assert not os.path.exists(path)
    assert Lead.objects.filter(created_by=marketer).count() == 5
    assert tasks.import_leads_file(run.pk) == "skipped"  # redelivered: imports once


def test_a_queued_run_whose_file_is_gone_fails_and_says_so():
    run = LeadImport.objects.create(filename="gone.csv", upload="imports/gone.csv")
    assert tasks.import_leads_file(run.pk) == "failed"
    run.refresh_from_db()
    assert (run.status, run.failure) == ("failed", Failure.UPLOAD_MISSING)
    assert "Upload the file again" in import_runs.import_run_failure_message(run)


def test_a_run_that_raises_keeps_its_committed_batches_and_says_which(monkeypatch):
    def rows():
        yield from _rows(5)
        raise RuntimeError("the disk went away")

    record = LeadImport.objects.create(filename="x.csv")
    with pytest.raises(RuntimeError):
        lead_import(rows=rows(), user=None, record=record, batch_size=2)
    record.refresh_from_db()
    # Rows 1-4 were committed in two batches; row 5 was read but never written.
    assert (record.status, record.failure, record.total_rows) == ("failed", Failure.ERROR, 4)
    assert [r["row"] for r in record.report] == [1, 2, 3, 4]
    assert Lead.objects.count() == 4
    assert "The first 4 rows were imported" in import_runs.import_run_failure_message(record)


def test_a_run_at_its_time_limit_is_failed_as_such_with_its_committed_rows(monkeypatch):
    from celery.exceptions import SoftTimeLimitExceeded

    from leads.imports import importer

    batches = []

    def slow_progress(result):
        batches.append(result.total)
        if len(batches) == 2:
            raise SoftTimeLimitExceeded()

    real = importer.lead_import
    monkeypatch.setattr(
        import_runs,
        "lead_import",
        lambda **kw: real(**{**kw, "batch_size": 2, "on_progress": slow_progress}),
    )
    run = _queued(_csv(6))
    assert tasks.import_leads_file(run.pk) == "failed"
    run.refresh_from_db()
    # The limit struck after the second batch had committed (its counts with it).
    assert (run.status, run.failure, run.total_rows, run.upload) == (
        "failed", Failure.TIME_LIMIT, 4, "",
    )  # fmt: skip
    assert Lead.objects.count() == 4
    assert "ran longer than an import may" in import_runs.import_run_failure_message(run)


def test_a_run_declared_dead_while_it_runs_stops_and_rolls_its_batch_back():
    record = LeadImport.objects.create(filename="x.csv")

    def on_progress(result):
        # The stale rule marks the run failed between two batches (a very slow batch).
        LeadImport.objects.filter(pk=record.pk).update(status="failed", failure="stalled")

    with pytest.raises(ImportAbandoned):
        lead_import(rows=_rows(5), user=None, record=record, batch_size=2,
                    on_progress=on_progress)  # fmt: skip
    record.refresh_from_db()
    assert (record.status, record.failure, record.total_rows) == ("failed", "stalled", 2)
    assert Lead.objects.count() == 2  # the second batch was rolled back with the heartbeat


# --- runs that stopped beating ----------------------------------------------------------------


def test_the_beat_job_fails_runs_that_stopped_beating_and_no_others(settings):
    settings.LEAD_IMPORT_STALE_SECONDS = 600
    now = timezone.now()
    stalled = _queued(_csv(2), status="running", total_rows=1000)
    LeadImport.objects.filter(pk=stalled.pk).update(heartbeat_at=now - timedelta(minutes=11))
    alive = LeadImport.objects.create(status="running", heartbeat_at=now - timedelta(minutes=2))
    legacy = LeadImport.objects.create(status="running")  # from before heartbeats
    LeadImport.objects.filter(pk=legacy.pk).update(created_at=now - timedelta(days=2))
    waiting = LeadImport.objects.create(status="pending")
    LeadImport.objects.filter(pk=waiting.pk).update(created_at=now - timedelta(hours=1))
    stalled_file = default_storage.path(stalled.upload)

    assert tasks.fail_stalled_imports() == 2
    states = dict(LeadImport.objects.values_list("pk", "status"))
    assert states == {stalled.pk: "failed", alive.pk: "running", legacy.pk: "failed",
                      waiting.pk: "pending"}  # fmt: skip
    stalled.refresh_from_db()
    assert (stalled.failure, stalled.total_rows, stalled.upload) == ("stalled", 1000, "")
    assert not os.path.exists(stalled_file)
    assert tasks.fail_stalled_imports() == 0  # safe twice


def test_the_run_page_shows_a_dead_run_as_failed_with_what_is_in(marketer, settings):
    from django.test import Client

    run = LeadImport.objects.create(created_by=marketer, filename="big.csv", status="running",
                                    total_rows=3000)  # fmt: skip
    LeadImport.objects.filter(pk=run.pk).update(
        heartbeat_at=timezone.now() - timedelta(seconds=settings.LEAD_IMPORT_STALE_SECONDS + 1)
    )
    client = Client()
    client.force_login(marketer)
    page = client.get(f"/leads/import/runs/{run.pk}/").content.decode()
    assert "The first 3,000 rows were imported and stay" in page
    assert "hx-trigger" not in page  # no more polling


# --- uploads nobody will import -----------------------------------------------------------


def test_the_beat_job_deletes_abandoned_uploads_and_keeps_those_in_use(_media, settings):
    settings.LEAD_IMPORT_UPLOAD_MAX_AGE_HOURS = 24
    folder = _media / "imports"
    never_mapped = default_storage.save("imports/never-mapped.csv", ContentFile(_csv(1)))
    being_mapped = default_storage.save("imports/being-mapped.csv", ContentFile(_csv(1)))
    never_started = _queued(_csv(1))
    LeadImport.objects.filter(pk=never_started.pk).update(
        created_at=timezone.now() - timedelta(hours=25)
    )
    running = _queued(_csv(1), status="running", heartbeat_at=timezone.now())
    leftover = _queued(_csv(1), status="done")
    collateral = default_storage.save("collateral/deck.pdf", ContentFile(b"%PDF-1.4"))
    for name in (never_mapped, never_started.upload, running.upload, leftover.upload, collateral):
        _age(default_storage.path(name), hours=30)
    _age(default_storage.path(being_mapped), hours=2)

    assert tasks.purge_import_uploads() == 3
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [being_mapped.split("/")[1], running.upload.split("/")[1]]
    )
    assert default_storage.exists(collateral)
    never_started.refresh_from_db()
    assert (never_started.status, never_started.failure, never_started.upload) == (
        "failed", Failure.NOT_STARTED, "",
    )  # fmt: skip
    assert "No worker started this import" in import_runs.import_run_failure_message(never_started)
    leftover.refresh_from_db()
    assert leftover.upload == ""
    assert tasks.purge_import_uploads() == 0  # safe twice


def test_the_beat_schedule_runs_both_import_jobs():
    from config.celery import app

    tasks_scheduled = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert {"leads.tasks.fail_stalled_imports", "leads.tasks.purge_import_uploads"} <= (
        tasks_scheduled
    )


# --- the command through the same door --------------------------------------------------------


def test_the_command_can_queue_a_file_for_the_worker(
    tmp_path, marketer, monkeypatch, django_capture_on_commit_callbacks
):
    sent = []
    monkeypatch.setattr(tasks.import_leads_file, "delay", lambda *args: sent.append(args))
    path = tmp_path / "leads.csv"
    path.write_bytes(_csv(3))
    out = io.StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("import_leads", str(path), "--background", "--user", marketer.username,
                     stdout=out)  # fmt: skip
    run = LeadImport.objects.get()
    assert f"Import #{run.pk} queued" in out.getvalue() and sent == [(run.pk,)]
    assert not Lead.objects.exists()
    tasks.import_leads_file(run.pk)
    assert Lead.objects.filter(created_by=marketer).count() == 3


def test_start_takes_an_upload_or_rows_not_both():
    with pytest.raises(ValueError):
        lead_import_start(user=None, filename="x", upload="imports/a.csv", rows=[])
    with pytest.raises(ValueError):
        lead_import_start(user=None, filename="x")
