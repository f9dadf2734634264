"""The import page for marketers: upload, column mapping, dry-run preview, progress, report.

Thin views over leads.importer (the same engine as the API and `manage.py import_leads`).
An uploaded file waits under MEDIA_ROOT/imports/ while its columns are mapped; small
files are imported within the request, larger ones by a Celery task whose progress
the run page polls.
"""

from __future__ import annotations

import itertools
import logging
import uuid
from pathlib import Path
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from config.exports import csv_lines
from leads.importer import (
    COLUMNS,
    CUSTOM_PREFIX,
    IMPORT_EXTENSIONS,
    PROBLEM_STATUSES,
    ROW_ERROR_KEY,
    ImportFileError,
    column_mapping_default,
    custom_field_slug,
    import_file_check,
    lead_import,
    report_csv_rows,
    rows_from_file,
)
from leads.models import LeadImport
from leads.selectors import lead_import_visible

logger = logging.getLogger(__name__)

SESSION_KEY = "lead_import_uploads"
PREVIEW_ROWS = 1000
SAMPLE_ROWS = 5
EXTENSIONS = IMPORT_EXTENSIONS


def _upload_dir() -> Path:
    folder = Path(settings.MEDIA_ROOT) / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class UploadForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("File (CSV or JSON)"),
        help_text=gettext_lazy(
            "A header row of column names; or a JSON array / JSON Lines of objects."
        ),
    )

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if not (upload.name or "").lower().endswith(EXTENSIONS):
            raise forms.ValidationError(_("Upload a .csv or .json file."))
        if not upload.size:
            raise forms.ValidationError(_("The file is empty."))
        try:
            import_file_check(stream=upload, name=upload.name, size=upload.size)
        except ImportFileError as exc:
            raise forms.ValidationError(str(exc)) from None
        return upload


def _target_choices(column: str) -> list[tuple[str, str]]:
    name = column.strip()
    if name.lower().startswith(CUSTOM_PREFIX):  # a `custom:<name>` column names its field
        name = name[len(CUSTOM_PREFIX) :]
    slug = custom_field_slug(name)
    choices = [("", _("— ignore —")), *[(c, c) for c in COLUMNS]]
    if slug:
        choices.append((f"{CUSTOM_PREFIX}{slug}", _("custom field “%(name)s”") % {"name": slug}))
    return choices


