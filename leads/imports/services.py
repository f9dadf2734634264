"""Import runs: how an import starts, runs on the worker, and never stays "running" forever.

One door for the import page, the API and `manage.py import_leads`: lead_import_start
runs an import now, or queues it for the Celery worker. The rule for which is one, for
the page and the API alike (import_file_runs_inline, import_rows_run_inline): at most
LEAD_IMPORT_INLINE_MAX_ROWS rows, in a file of at most LEAD_IMPORT_INLINE_MAX_BYTES, run
within the request; anything larger, dry run or not, runs on the worker.

A file waiting for the worker (or, on the page, for its columns to be mapped) is kept in
the default storage under imports/ and deleted once its run is over, however it ends.

A run beats (LeadImport.heartbeat_at) with every committed batch. One that stops beating
(worker killed, out of memory, hard time limit, a web process that timed out) is marked
failed once silent for LEAD_IMPORT_STALE_SECONDS: by the beat job fail-stalled-imports,
and on reading the run. Its counts are those of the committed batches, so rows 1 to
`total_rows` are in and the rest are not; importing the same file again finishes it
(rows already in come back unchanged). Files nobody imports are deleted by the beat job
purge-import-uploads after LEAD_IMPORT_UPLOAD_MAX_AGE_HOURS.
"""

from __future__ import annotations

import io
import itertools
import json
import logging
import uuid
from collections.abc import Callable, Iterable, Sized
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from pathlib import PurePosixPath
from typing import IO, Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from alignment.accounts.roles import lead_import_refusal
from config.events import publish
from leads.events import LeadImportQueued
from leads.imports.importer import (
    ImportFileError,
    ImportResult,
    RowResult,
    lead_import,
    rows_from_file,
)
from leads.models import LeadImport

logger = logging.getLogger(__name__)

UPLOAD_DIR = "imports"
ACTIVE = (LeadImport.Status.PENDING, LeadImport.Status.RUNNING)


@dataclass
class ImportStarted:
    record: LeadImport
    result: ImportResult | None  # the finished import when it ran now; None when queued


# --- the one rule: now or on the worker -----------------------------------------------------


def import_rows_run_inline(*, rows: Sized) -> bool:
    """Rows in hand (the API's JSON list) run now when there are few enough."""
    return len(rows) <= settings.LEAD_IMPORT_INLINE_MAX_ROWS


def import_file_runs_inline(*, stream: IO[bytes], name: str, size: int) -> bool:
    """A file runs now when it is small enough in bytes and in rows (counted by the
    importer's own reader, up to one past the limit); the stream is left rewound."""
    if size > settings.LEAD_IMPORT_INLINE_MAX_BYTES:
        return False
    limit = settings.LEAD_IMPORT_INLINE_MAX_ROWS
    head = io.BytesIO(stream.read())  # at most LEAD_IMPORT_INLINE_MAX_BYTES
    stream.seek(0)
    try:
        counted = sum(1 for _row in itertools.islice(rows_from_file(head, name=name), limit + 1))
    except ImportFileError:
        return True  # unreadable as a whole: the import reports it at once
    return counted <= limit


# --- uploads in storage -------------------------------------------------------------------


def import_upload_save(*, stream: IO[bytes], name: str) -> str:
    """Keep an uploaded file (already checked) for a later run; returns its storage name."""
    suffix = PurePosixPath(name).suffix.lower()
    content = stream if isinstance(stream, File) else File(stream)
    return default_storage.save(f"{UPLOAD_DIR}/{uuid.uuid4().hex}{suffix}", content)


def import_rows_save(*, rows: Iterable[Any]) -> str:
    """Keep rows in hand as a JSON Lines file, read back by the same reader as any file."""
    lines = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    return default_storage.save(
        f"{UPLOAD_DIR}/{uuid.uuid4().hex}.jsonl", ContentFile(lines.encode("utf-8"))
    )


def import_upload_exists(*, upload: str) -> bool:
    return bool(upload) and upload.startswith(f"{UPLOAD_DIR}/") and default_storage.exists(upload)


def import_upload_delete(*, upload: str) -> None:
    """Delete a stored upload; one already gone is fine (safe twice)."""
    if upload and upload.startswith(f"{UPLOAD_DIR}/"):
        default_storage.delete(upload)


def _release(record: LeadImport) -> bool:
    """Delete a run's file and forget it, unless another waiting run still needs it;
    True when a file was deleted."""
    if not record.upload:
        return False
    upload, deleted = record.upload, False
    shared = LeadImport.objects.filter(upload=upload, status__in=ACTIVE).exclude(pk=record.pk)
    if not shared.exists() and import_upload_exists(upload=upload):
        import_upload_delete(upload=upload)
        deleted = True
    LeadImport.objects.filter(pk=record.pk).update(upload="")
    record.upload = ""
    return deleted


# --- starting and running -------------------------------------------------------------------


