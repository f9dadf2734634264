"""The import page for marketers: upload, column mapping, dry-run preview, progress, report.

Thin views over leads.imports.importer and leads.imports.services (the same door as the API
and `manage.py import_leads`). An uploaded file waits in storage under imports/ while its
columns are mapped (deleted by the beat job purge-import-uploads if nobody imports it);
small files are imported within the request, larger ones by the Celery worker, whose
progress the run page polls (the one rule: import_file_runs_inline).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import default_storage
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from alignment.accounts.roles import lead_import_refusal
from config.exports import csv_response
from leads.imports.channels import (
    ALIAS_MAX_CHARS,
    channel_alias_create,
    channel_alias_delete,
    channel_alias_read_refusal,
    channel_alias_refusal,
    channel_aliases,
    source_values_unmapped,
)
from leads.imports.importer import (
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
from leads.imports.services import (
    import_file_runs_inline,
    import_run_failure_message,
    import_upload_exists,
    import_upload_save,
    lead_import_check,
    lead_import_start,
    lead_imports_fail_stalled,
)
from leads.models import ChannelAlias, LeadImport, SourceChannel
from leads.selectors import lead_import_visible

SESSION_KEY = "lead_import_uploads"
PREVIEW_ROWS = 1000
SOURCE_SCAN_ROWS = 100_000  # rows whose source values the dry run counts
SAMPLE_ROWS = 5
EXTENSIONS = IMPORT_EXTENSIONS


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
    return lead_import_refusal(user=request.user) is None


def _uploads(request: HttpRequest) -> dict[str, dict[str, str]]:
    return request.session.get(SESSION_KEY, {})


def _sample(upload: str) -> tuple[list[str], list[dict[str, Any]]]:
    with default_storage.open(upload, "rb") as stream:
        rows = list(itertools.islice(rows_from_file(stream, name=upload), SAMPLE_ROWS))
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
            stored = import_upload_save(stream=upload, name=upload.name)
            token = stored.rsplit("/", 1)[-1].split(".", 1)[0]
            uploads = _uploads(request)
            uploads[token] = {"upload": stored, "name": upload.name[:200]}
            request.session[SESSION_KEY] = uploads
            return redirect("leads:import-map", token=token)
    lead_imports_fail_stalled()  # a run that died shows as failed, not running
    runs = lead_import_visible(user=request.user)[:20]
    return render(
        request,
        "leads/import.html",
        {"form": form, "allowed": allowed, "runs": runs},
        status=400 if form.errors else 200,
    )


class ChannelAliasForm(forms.Form):
    """A name the customer's files use for a channel; the service decides (channels.py)."""

    alias = forms.CharField(
        label=gettext_lazy("Name in your files"),
        max_length=ALIAS_MAX_CHARS,
        help_text=gettext_lazy("Any case; e.g. organic, direct_traffic."),
    )
    channel = forms.ChoiceField(label=gettext_lazy("Source channel"), choices=SourceChannel.choices)


def _alias_create(request: HttpRequest, form: ChannelAliasForm) -> ChannelAlias | None:
    """Create the alias the bound form names, saying so; its errors land on the form."""
    if not form.is_valid():
        return None
    try:
        alias = channel_alias_create(
            alias=form.cleaned_data["alias"],
            channel=form.cleaned_data["channel"],
            user=request.user,
        )
        messages.success(
            request,
            _("“%(alias)s” now imports as %(channel)s.")
            % {"alias": alias.alias, "channel": alias.get_channel_display()},
        )
        return alias
    except ValidationError as exc:
        for name, errors in exc.message_dict.items():
            form.add_error(name if name in form.fields else None, errors)
    except PermissionDenied as exc:
        form.add_error(None, str(exc))
    return None


def _source_values(stored: str, mapping: dict[str, str]) -> Iterator[str]:
    """The source cells of the file's first SOURCE_SCAN_ROWS rows (its mapped column)."""
    column = next((c for c, target in mapping.items() if target == "source"), None)
    if column is None:
        return
    with default_storage.open(stored, "rb") as stream:
        try:
            for row in itertools.islice(rows_from_file(stream, name=stored), SOURCE_SCAN_ROWS):
                value = row.get(column)
                if isinstance(value, str):
                    yield value
        except ImportFileError:
            return  # the dry run reports the file itself