class MappingForm(forms.Form):
    """One choice per file column: which import column (or custom field) it fills."""

    def __init__(self, *args: Any, columns: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.columns = columns
        defaults = column_mapping_default(columns)
        for index, column in enumerate(columns):
            self.fields[f"col_{index}"] = forms.ChoiceField(
                label=column or _("(unnamed column %(n)s)") % {"n": index + 1},
                choices=_target_choices(column),
                required=False,
                initial=defaults.get(column, ""),
            )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        targets = [v for k, v in data.items() if k.startswith("col_") and v]
        duplicated = {t for t in targets if targets.count(t) > 1}
        if duplicated:
            raise forms.ValidationError(
                _("Each column may be filled once; chosen twice: %(cols)s.")
                % {"cols": ", ".join(sorted(duplicated))}
            )
        if "email" not in targets:
            raise forms.ValidationError(_("Choose the column that holds the email."))
        return data

    def mapping(self) -> dict[str, str]:
        return {
            column: self.cleaned_data.get(f"col_{index}", "")
            for index, column in enumerate(self.columns)
        }


def _may_import(request: HttpRequest) -> bool:
    return request.user.has_perm("leads.add_leadimport")


def _uploads(request: HttpRequest) -> dict[str, dict[str, str]]:
    return request.session.get(SESSION_KEY, {})


def _sample(path: Path, name: str) -> tuple[list[str], list[dict[str, Any]]]:
    with path.open("rb") as stream:
        rows = list(itertools.islice(rows_from_file(stream, name=name), SAMPLE_ROWS))
    columns: list[str] = []
    for row in rows:
        for key in row:
            if key not in columns and key not in ("__invalid__", ROW_ERROR_KEY):
                columns.append(key)
    return columns, rows


def lead_import_view(request: HttpRequest) -> HttpResponse:
    """Upload a file (marketers), and the recent import runs."""
    allowed = _may_import(request)
    form = UploadForm()
    if request.method == "POST" and allowed:
        form = UploadForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            token = uuid.uuid4().hex
            suffix = Path(upload.name).suffix.lower()
            path = _upload_dir() / f"{token}{suffix}"
            with path.open("wb") as out:
                for chunk in upload.chunks():
                    out.write(chunk)
            uploads = _uploads(request)
            uploads[token] = {"path": str(path), "name": upload.name[:200]}
            request.session[SESSION_KEY] = uploads
            return redirect("leads:import-map", token=token)
    runs = lead_import_visible(user=request.user)[:20]
    return render(
        request,
        "leads/import.html",
        {"form": form, "allowed": allowed, "runs": runs},
        status=400 if form.errors else 200,
    )


def lead_import_map_view(request: HttpRequest, token: str) -> HttpResponse:
    """Map the file's columns, preview a dry run, then import."""
    upload = _uploads(request).get(token)
    if not _may_import(request) or upload is None or not Path(upload["path"]).exists():
        messages.info(request, _("Upload a file to start an import."))
        return redirect("leads:import")
    path, name = Path(upload["path"]), upload["name"]
    columns, sample = _sample(path, name)
    form = MappingForm(request.POST or None, columns=columns)
    preview = None
    if request.method == "POST" and form.is_valid():
        mapping = form.mapping()
        if request.POST.get("action") == "import":
            record = LeadImport.objects.create(created_by=request.user, filename=name)
            _start(record=record, path=path, name=name, mapping=mapping, user_id=request.user.pk)
            uploads = _uploads(request)
            uploads.pop(token, None)
            request.session[SESSION_KEY] = uploads
            return redirect("leads:import-run", pk=record.pk)
        with path.open("rb") as stream:
            rows = itertools.islice(rows_from_file(stream, name=name), PREVIEW_ROWS)
            preview = lead_import(
                rows=rows, user=request.user, dry_run=True, mapping=mapping, filename=name
            )
    return render(
        request,
        "leads/import_map.html",
        {
            "form": form,
            "name": name,
            "columns": columns,
            "mapping_rows": [
                (form[f"col_{index}"], [row.get(column, "") for row in sample])
                for index, column in enumerate(columns)
            ],
            "preview": preview,
            "preview_rows": PREVIEW_ROWS,
            "preview_problems": [
                r.as_dict() for r in preview.results if r.status in PROBLEM_STATUSES
            ][:200]
            if preview
            else [],
        },
    )


def _start(*, record: LeadImport, path: Path, name: str, mapping: dict, user_id: int) -> None:
    """Small files now; larger ones on the worker (inline if the broker is down)."""
    if path.stat().st_size > settings.LEAD_IMPORT_INLINE_MAX_BYTES:
        from leads.tasks import import_leads_file

        try:
            import_leads_file.delay(record.pk, str(path), name, mapping, user_id)
            return
        except Exception:
            logger.exception("Broker unavailable: importing %s in the request", name)
    import_file_run(record_id=record.pk, path=str(path), name=name, mapping=mapping,
                    user_id=user_id)  # fmt: skip


def import_file_run(
    *, record_id: int, path: str, name: str, mapping: dict[str, str], user_id: int | None
) -> None:
    """Run an uploaded file's import into its LeadImport record, then delete the file.

    A record already done is left alone, so a task delivered twice imports once.
    """
    from django.contrib.auth import get_user_model

    claimed = LeadImport.objects.filter(pk=record_id, status=LeadImport.Status.PENDING).update(
        status=LeadImport.Status.RUNNING
    )
    if not claimed or not Path(path).exists():
        return
    record = LeadImport.objects.get(pk=record_id)
    user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    try:
        with Path(path).open("rb") as stream:
            lead_import(
                rows=rows_from_file(stream, name=name),
                user=user,
                mapping=mapping,
                record=record,
                keep_results=False,
            )
    finally:
        Path(path).unlink(missing_ok=True)


def lead_import_run_view(request: HttpRequest, pk: int) -> HttpResponse:
    record = _run_or_none(request, pk)
    if record is None:
        return redirect("leads:import")
    template = (
        "leads/_import_progress.html"
        if request.headers.get("HX-Request")
        else "leads/import_run.html"
    )
    problems = [r for r in record.report if r.get("status") in PROBLEM_STATUSES][:200]
    return render(request, template, {"run": record, "problems": problems})


def lead_import_report_view(request: HttpRequest, pk: int) -> HttpResponse:
    """The per-row report as CSV (formula-looking cells escaped for spreadsheets)."""
    record = _run_or_none(request, pk)
    if record is None:
        return redirect("leads:import")

    response = StreamingHttpResponse(
        csv_lines(report_csv_rows(record.report)),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="import-{record.pk}-report.csv"'
    return response


def _run_or_none(request: HttpRequest, pk: int) -> LeadImport | None:
    if not request.user.has_perm("leads.view_leadimport"):
        messages.info(request, _("Your role may not see imports."))
        return None
    record = lead_import_visible(user=request.user).filter(pk=pk).first()
    if record is None:
        messages.info(request, _("No such import."))
    return record