def lead_import_start(
    *,
    user: User | None,
    filename: str,
    upload: str = "",
    rows: Iterable[dict[str, Any]] | None = None,
    mapping: dict[str, str] | None = None,
    dry_run: bool = False,
    background: bool = False,
    keep_upload_if_refused: bool = False,
    keep_results: bool = True,
    full_report: bool = True,
    on_result: Callable[[RowResult], None] | None = None,
    on_progress: Callable[[ImportResult], None] | None = None,
) -> ImportStarted:
    """Start one import run from a stored upload (`upload`) or rows in hand (`rows`): the
    one entry for the import page, the API and `manage.py import_leads`. `user` None is the
    command line; a person needs the import permission (alignment.accounts.roles).

    `background`: the run is recorded as pending (rows in hand are stored first) and the
    worker's task is queued once that is committed; a broker that refuses the task
    deletes the run (nothing started; the file too unless `keep_upload_if_refused`, for
    the page's "try again") and raises kombu's OperationalError, which the caller
    answers with 503. Otherwise the import runs now and its result comes back; a stored
    upload is deleted once the run is over.
    """
    if bool(upload) == (rows is not None):
        raise ValueError("Start an import from an upload or from rows, one of them.")
    refusal = lead_import_refusal(user=user) if user is not None else None
    if refusal:
        raise PermissionDenied(refusal)
    created_by = user if user is not None and user.pk else None
    if background:
        if rows is not None:
            upload = import_rows_save(rows=rows)
        record = LeadImport.objects.create(
            created_by=created_by,
            filename=filename[:255],
            dry_run=dry_run,
            upload=upload,
            mapping=mapping,
        )
        publish(LeadImportQueued(import_id=record.pk, keep_upload=keep_upload_if_refused))
        return ImportStarted(record=record, result=None)

    record = LeadImport.objects.create(
        created_by=created_by, filename=filename[:255], dry_run=dry_run, upload=upload,
        mapping=mapping,
    )  # fmt: skip
    run = partial(
        lead_import, user=user, dry_run=dry_run, mapping=mapping, record=record,
        keep_results=keep_results, full_report=full_report, on_result=on_result,
        on_progress=on_progress,
    )  # fmt: skip
    if rows is not None:
        return ImportStarted(record=record, result=run(rows=rows))
    try:
        with default_storage.open(upload, "rb") as stream:
            result = run(rows=rows_from_file(stream, name=upload))
    finally:
        _release(record)
    return ImportStarted(record=record, result=result)


def lead_import_refused(*, import_id: int, keep_upload: bool) -> None:
    """The broker refused a queued run: nothing started, so the run goes (and its file,
    unless the page keeps it for "try again")."""
    record = LeadImport.objects.filter(pk=import_id, status=LeadImport.Status.PENDING).first()
    if record is None:
        return
    upload = record.upload
    record.delete()
    if upload and not keep_upload:
        import_upload_delete(upload=upload)


def lead_import_run(*, import_id: int) -> LeadImport | None:
    """The worker's side: run a pending import from its stored upload.

    The run is claimed (pending → running) by one conditional UPDATE, so a task
    delivered twice, or redelivered while the first delivery still runs, imports once;
    a run already claimed, finished or gone is left alone (None). The upload is deleted
    when the run ends, however it ends; a missing one fails the run.
    """
    now = timezone.now()
    claimed = LeadImport.objects.filter(pk=import_id, status=LeadImport.Status.PENDING).update(
        status=LeadImport.Status.RUNNING, started_at=now, heartbeat_at=now
    )
    if not claimed:
        return None
    record = LeadImport.objects.select_related("created_by").get(pk=import_id)
    try:
        if not import_upload_exists(upload=record.upload):
            _fail(record, failure=LeadImport.Failure.UPLOAD_MISSING)
            return record
        record.rows_expected = _rows_in(record.upload)
        LeadImport.objects.filter(pk=record.pk).update(rows_expected=record.rows_expected)
        with default_storage.open(record.upload, "rb") as stream:
            lead_import(
                rows=rows_from_file(stream, name=record.upload),
                user=record.created_by,
                dry_run=record.dry_run,
                mapping=record.mapping,
                record=record,
                keep_results=False,
            )
    except SoftTimeLimitExceeded:
        # lead_import recorded the failure with its committed rows; say why it stopped.
        logger.warning("Import %s reached its time limit", import_id)
        LeadImport.objects.filter(pk=import_id, status=LeadImport.Status.FAILED).update(
            failure=LeadImport.Failure.TIME_LIMIT
        )
    finally:
        _release(record)
    record.refresh_from_db()
    return record


def _rows_in(upload: str) -> int | None:
    """The file's rows, for the progress bar (None when the file cannot be read whole)."""
    try:
        with default_storage.open(upload, "rb") as stream:
            return sum(1 for _row in rows_from_file(stream, name=upload))
    except ImportFileError:
        return None