def lead_import_map_view(request: HttpRequest, token: str) -> HttpResponse:
    """Map the file's columns, preview a dry run (with the source values no channel
    names, each mapped in one step), then import."""
    upload = _uploads(request).get(token)
    stored = (upload or {}).get("upload", "")
    if not _may_import(request) or not import_upload_exists(upload=stored):
        messages.info(request, _("Upload a file to start an import."))
        return redirect("leads:import")
    name = upload["name"]
    columns, sample = _sample(stored)
    form = MappingForm(request.POST or None, columns=columns)
    preview = None
    unmapped: list[tuple[str, int]] = []
    mapping: dict[str, str] = {}
    if request.method == "POST" and form.is_valid():
        mapping = form.mapping()
        if request.POST.get("action") == "alias":  # the dry run's quick map, then again
            alias_form = ChannelAliasForm(request.POST, prefix="map")
            if _alias_create(request, alias_form) is None:
                errors = [str(e) for errs in alias_form.errors.values() for e in errs]
                messages.error(
                    request,
                    _("“%(value)s” was not mapped: %(errors)s")
                    % {
                        "value": request.POST.get("map-alias", "")[:100],
                        "errors": " ".join(errors),
                    },
                )
        if request.POST.get("action") == "import":
            with default_storage.open(stored, "rb") as stream:
                inline = import_file_runs_inline(
                    stream=stream, name=stored, size=default_storage.size(stored)
                )
            started = lead_import_start(
                user=request.user,
                filename=name,
                upload=stored,
                mapping=mapping,
                background=not inline,
                keep_upload_if_refused=True,  # the broker is down: the person tries again
            )
            uploads = _uploads(request)
            uploads.pop(token, None)
            request.session[SESSION_KEY] = uploads
            return redirect("leads:import-run", pk=started.record.pk)
        with default_storage.open(stored, "rb") as stream:
            rows = itertools.islice(rows_from_file(stream, name=stored), PREVIEW_ROWS)
            preview = lead_import(
                rows=rows, user=request.user, dry_run=True, mapping=mapping, filename=name
            )
        unmapped = source_values_unmapped(values=_source_values(stored, mapping))
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
            "unmapped": unmapped,
            "scan_rows": SOURCE_SCAN_ROWS,
            "channels": SourceChannel.choices,
            # The quick map's forms carry the mapping, so the dry run comes back as it was.
            "mapping_hidden": [
                (f"col_{index}", mapping.get(column, "")) for index, column in enumerate(columns)
            ],
            "preview_problems": [
                r.as_dict() for r in preview.results if r.status in PROBLEM_STATUSES
            ][:200]
            if preview
            else [],
        },
    )


def lead_import_run_view(request: HttpRequest, pk: int) -> HttpResponse:
    record = _run_or_none(request, pk)
    if record is None:
        return redirect("leads:import")
    template = (
        "leads/_import_progress.html"
        if request.headers.get("HX-Request")
        else "leads/import_run.html"
    )
    record = lead_import_check(record=record)
    problems = [r for r in record.report if r.get("status") in PROBLEM_STATUSES][:200]
    failure = (
        import_run_failure_message(record) if record.status == LeadImport.Status.FAILED else ""
    )
    return render(request, template, {"run": record, "problems": problems, "failure": failure})


def lead_import_report_view(request: HttpRequest, pk: int) -> HttpResponse:
    """The per-row report as CSV (formula-looking cells escaped for spreadsheets)."""
    record = _run_or_none(request, pk)
    if record is None:
        return redirect("leads:import")

    rows = report_csv_rows(record.report)  # its first row is the header
    return csv_response(filename=f"import-{record.pk}-report.csv", header=next(rows), rows=rows)


def _run_or_none(request: HttpRequest, pk: int) -> LeadImport | None:
    if not request.user.has_perm("leads.view_leadimport"):
        messages.info(request, _("Your role may not see imports."))
        return None
    record = lead_import_visible(user=request.user).filter(pk=pk).first()
    if record is None:
        messages.info(request, _("No such import."))
    return record


# --- channel aliases ------------------------------------------------------------------------


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("leads:import-aliases")


def channel_alias_list_view(request: HttpRequest) -> HttpResponse:
    """The channel aliases (whoever sees imports) and, for marketing, adding one."""
    refusal = channel_alias_read_refusal(user=request.user)
    if refusal:
        messages.info(request, refusal)
        return redirect("leads:import")
    may_edit = channel_alias_refusal(user=request.user) is None
    form = ChannelAliasForm()
    if request.method == "POST":
        if not may_edit:
            messages.error(request, channel_alias_refusal(user=request.user) or "")
            return redirect("leads:import-aliases")
        form = ChannelAliasForm(request.POST)
        if _alias_create(request, form) is not None:
            return redirect(_safe_next(request))
    return render(
        request,
        "leads/import_aliases.html",
        {
            "aliases": channel_aliases(),
            "form": form,
            "may_edit": may_edit,
            "channels": SourceChannel.choices,
        },
        status=400 if form.errors else 200,
    )


@require_POST
def channel_alias_delete_view(request: HttpRequest, pk: int) -> HttpResponse:
    alias = ChannelAlias.objects.filter(pk=pk).first()
    if alias is None:
        messages.info(request, _("No such alias."))
        return redirect("leads:import-aliases")
    try:
        channel_alias_delete(alias=alias, user=request.user)
    except PermissionDenied as exc:
        messages.error(request, str(exc))
        return redirect("leads:import-aliases")
    messages.success(
        request,
        _(
            "“%(alias)s” is no longer an alias; files that use it are refused until it is "
            "mapped again."
        )
        % {"alias": alias.alias},
    )
    return redirect("leads:import-aliases")
