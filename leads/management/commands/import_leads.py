"""`python manage.py import_leads FILE`: the importer from the command line, with progress.

Runs the import here (no request to time out), or with --background queues it for the
Celery worker like a large upload on the page or the API (leads.imports.services).
"""

from __future__ import annotations

import csv
import os
import time
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from config.exports import csv_safe
from leads.imports.importer import (
    IMPORT_EXTENSIONS,
    REPORT_HEADER,
    ImportFileError,
    ImportResult,
    RowResult,
    import_file_check,
    report_lines,
    rows_from_file,
)
from leads.imports.services import import_upload_save, lead_import_start


class Command(BaseCommand):
    help = (
        "Import leads from a CSV or JSON (array or JSON Lines) file: upsert by external_id, "
        "else email in any case; history columns become stage events. Bad rows are "
        "reported and never stop the others; running it again changes nothing."
    )
    # A data command: the system checks (every URL and view imported, ~0.5 s) belong to
    # the deploy (`check --deploy`, migrate), not to each import, where they were a fifth
    # of a 10k-row file's time.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="Path of the CSV or JSON file.")
        parser.add_argument("--dry-run", action="store_true", help="Report, write nothing.")
        parser.add_argument("--user", help="Username recorded as the creator of the leads.")
        parser.add_argument(
            "--report", help="Write the per-row report (CSV) to this path as rows are done."
        )
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")
        parser.add_argument(
            "--background",
            action="store_true",
            help="Queue the import for the Celery worker and return at once; follow it on "
            "the import page (/leads/import/runs/<id>/) or the API's status URL.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = options["file"]
        if not os.path.isfile(path):
            raise CommandError(f"No such file: {path}")
        user = None
        if options["user"]:
            user = get_user_model().objects.filter(username=options["user"]).first()
            if user is None:
                raise CommandError(f"No user {options['user']!r}.")
        if options["background"]:
            self._queue(path, user=user, dry_run=options["dry_run"])
            return
        size = os.path.getsize(path) or 1
        show = not options["no_progress"]
        report_file = open(options["report"], "w", newline="") if options["report"] else None  # noqa: SIM115
        writer = csv.writer(report_file) if report_file else None
        if writer:
            writer.writerow(REPORT_HEADER)
        errors_shown = 0
        started = time.monotonic()

        with open(path, "rb") as raw:

            def on_result(result: RowResult) -> None:
                nonlocal errors_shown
                if writer:
                    for line in report_lines(result.as_dict()):
                        writer.writerow([csv_safe(v) for v in line])
                if result.status in ("error", "warning") and errors_shown < 20 and not writer:
                    errors_shown += 1
                    for problem in result.errors or result.warnings:
                        self.stderr.write(
                            f"row {result.row} ({result.status}): {problem['field']}: "
                            f"{problem['message']}"
                        )

            def on_progress(result: ImportResult) -> None:
                if not show:
                    return
                done = 1.0 if raw.closed else min(raw.tell() / size, 1.0)
                width = 30
                bar = "#" * int(done * width) + "." * (width - int(done * width))
                rate = result.total / max(time.monotonic() - started, 0.001)
                self.stderr.write(
                    f"\r[{bar}] {done:4.0%} {result.total:,} rows "
                    f"({result.created:,} new, {result.updated:,} updated, "
                    f"{result.errors:,} bad, {result.warnings:,} warned) {rate:,.0f} rows/s",
                    ending="",
                )
                self.stderr.flush()

            try:
                result = lead_import_start(
                    user=user,
                    filename=os.path.basename(path),
                    rows=rows_from_file(raw, name=path),
                    dry_run=options["dry_run"],
                    keep_results=False,
                    full_report=False,
                    on_result=on_result,
                    on_progress=on_progress,
                ).result
                assert result is not None  # ran here, not queued
            finally:
                if report_file:
                    report_file.close()
        if show:
            self.stderr.write("")
        prefix = "Dry run: " if options["dry_run"] else ""
        self.stdout.write(
            f"{prefix}{result.total} rows: {result.created} created, {result.updated} updated, "
            f"{result.unchanged} unchanged, {result.errors} with errors; "
            f"{result.warnings} of the created with warnings "
            f"(import #{result.record.pk if result.record else '-'})."
        )

    def _queue(self, path: str, *, user: Any, dry_run: bool) -> None:
        """Store the file (checked as an upload is, but for its size: the command takes any)
        and queue its run for the worker."""
        name = os.path.basename(path)
        if not name.lower().endswith(IMPORT_EXTENSIONS):
            raise CommandError("The file must be .csv, .txt, .json, .jsonl or .ndjson.")
        with open(path, "rb") as raw:
            try:
                import_file_check(stream=raw, name=name, size=None)
            except ImportFileError as exc:
                raise CommandError(str(exc)) from None
            upload = import_upload_save(stream=raw, name=name)
        record = lead_import_start(
            user=user, filename=name, upload=upload, dry_run=dry_run, background=True
        ).record
        self.stdout.write(
            f"Import #{record.pk} queued for the worker; follow it on /leads/import/runs/"
            f"{record.pk}/ or GET /api/v1/leads/import/{record.pk}/."
        )