def _fail(record: LeadImport, *, failure: str, now: datetime | None = None) -> bool:
    """Mark a waiting or running run failed (its committed rows stay); False if it had
    already ended."""
    now = now or timezone.now()
    failed = LeadImport.objects.filter(pk=record.pk, status__in=ACTIVE).update(
        status=LeadImport.Status.FAILED, failure=failure, finished_at=now
    )
    if failed:
        record.status, record.failure, record.finished_at = (
            LeadImport.Status.FAILED, failure, now,
        )  # fmt: skip
    return bool(failed)


# --- runs that died, files nobody imports ---------------------------------------------------


def lead_imports_fail_stalled(*, now: datetime | None = None, pk: int | None = None) -> int:
    """Mark failed every running run silent for LEAD_IMPORT_STALE_SECONDS (only run `pk`
    when given); returns how many. Safe twice, and safe against a run still alive: the
    update holds only while the heartbeat is the one found stale."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.LEAD_IMPORT_STALE_SECONDS)
    stalled = LeadImport.objects.filter(status=LeadImport.Status.RUNNING).filter(
        Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, created_at__lt=cutoff)
    )
    if pk is not None:
        stalled = stalled.filter(pk=pk)
    failed = 0
    for record in stalled.only("pk", "upload", "heartbeat_at"):
        if LeadImport.objects.filter(
            pk=record.pk, status=LeadImport.Status.RUNNING, heartbeat_at=record.heartbeat_at
        ).update(
            status=LeadImport.Status.FAILED,
            failure=LeadImport.Failure.STALLED,
            finished_at=now,
        ):
            failed += 1
            logger.warning("Import %s stopped beating; marked failed", record.pk)
            _release(record)
    return failed


def lead_import_check(*, record: LeadImport) -> LeadImport:
    """A run as it is now: one that stopped beating is marked failed on reading it."""
    if record.status == LeadImport.Status.RUNNING and lead_imports_fail_stalled(pk=record.pk):
        record.refresh_from_db()
    return record


def import_uploads_purge(*, now: datetime | None = None) -> int:
    """Delete uploads nobody will import; returns how many files went. Safe twice.

    A run still pending LEAD_IMPORT_UPLOAD_MAX_AGE_HOURS after it was queued will never
    start (its task was lost) and is failed; an ended run's leftover file goes at once;
    a file no waiting or running run needs (a page upload never mapped) goes once it is
    that old.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(hours=settings.LEAD_IMPORT_UPLOAD_MAX_AGE_HOURS)
    deleted = 0
    never_started = LeadImport.objects.filter(
        status=LeadImport.Status.PENDING, created_at__lt=cutoff
    )
    for record in never_started:
        _fail(record, failure=LeadImport.Failure.NOT_STARTED, now=now)
    for record in (
        LeadImport.objects.exclude(status__in=ACTIVE).exclude(upload="").only("pk", "upload")
    ):
        deleted += _release(record)
    in_use = set(
        LeadImport.objects.filter(status__in=ACTIVE)
        .exclude(upload="")
        .values_list("upload", flat=True)
    )
    try:
        _folders, files = default_storage.listdir(UPLOAD_DIR)
    except FileNotFoundError:
        return deleted
    for file in files:
        name = f"{UPLOAD_DIR}/{file}"
        if name in in_use:
            continue
        try:
            old = default_storage.get_modified_time(name) < cutoff
        except FileNotFoundError:
            continue  # deleted meanwhile
        if old:
            default_storage.delete(name)
            deleted += 1
    return deleted


# --- what a failed run means ----------------------------------------------------------------


def import_run_failure_message(record: LeadImport) -> str:
    """Why a failed run stopped and what of it is in, for the person who started it."""
    Failure = LeadImport.Failure
    if record.failure == Failure.UPLOAD_MISSING:
        return _(
            "The uploaded file was gone when the import was to start, so nothing was "
            "imported. Upload the file again."
        )
    if record.failure == Failure.NOT_STARTED:
        return _(
            "No worker started this import within %(hours)s hours, so nothing was imported. "
            "Upload the file again; if this happens again, the background worker is not "
            "running."
        ) % {"hours": settings.LEAD_IMPORT_UPLOAD_MAX_AGE_HOURS}
    if record.failure == Failure.STALLED:
        reason = _(
            "The import stopped: the process running it was lost (no sign of life for "
            "%(minutes)s minutes)."
        ) % {"minutes": max(1, settings.LEAD_IMPORT_STALE_SECONDS // 60)}
    elif record.failure == Failure.TIME_LIMIT:
        reason = _("The import stopped: it ran longer than an import may.")
    else:
        reason = _("The import stopped on an error.")
    done = record.total_rows
    if record.dry_run:
        kept = _("A dry run writes nothing.")
    elif not done:
        kept = _("No row was imported.")
    else:
        kept = ngettext(
            "The first row was imported and stays; the rows after it were not imported. "
            "Import the same file again to finish: rows already in come back unchanged.",
            "The first %(n)s rows were imported and stay; the rows after them were not "
            "imported. Import the same file again to finish: rows already in come back "
            "unchanged.",
            done,
        ) % {"n": f"{done:,}"}
    return f"{reason} {kept}"
