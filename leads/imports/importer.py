"""The lead importer: one engine behind the API, the management command and the page.

Rows stream through in batches, so memory stays flat however long the file. Each
batch matches existing leads in two queries (external id, then email in any case),
creates the new ones in bulk (leads, their stage history, deals: COPY on PostgreSQL) and
updates the changed ones through the lead services. A bad row is reported with its
row number, field and message and never stops the others. Importing the same file
again changes nothing: every row then matches a lead whose fields already agree.

On PostgreSQL a run outside the caller's transaction writes each batch in a thread of its
own while it reads, checks and plans the next (`_Pipeline`): the database writes one batch
while Python prepares the next, where each used to wait for the other. A batch is planned
against what is committed, and a row that names what the batch being written names waits
for it, so the leads, results and records are the ones a batch at a time would make.

History columns (`created_at`, `stage`, `mql_at` … `lost_at`, `lost_reason`,
`owner_email`, `deal_amount`) write the stage events of a lead the import creates,
with those times and source "import". They are history, not activity: later moves
of the lead still go through the stage service and the agreed transitions. The history
of a lead that already exists is never rewritten. A new lead's territory is its country's,
else its owner's (a rep in one territory), else the default one. Without `created_at`, a
lead with stage times was created at the first of them.

Real exports are untidy, and a real lead is kept whenever it can be: a row whose stage
times run against the funnel is created with its times put in order
(`history_put_in_order`: a running maximum in funnel order) and the status "warning", and
so is a won or opportunity row without a deal amount (a won, or an open, deal of 0.00: a
won lead always has its won deal, an opportunity its open deal; a lost one never has an
open deal). A row is an error only when it cannot be a lead:
no email, a value its column cannot take, a time outside the history window of
config.dates, or a row the file cannot give (a NUL character, a cell over CELL_MAX_CHARS,
a quote never closed); the rows after it are read and imported all the same.
"""

from __future__ import annotations

import bisect
import codecs
import collections
import concurrent.futures
import csv
import functools
import io
import itertools
import json
import logging
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, time
from decimal import Decimal, InvalidOperation
from typing import IO, Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator
from django.db import DatabaseError, IntegrityError, connection, connections, transaction
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from alignment.agreement.scoring import lead_field_value, score_compute
from alignment.agreement.selectors import Funnel, NoActiveAgreement, funnel_active
from alignment.models import RuleKind, StageKey
from campaigns.models import Campaign
from config.bulk import Copy, copy_prepare, rows_insert
from config.countries import country_code_clean
from config.dates import history_moment_check
from config.events import publish
from config.formats import lead_label
from config.parsers import MAX_DEPTH as JSON_MAX_DEPTH
from config.parsers import nesting_depth_exceeds
from leads.events import LeadsImported, SearchIndexGrew
from leads.imports.channels import channel_resolver
from leads.models import (
    Deal,
    DealOutcome,
    ImportedLead,
    ImportedRange,
    Lead,
    LeadEdit,
    LeadImport,
    SourceChannel,
    StageEvent,
)
from leads.selectors import leads_by_keys
from leads.services import (
    LeadConflict,
    lead_changes,
    lead_promote_if_qualified,
    lead_update,
    lead_upsert,
    territory_for_lead,
)
from leads.services.criteria import score_meets_threshold
from leads.services.rescoring import qualifying_lead_ids

logger = logging.getLogger(__name__)

BATCH_SIZE = 1000
SWITCH_INTERVAL = 0.0002  # seconds: the interpreter's switch interval while a run is pipelined
REPORT_LIMIT = 100_000  # per-row entries kept on the LeadImport row (errors always first)

LEAD_COLUMNS = [
    "email",
    "external_id",
    "first_name",
    "last_name",
    "company",
    "title",
    "phone",
    "country",
    "industry",
    "company_size",
    "source",
]
HISTORY_STAGES = [  # funnel order of the stage columns a history row may carry
    (StageKey.MQL, "mql_at"),
    (StageKey.SAL, "sal_at"),
    (StageKey.SQL, "sql_at"),
    (StageKey.OPPORTUNITY, "opportunity_at"),
    (StageKey.WON, "won_at"),
    (StageKey.LOST, "lost_at"),
]
HISTORY_COLUMNS = [
    "created_at",
    "stage",
    *[column for _stage, column in HISTORY_STAGES],
    "lost_reason",
    "owner_email",
    "campaign",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "deal_amount",
]
COLUMNS = [*LEAD_COLUMNS, *HISTORY_COLUMNS]
TIME_COLUMNS = ("created_at", *[column for _stage, column in HISTORY_STAGES])
_STAGES = frozenset(StageKey.values)
CUSTOM_PREFIX = "custom:"
# A row's status. "warning": a new lead was created from the row, with something in it
# put right (its warnings say what); such rows count as created and as warnings.
ROW_STATUSES = ["created", "updated", "unchanged", "warning", "error"]
PROBLEM_STATUSES = ("warning", "error")  # rows the report keeps even when it keeps no others
WRITTEN_STATUSES = ("created", "warning", "updated")  # rows that wrote a lead (ImportedLead)


@dataclass
class RowResult:
    row: int
    status: str  # created | updated | unchanged | warning | error
    id: int | None = None
    errors: list[dict[str, str]] = field(default_factory=list)
    warnings: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"row": self.row, "status": self.status}
        if self.id is not None:
            data["id"] = self.id
        if self.errors:
            data["errors"] = self.errors
        if self.warnings:
            data["warnings"] = self.warnings
        return data


@dataclass
class ImportResult:
    """Counts of a run: total = created + updated + unchanged + errors; `warnings` are
    created rows with a warning, so they are counted among `created` too."""

    total: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: int = 0
    warnings: int = 0
    dry_run: bool = False
    results: list[RowResult] = field(default_factory=list)
    record: LeadImport | None = None
    # Source values no channel or alias names, as first written, with their row counts.
    unmapped_sources: list[tuple[str, int]] = field(default_factory=list)

    def counts(self) -> tuple[int, ...]:
        return (self.total, self.created, self.updated, self.unchanged, self.errors,
                self.warnings)  # fmt: skip

    def counts_restore(self, counts: tuple[int, ...]) -> None:
        (self.total, self.created, self.updated, self.unchanged, self.errors,
         self.warnings) = counts  # fmt: skip

    def count(self, result: RowResult) -> None:
        self.total += 1
        if result.status == "created":
            self.created += 1
        elif result.status == "warning":
            self.created += 1
            self.warnings += 1
        elif result.status == "updated":
            self.updated += 1
        elif result.status == "unchanged":
            self.unchanged += 1
        else:
            self.errors += 1


class ImportFileError(Exception):
    """The file as a whole cannot be read (not a row's fault).

    `code`: "too_large" (the API answers 413), "type", "encoding", "columns" or "".
    """

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.code = code


# --- checking an uploaded file before anything is stored ------------------------------------

IMPORT_EXTENSIONS = (".csv", ".txt", ".json", ".jsonl", ".ndjson")
IMPORT_MAX_COLUMNS = 1000
_HEAD_BYTES = 64 * 1024
_CHUNK_BYTES = 256 * 1024
# What people upload by mistake, by its first bytes.
_SIGNATURES = {
    b"\x89PNG": "PNG image",
    b"GIF8": "GIF image",
    b"\xff\xd8\xff": "JPEG image",
    b"%PDF": "PDF document",
    b"PK\x03\x04": "ZIP archive (an .xlsx workbook is one)",
    b"\xd0\xcf\x11\xe0": "legacy Office file (.xls)",
    b"\x1f\x8b": "gzip archive",
}


def import_file_check(*, stream: IO[bytes], name: str, size: int | None) -> None:
    """Refuse a file that is not readable CSV/JSON text, before anything is stored.

    Reads the file once in chunks (memory stays flat whatever its size or shape) and
    rewinds it. Raises ImportFileError with a message for the person who uploaded it.
    """
    limit = settings.LEAD_IMPORT_MAX_BYTES
    if size is not None and size > limit:
        raise ImportFileError(
            _("The file is %(size)s; the most an import takes is %(max)s. Split it.")
            % {"size": filesizeformat(size), "max": filesizeformat(limit)},
            "too_large",
        )
    lowered = (name or "").lower()
    if "." in lowered and not lowered.endswith(IMPORT_EXTENSIONS):
        raise ImportFileError(_("Upload a .csv or .json file."), "type")
    head = stream.read(_HEAD_BYTES)
    if not isinstance(head, bytes):  # a text stream: nothing to sniff
        stream.seek(0)
        return
    if not head.strip():
        raise ImportFileError(_("The file is empty."), "type")
    for signature, kind in _SIGNATURES.items():
        if head.startswith(signature):
            raise ImportFileError(
                _("This is a %(kind)s, not a CSV or JSON file. Export the data as CSV (UTF-8).")
                % {"kind": kind},
                "type",
            )
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or _looks_utf16(head):
        raise ImportFileError(
            _("The file is UTF-16 text; save it as CSV (UTF-8) and upload it again."),
            "encoding",
        )
    if _looks_binary(head):
        raise ImportFileError(_("The file holds binary data, not CSV or JSON text."), "type")
    is_json = lowered.endswith((".json", ".jsonl", ".ndjson"))
    if not is_json:
        _check_header(head, more=size is None or size > len(head))
    _check_utf8(stream, head)
    stream.seek(0)


# Control bytes that text does not hold (tab, line feed, form feed, carriage return and
# escape are left out).
_CONTROL_BYTES = [bytes([b]) for b in range(32) if b not in (9, 10, 12, 13, 27)]


def _looks_binary(head: bytes) -> bool:
    """NUL bytes among many control bytes: binary data. A stray NUL in one cell of a text
    file is that row's error (row_parse), not the whole file's."""
    if b"\x00" not in head:
        return False
    controls = sum(head.count(byte) for byte in _CONTROL_BYTES)
    return controls > max(2, len(head) // 100)


def _looks_utf16(head: bytes) -> bool:
    sample = head[:4096]
    even, odd = sample[0::2], sample[1::2]
    return max(even.count(0), odd.count(0)) > len(sample) // 4


def _check_header(head: bytes, *, more: bool) -> None:
    end = head.find(b"\n")
    if end < 0 and more:
        raise ImportFileError(
            _(
                "The first line is longer than %(kb)s KB: a header row names at most "
                "%(max)s columns."
            )
            % {"kb": _HEAD_BYTES // 1024, "max": IMPORT_MAX_COLUMNS},
            "columns",
        )
    header = head if end < 0 else head[:end]
    columns = max(header.count(d) for d in (b",", b";", b"\t", b"|")) + 1
    if columns > IMPORT_MAX_COLUMNS:
        raise ImportFileError(
            _("The header row has %(n)s columns; an import takes at most %(max)s.")
            % {"n": columns, "max": IMPORT_MAX_COLUMNS},
            "columns",
        )


def _check_utf8(stream: IO[bytes], head: bytes) -> None:
    decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
    line = 1
    chunk = head
    while chunk:
        try:
            decoder.decode(chunk)
        except UnicodeDecodeError as exc:
            line += chunk[: exc.start].count(b"\n")
            raise ImportFileError(
                _(
                    "Line %(line)s is not UTF-8 text. Save the file as CSV (UTF-8) "
                    "and upload it again."
                )
                % {"line": line},
                "encoding",
            ) from None
        line += chunk.count(b"\n")
        chunk = stream.read(_CHUNK_BYTES)
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise ImportFileError(
            _("The file ends in the middle of a character: it is not UTF-8 text."),
            "encoding",
        ) from None


# --- reading files ------------------------------------------------------------------------


def custom_field_slug(name: str) -> str:
    """A custom field's key from a column name: lower case, anything else as underscores."""
    return "".join(c if c.isalnum() else "_" for c in name.strip().lower()).strip("_")


def column_mapping_default(headers: Iterable[str]) -> dict[str, str]:
    """File column → import column, by name (any case; spaces and dashes as underscores).

    A column named `custom:<name>` fills the custom field <name> (as its slug).
    """
    mapping: dict[str, str] = {}
    for header in headers:
        key = (header or "").strip().lower().replace(" ", "_").replace("-", "_")
        if key in COLUMNS:
            mapping[header] = key
        elif key.startswith(CUSTOM_PREFIX) and custom_field_slug(key[len(CUSTOM_PREFIX) :]):
            mapping[header] = CUSTOM_PREFIX + custom_field_slug(key[len(CUSTOM_PREFIX) :])
    return mapping


@functools.lru_cache(maxsize=64)
def _mapping_by_name(headers: tuple[str, ...]) -> dict[str, str]:
    """column_mapping_default for a row's keys: a file's rows share them, so once per file."""
    return column_mapping_default(headers)


def _text_stream(stream: IO[bytes] | IO[str]) -> IO[str]:
    if isinstance(stream.read(0), bytes):
        return io.TextIOWrapper(stream, encoding="utf-8-sig", errors="replace", newline="")  # type: ignore[arg-type]
    return stream  # type: ignore[return-value]


CELL_MAX_CHARS = csv.field_size_limit()  # the csv module's limit (128 KiB), for JSON cells too
ROW_ERROR_KEY = "__error__"  # a row the reader could not read: {ROW_ERROR_KEY: message}


class _LineFeed:
    """The file's lines for the csv reader; remembers the lines of the record being read
    and replays lines put back (those a quote left open had swallowed)."""

    def __init__(self, lines: Iterator[str]) -> None:
        self.lines = lines
        self.replay: collections.deque[str] = collections.deque()
        self.taken: list[str] = []
        self.ended = False  # the reader asked for a line past the end of the file

    def __iter__(self) -> _LineFeed:
        return self

    def __next__(self) -> str:
        if self.replay:
            line = self.replay.popleft()
        else:
            try:
                line = next(self.lines)
            except StopIteration:
                self.ended = True
                raise
        self.taken.append(line)
        return line

    def put_back(self, lines: list[str]) -> None:
        self.replay.extendleft(reversed(lines))


def _quotes_close(lines: list[str], delimiter: str) -> bool:
    """Whether a record read over several lines is well-formed CSV on its own: its quotes
    close, and each closing quote ends its cell (strict parsing says so)."""
    try:
        for _record in csv.reader(lines, delimiter=delimiter, strict=True):
            pass
    except csv.Error:
        return False
    return True


def _csv_records(lines: Iterator[str], delimiter: str) -> Iterator[list[str] | str]:
    """Each record's cells, or for a record that cannot be read a message saying why.

    A quoted cell may hold line breaks, so one record can span lines. A quote that is
    never closed would make the csv module read the rest of the file (or up to the next
    quote) into one cell: a record over several lines that is not well-formed on its own,
    or that outgrows the cell limit, is reported on its first line and the lines after
    that are read again as records of their own. A single line with a cell over the limit
    is reported and skipped.
    """
    feed = _LineFeed(lines)
    while True:
        reader = csv.reader(feed, delimiter=delimiter)
        while True:
            feed.taken = []
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                taken = feed.taken
                if len(taken) > 1:
                    yield _unclosed_quote_message(len(taken) - 1)
                    feed.put_back(taken[1:])
                    break  # a new reader: this one is inside the runaway cell
                if taken and len(taken[-1]) > CELL_MAX_CHARS:
                    yield _(
                        "A cell of this row is longer than %(max)s characters, the most an "
                        "import takes; the row was skipped."
                    ) % {"max": f"{CELL_MAX_CHARS:,}"}
                else:
                    yield _("This row is not readable CSV: %(error)s.") % {"error": exc}
                continue
            if not cells:
                continue  # a blank line
            # A record still open when the file ended, or one over several lines that is not
            # well-formed CSV by itself, began with a quote that was never closed.
            if feed.ended or (len(feed.taken) > 1 and not _quotes_close(feed.taken, delimiter)):
                yield _unclosed_quote_message(len(feed.taken) - 1)
                if len(feed.taken) == 1:
                    continue
                feed.put_back(feed.taken[1:])
                feed.ended = False
                break
            yield cells


def _unclosed_quote_message(swallowed: int) -> str:
    if not swallowed:
        return _(
            'A quote (") opened in this row is never closed. The row was skipped; close the '
            "quote (or double a quote inside a quoted cell) and import the row again."
        )
    return ngettext(
        'A quote (") opened in this row is never closed, so the line after it read as part '
        "of one cell. The row was skipped and that line was read as a row of its own; close "
        "the quote (or double a quote inside a quoted cell) and import the row again.",
        'A quote (") opened in this row is never closed, so the %(n)s lines after it read '
        "as one cell. The row was skipped and those lines were read as rows of their own; "
        "close the quote (or double a quote inside a quoted cell) and import the row again.",
        swallowed,
    ) % {"n": swallowed}


def rows_from_csv(stream: IO[bytes] | IO[str]) -> Iterator[dict[str, str | None]]:
    """Stream the rows of a CSV file (UTF-8, BOM tolerated; , ; tab or | as delimiter).

    Each row is a dict by header name (cells beyond the header are dropped, missing ones
    are None); a row that cannot be read is `{ROW_ERROR_KEY: message}`, and the rows after
    it are still read.
    """
    text = _text_stream(stream)
    header = text.readline()
    if not header.strip():
        return
    delimiter = max([",", ";", "\t", "|"], key=header.count)
    names = [name.strip() for name in next(csv.reader([header], delimiter=delimiter))]
    for record in _csv_records(iter(text), delimiter):
        if isinstance(record, str):
            yield {ROW_ERROR_KEY: record}
            continue
        row: dict[str, str | None] = dict(zip(names, record, strict=False))
        for name in names[len(record) :]:
            row[name] = None
        yield row


def rows_from_json(stream: IO[bytes] | IO[str]) -> Iterator[dict[str, Any]]:
    """Rows of a JSON array of objects, or JSON Lines (one object per line, streamed)."""
    text = _text_stream(stream)
    first = text.read(1)
    while first and first.isspace():
        first = text.read(1)
    if first == "[":
        try:
            data = json.loads("[" + text.read())
        except RecursionError:
            raise ImportFileError(_too_deep()) from None
        except json.JSONDecodeError as exc:
            message = _("The file is not valid JSON: %(error)s") % {"error": exc}
            raise ImportFileError(message) from None
        for item in data:
            yield _json_row(item)
        return
    pending = first
    for line in text:
        line = pending + line
        pending = ""
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except RecursionError:
            item = {ROW_ERROR_KEY: _too_deep()}
        except json.JSONDecodeError:
            item = {"__invalid__": line.strip()[:100]}
        yield _json_row(item)
    if pending.strip():
        yield {"__invalid__": pending}


def _too_deep() -> str:
    return _("The JSON nests deeper than %(depth)s levels; a lead's fields are flat.") % {
        "depth": JSON_MAX_DEPTH
    }


def _json_row(item: Any) -> dict[str, Any]:
    """One JSON row: an object of fields, or the row's error (not an object, nested too deep)."""
    if not isinstance(item, dict):
        return {"__invalid__": item}
    if nesting_depth_exceeds(item, JSON_MAX_DEPTH):
        return {ROW_ERROR_KEY: _too_deep()}
    return item


def rows_from_file(stream: IO[bytes], *, name: str) -> Iterator[dict[str, Any]]:
    lowered = name.lower()
    if lowered.endswith((".json", ".jsonl", ".ndjson")):
        return rows_from_json(stream)
    return rows_from_csv(stream)


# --- parsing one row ------------------------------------------------------------------------


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _when(value: Any) -> datetime | None:
    """ISO 8601 date or datetime; a naive time is in the deployment's time zone."""
    raw = _text(value)
    if not raw:
        return None
    parsed = parse_datetime(raw.replace(" ", "T", 1) if " " in raw else raw)
    if parsed is None:
        day = parse_date(raw)
        if day is None:
            raise ValueError
        parsed = datetime.combine(day, time())
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    return parsed


@dataclass
class ParsedRow:
    row: int
    fields: dict[str, Any]
    custom: dict[str, Any]
    created_at: datetime | None
    stage: str
    history: list[tuple[str, datetime]]  # (stage, entered at), after inquiry
    lost_reason: str
    owner_id: int | None
    campaign_id: int | None
    deal_amount: Decimal | None
    warnings: list[dict[str, str]] = field(default_factory=list)  # reported if it creates

    @property
    def key(self) -> str:
        return self.fields.get("external_id") or self.fields["email"].lower()

    @property
    def has_history(self) -> bool:
        return bool(self.history) or self.stage not in ("", StageKey.INQUIRY)


SCORES_KEPT = 50_000  # distinct scored field values a run keeps (memory stays flat)


@dataclass
class _Scores:
    """A run's scores by the values the fit rules read, for the rules they were computed
    with (a rule edited meanwhile makes a new funnel, whose rules start afresh)."""

    rules: tuple | None = None
    results: dict[tuple, Any] = field(default_factory=dict)


class _Lookups:
    """Per-run caches: users by email, campaigns by name/UTM, territories by country+owner."""

    def __init__(self) -> None:
        self.channels = channel_resolver()  # counts the source values it cannot map
        self.scores = _Scores()  # importer._score's results by what they read
        self.users: dict[str, int | None] = {}
        self.campaigns: dict[tuple[str, ...], int | None] = {}
        self.territories: dict[str, int | None] = {}

    def user(self, email: str) -> int | None:
        key = email.lower()
        if key not in self.users:
            user = get_user_model().objects.filter(email__iexact=key, is_active=True).first()
            self.users[key] = user.pk if user else None
        return self.users[key]

    def campaign(self, name: str, source: str, medium: str, utm: str) -> int | None:
        key = (name.lower(), source.lower(), medium.lower(), utm.lower())
        if key not in self.campaigns:
            found = Campaign.objects.lookup(
                name=name, utm_source=source, utm_medium=medium, utm_campaign=utm
            )
            self.campaigns[key] = found.pk if found else None
        return self.campaigns[key]

    def territory(self, country: str, owner_id: int | None = None) -> int | None:
        key = f"{country}:{owner_id or ''}"
        if key not in self.territories:
            territory = territory_for_lead(country=country, owner_id=owner_id)
            self.territories[key] = territory.pk if territory else None
        return self.territories[key]


def _error(errors: list[dict[str, str]], name: str, message: str) -> None:
    errors.append({"field": name, "message": str(message)})


def _cell_problem(value: Any) -> str:
    """Why a cell cannot be stored (a NUL character, or longer than a cell may be), or ""."""
    if isinstance(value, str):
        if "\x00" in value:
            return _(
                "A cell holds a NUL character (binary data), which no text field can store; "
                "remove it and import the row again."
            )
        if len(value) > CELL_MAX_CHARS:
            return _(
                "A cell of this row is longer than %(max)s characters, the most an import takes."
            ) % {"max": f"{CELL_MAX_CHARS:,}"}
        return ""
    if isinstance(value, dict):
        return next(filter(None, map(_cell_problem, [*value.keys(), *value.values()])), "")
    if isinstance(value, list):
        return next(filter(None, map(_cell_problem, value)), "")
    return ""


def _lead_fields_check(fields: dict[str, Any]) -> dict[str, list[str]]:
    """The row's lead columns checked by their model fields, as `Lead.full_clean` checks
    them (each field's own validators and length; a blank field that may be blank is
    skipped), without building a Lead: messages by field, in the model's field order."""
    errors: dict[str, list[str]] = {}
    for model_field, plain in _lead_text_fields():
        if model_field.attname not in fields:
            continue
        value = fields[model_field.attname]
        if model_field.blank and value in model_field.empty_values:
            continue
        if plain and isinstance(value, str) and len(value) <= model_field.max_length:
            continue  # the one thing such a field checks, passed (the common case)
        try:
            model_field.clean(value, None)
        except ValidationError as exc:
            errors[model_field.name] = exc.messages
    return errors


@functools.cache
def _lead_text_fields() -> list[tuple[Any, bool]]:
    """The Lead fields a row's text columns fill, checked by _lead_fields_check, each with
    whether its only check is its length (no choices, no validator but MaxLength)."""
    names = set(LEAD_COLUMNS) - {"company_size", "source"}
    return [
        (field, field.choices is None
         and all(isinstance(v, MaxLengthValidator) for v in field.validators))
        for field in Lead._meta.concrete_fields
        if field.name in names
    ]  # fmt: skip


def history_put_in_order(
    *, created_at: datetime | None, history: list[tuple[str, datetime]]
) -> tuple[list[tuple[str, datetime]], list[dict[str, str]]]:
    """Stage times in funnel order, each raised to the one before it when it is earlier.

    The rule, the same for every row: walk the funnel from `created_at` (the inquiry)
    through mql, sal, sql, opportunity to won or lost, and keep the latest time seen so
    far; a stage dated before the stage before it is recorded at that stage's time
    (a running maximum in funnel order). Nothing moves later than any date the row gives,
    and no stage is dropped. Returns the history and one warning per raised stage.
    Olist's data set has such a row: a deal won two days before its first contact is
    imported won at the first contact.
    """
    ordered: list[tuple[str, datetime]] = []
    warnings: list[dict[str, str]] = []
    latest, latest_name = created_at, "created_at"
    for stage, at in history:
        name = f"{stage}_at"
        if latest is not None and at < latest:
            warnings.append(
                {
                    "field": name,
                    "message": _(
                        "%(field)s (%(given)s) is earlier than %(before)s (%(at)s), the stage "
                        "before it; imported as %(at)s so the history runs in funnel order."
                    )
                    % {
                        "field": name,
                        "given": timezone.localtime(at).isoformat(),
                        "before": latest_name,
                        "at": timezone.localtime(latest).isoformat(),
                    },
                }
            )
            at = latest
        else:
            latest, latest_name = at, name
        ordered.append((stage, at))
    return ordered, warnings


def row_parse(
    *, number: int, raw: dict[str, Any], mapping: dict[str, str] | None, lookups: _Lookups
) -> ParsedRow | list[dict[str, str]]:
    """A file row as lead fields plus history, or its errors (field, message).

    Errors make the row unusable: no email, a value that is not what its column takes,
    a date outside config.dates' history window, a cell that cannot be stored. History
    dates out of funnel order are put in order (history_put_in_order) and a won row
    without a deal amount gets a won deal of 0.00; both are warnings on the row.
    """
    errors: list[dict[str, str]] = []
    if ROW_ERROR_KEY in raw:
        return [{"field": "", "message": str(raw[ROW_ERROR_KEY])}]
    if "__invalid__" in raw:
        return [{"field": "", "message": _("This row is not an object of fields.")}]
    for column, value in raw.items():
        if (
            type(value) is str and type(column) is str
            and len(value) <= CELL_MAX_CHARS and len(column) <= CELL_MAX_CHARS
            and "\x00" not in value and "\x00" not in column
        ):  # fmt: skip
            continue  # a file's plain cell, checked here (a call per cell was a tenth of a row)
        problem = _cell_problem(value) or _cell_problem(column)
        if problem:
            return [{"field": str(column).replace("\x00", "")[:100], "message": problem}]
    data: dict[str, Any] = {}
    custom: dict[str, Any] = {}
    if mapping is None:
        mapping = _mapping_by_name(tuple(raw))
    for column, target in mapping.items():
        if column not in raw or not target:
            continue
        if target.startswith(CUSTOM_PREFIX):
            value = raw[column]
            if _text(value):
                custom[target[len(CUSTOM_PREFIX) :]] = value
        else:
            data[target] = raw[column]

    fields: dict[str, Any] = {}
    for name in LEAD_COLUMNS:
        if name in data:
            fields[name] = _text(data[name])
    fields["email"] = fields.get("email", "")
    if not fields.get("external_id"):
        # No id given (no such column, or a blank cell) is not "remove the lead's id": a
        # file without the column once wiped the external id of every lead it matched.
        fields.pop("external_id", None)
    if fields.get("country"):
        try:  # the lead services' own check (lead_create, lead_update)
            fields["country"] = country_code_clean(fields["country"])
        except ValidationError as exc:
            _error(errors, "country", exc.message_dict["country"][0])
            fields["country"] = ""
    size = fields.pop("company_size", "")
    if size:
        try:
            fields["company_size"] = int(Decimal(size.replace(",", "")))
            if fields["company_size"] < 0:
                raise ValueError
        except (InvalidOperation, ValueError):
            _error(errors, "company_size", _("Enter a whole number of employees."))
    source = fields.pop("source", "")
    if source:
        channel = lookups.channels.resolve(source)
        if channel is not None:
            fields["source"] = channel
        else:
            _error(
                errors,
                "source",
                _(
                    "“%(value)s” is not a source channel nor an alias of one; map it to a "
                    "channel on the channel aliases page, or use one of: %(choices)s."
                )
                % {"value": source, "choices": ", ".join(SourceChannel.values)},
            )
    if not fields["email"]:
        _error(errors, "email", _("An email is required."))
    else:
        for name, messages in _lead_fields_check(fields).items():
            for message in messages:
                _error(errors, name, message)

    times: dict[str, datetime | None] = {}
    now = timezone.now()
    for name in TIME_COLUMNS:
        if data.get(name) in (None, ""):  # nothing given: nothing to read or check
            times[name] = None
            continue
        try:
            times[name] = _when(data.get(name))
            history_moment_check(times[name], field=name, now=now)
        except ValueError:
            _error(errors, name, _("Enter a date or time in ISO 8601, e.g. 2026-03-01T09:30."))
            times[name] = None
        except ValidationError as exc:
            for message in exc.message_dict[name]:
                _error(errors, name, message)
            times[name] = None
    stage = _text(data.get("stage")).lower()
    if stage and stage not in _STAGES:
        _error(
            errors,
            "stage",
            _("“%(value)s” is not a funnel stage; use one of: %(choices)s.")
            % {"value": stage, "choices": ", ".join(StageKey.values)},
        )
    history = [(s, times[column]) for s, column in HISTORY_STAGES if times.get(column)]
    if times.get("won_at") and times.get("lost_at"):
        _error(errors, "lost_at", _("A lead cannot be both won and lost."))
    # Without created_at a lead with history was created when its history begins.
    created_at = times.get("created_at") or (history[0][1] if history else None)
    history, warnings = history_put_in_order(created_at=created_at, history=history)
    previous = history[-1][1] if history else created_at
    if stage and stage in _STAGES and history:
        last = history[-1][0]
        order = [s for s, _column in HISTORY_STAGES]
        if stage in order and stage not in [s for s, _at in history]:
            if order.index(stage) < order.index(last):
                _error(
                    errors,
                    "stage",
                    _("The stage is before %(field)s, which is filled in.")
                    % {"field": f"{last}_at"},
                )
        elif stage in order and stage != last:
            _error(
                errors,
                "stage",
                _("The stage is not the latest of the stage times given."),
            )
    listed = any(s == stage for s, _at in history)
    if stage in _STAGES and stage != StageKey.INQUIRY and not listed:
        history.append((stage, previous or now))
    final_stage = history[-1][0] if history else StageKey.INQUIRY
    if stage == StageKey.INQUIRY and history:
        _error(errors, "stage", _("The stage is inquiry but later stage times are given."))

    owner_id = None
    owner_email = _text(data.get("owner_email"))
    if owner_email:
        owner_id = lookups.user(owner_email)
        if owner_id is None:
            _error(errors, "owner_email", _("No active user has this email."))
    campaign_id = None
    name, utm = _text(data.get("campaign")), _text(data.get("utm_campaign"))
    if name or utm:
        campaign_id = lookups.campaign(
            name, _text(data.get("utm_source")), _text(data.get("utm_medium")), utm
        )
        if campaign_id is None:
            _error(
                errors,
                "campaign" if name else "utm_campaign",
                _("No campaign has this name or these UTM tags."),
            )
    deal_amount = None
    raw_amount = _text(data.get("deal_amount"))
    if raw_amount:
        try:
            deal_amount = Decimal(raw_amount.replace(",", ""))
            if deal_amount < 0 or not deal_amount.is_finite():
                raise InvalidOperation
            deal_amount = deal_amount.quantize(Decimal("0.01"))
        except InvalidOperation:
            _error(errors, "deal_amount", _("Enter an amount of money, e.g. 1200.50."))
    if errors:
        return errors
    if final_stage == StageKey.WON and deal_amount is None:
        # A won lead has a won deal (DESIGN: the stage follows the deal). Another CRM's
        # export often leaves the amount out; the win is real history, so keep it.
        deal_amount = Decimal("0.00")
        warnings.append(
            {
                "field": "deal_amount",
                "message": _(
                    "The lead is won but the row has no deal_amount: it is imported with a "
                    "won deal of 0.00, so the win counts and its revenue is 0. If the amount "
                    "is known, put it in deal_amount before importing (an imported deal's "
                    "amount changes only by a correction)."
                ),
            }
        )
    elif final_stage == StageKey.OPPORTUNITY and deal_amount is None:
        # An opportunity is a lead with an open deal (the agreement's entry criterion).
        deal_amount = Decimal("0.00")
        warnings.append(
            {
                "field": "deal_amount",
                "message": _(
                    "The lead is an opportunity but the row has no deal_amount: it is "
                    "imported with an open deal of 0.00; set the amount on the deal."
                ),
            }
        )
    if campaign_id is not None:
        fields["campaign"] = campaign_id
    return ParsedRow(
        row=number,
        fields=fields,
        custom=custom,
        created_at=created_at,
        stage=final_stage,
        history=history,
        lost_reason=_text(data.get("lost_reason"))[:200],
        owner_id=owner_id,
        campaign_id=campaign_id,
        deal_amount=deal_amount,
        warnings=warnings,
    )


# --- the engine -----------------------------------------------------------------------------


def lead_import(
    *,
    rows: Iterable[dict[str, Any]],
    user: AbstractBaseUser | None,
    dry_run: bool = False,
    mapping: dict[str, str] | None = None,
    filename: str = "",
    record: LeadImport | None = None,
    keep_results: bool = True,
    full_report: bool = True,
    on_result: Callable[[RowResult], None] | None = None,
    on_progress: Callable[[ImportResult], None] | None = None,
    batch_size: int = BATCH_SIZE,
) -> ImportResult:
    """Import `rows` (dicts keyed by column, or by file column with `mapping`).

    Returns the counts and, with `keep_results`, every row's result; `on_result` sees
    each row's result as it is decided (the command streams them to a report file).
    The record's report holds every row's result (up to REPORT_LIMIT, then bad rows
    only), or with `full_report` off only the bad rows.
    A dry run decides the same results and writes nothing. Records the run on a
    LeadImport row (`record`, or a new one) with its per-row report.

    Each batch commits in one transaction with the record's counts and heartbeat, so
    rows 1 to `record.total_rows` are committed whatever happens next; the heartbeat only
    moves while the record is running, and a run marked failed meanwhile (taken for dead,
    leads.imports.services) stops with ImportAbandoned, its batch in hand rolled back.
    A run that raises is recorded as failed (counts and report of its committed rows).
    """
    result = ImportResult(dry_run=dry_run)
    if record is None:
        record = LeadImport.objects.create(
            created_by=user if user is not None and user.pk else None,
            filename=filename[:255],
            dry_run=dry_run,
        )
    result.record = record
    now = timezone.now()
    record.started_at = record.started_at or now
    LeadImport.objects.filter(pk=record.pk).update(
        status=LeadImport.Status.RUNNING, started_at=record.started_at, heartbeat_at=now
    )
    record.status, record.heartbeat_at = LeadImport.Status.RUNNING, now
    lookups = _Lookups()
    report: list[dict[str, Any]] = []

    written: list[tuple[int, bool]] = []  # the batch's leads, recorded with it (not in a dry run)
    created_ids = _CreatedIds()  # the run's, for a later update of one of them

    def emit(row_result: RowResult) -> None:
        if not dry_run and row_result.id is not None and row_result.status in WRITTEN_STATUSES:
            created = row_result.status != "updated"
            written.append((row_result.id, created))
        result.count(row_result)
        if keep_results:
            result.results.append(row_result)
        if on_result is not None:
            on_result(row_result)
        # The record keeps every row's result up to the limit, then bad rows only; without
        # full_report (the caller streams its own report), bad rows only, capped.
        room = len(report) < REPORT_LIMIT
        problem = row_result.status in PROBLEM_STATUSES
        if (problem and (room or full_report)) or (full_report and room):
            report.append(row_result.as_dict())

    def flush(batch: Batch, parsed: list[ParsedRow], refused: dict[int, RowResult],
              plan: _Plan | None = None) -> None:  # fmt: skip
        committed = (result.counts(), len(result.results), len(report))
        try:
            with transaction.atomic():
                _write_batch(batch, parsed, refused, user=user, dry_run=dry_run,
                             lookups=lookups, emit=emit, plan=plan)  # fmt: skip
                # A lead twice in a run keeps its first verdict (created over updated).
                _imported_record(run=record, written=written, created=created_ids)
                written.clear()
                _progress(record, result, beat=True)
        except BaseException:
            written.clear()
            # The batch was rolled back: the run is what was committed before it.
            counts, results_kept, report_kept = committed
            result.counts_restore(counts)
            del result.results[results_kept:]
            del report[report_kept:]
            raise
        if on_progress:
            on_progress(result)

    pipeline = _Pipeline() if _pipelined(dry_run=dry_run) else None
    try:
        for batch, parsed, refused, file_error in _batches_parsed(
            rows, size=batch_size, mapping=mapping, lookups=lookups
        ):
            if batch and pipeline is not None:
                plan = _plan(parsed, user=user, lookups=lookups, pipeline=pipeline)
                pipeline.submit(plan, functools.partial(flush, batch, parsed, refused, plan))
            elif batch:
                flush(batch, parsed, refused)  # with a file error: the rows read before it
            if file_error is not None:
                if pipeline is not None:
                    pipeline.wait()
                emit(RowResult(row=result.total + 1, status="error",
                               errors=[{"field": "", "message": str(file_error)}]))  # fmt: skip
        if pipeline is not None:
            pipeline.wait()
    except ImportAbandoned:
        raise  # whoever declared the run dead recorded why
    except BaseException:
        if pipeline is not None:
            pipeline.stop()  # the batch in hand is committed or rolled back first
        try:
            _progress(record, result, status=LeadImport.Status.FAILED, report=report,
                      failure=LeadImport.Failure.ERROR)  # fmt: skip
        except Exception:  # the database is gone too: the stale rule will fail the run
            logger.exception("Import %s failed and could not be recorded as failed", record.pk)
        raise
    finally:
        if pipeline is not None:
            pipeline.close()
    _progress(record, result, status=LeadImport.Status.DONE, report=report)
    if result.created >= SETTLE_AFTER and not dry_run:
        publish(SearchIndexGrew(leads=result.created))  # merged by the worker (handlers)
    result.unmapped_sources = lookups.channels.unmapped_values()
    if on_progress:
        on_progress(result)
    return result


def _imported_record(
    *, run: LeadImport, written: list[tuple[int, bool]], created: _CreatedIds
) -> None:
    """Record the batch's leads on the run: the ones it created as ranges of ids
    (ImportedRange: a row or two per batch), the ones it updated as ImportedLead rows. A
    lead the run created and now updates stays created (`created`: the run's ranges so
    far); one it updated before is recorded once."""
    if not written:
        return
    ranges = _id_ranges(sorted(pk for pk, was_created in written if was_created))
    if ranges:
        ImportedRange.objects.bulk_create(
            [ImportedRange(run=run, first_id=first, last_id=last) for first, last in ranges]
        )
        for id_range in ranges:
            created.add(id_range)
    updated = sorted({pk for pk, was_created in written if not was_created and pk not in created})
    if updated:
        ImportedLead.objects.bulk_create(
            [ImportedLead(run=run, lead_id=pk, created=False) for pk in updated],
            batch_size=BATCH_SIZE,
            ignore_conflicts=True,
        )


def _id_ranges(ids: list[int]) -> list[tuple[int, int]]:
    """Sorted ids as runs of consecutive ones: [1, 2, 3, 7] is [(1, 3), (7, 7)]."""
    ranges: list[tuple[int, int]] = []
    for pk in ids:
        if ranges and pk == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], pk)
        else:
            ranges.append((pk, pk))
    return ranges


class _CreatedIds:
    """The ranges of ids a run created so far, for `pk in created` (a batch's ranges come
    after the ones before it, but a batch redone row by row takes newer ids)."""

    def __init__(self) -> None:
        self._ranges: list[tuple[int, int]] = []

    def add(self, id_range: tuple[int, int]) -> None:
        bisect.insort(self._ranges, id_range)

    def __contains__(self, pk: object) -> bool:
        if not isinstance(pk, int):
            return False
        at = bisect.bisect_right(self._ranges, pk, key=lambda id_range: id_range[0]) - 1
        return at >= 0 and pk <= self._ranges[at][1]


SEARCH_INDEX = "lead_search_idx"  # leads/migrations 0014 and 0020
# A run that created at least this many leads has the pending list merged after it; a
# smaller one (a form's few rows, an integration's batch) would pay for entries others left
# there, up to the whole list, so it leaves them to autovacuum as single creates do.
SETTLE_AFTER = BATCH_SIZE


def search_index_settle() -> None:
    """Merge the search index's pending list once a run's new leads are in it (PostgreSQL):
    one sorted merge costs far less than the merges the inserts would have set off
    (leads/migrations/0020), and searches stop scanning the waiting entries. The worker
    does it after the run (leads.handlers): the run's leads are committed and found by
    search meanwhile (the pending list is searched too), and the run is done 1.4 s sooner
    per 100k leads. It needs the index's owner (the role that migrates); a role without
    that leaves the merge to autovacuum."""
    if connection.vendor != "postgresql":
        return
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT gin_clean_pending_list(%s::regclass)", [SEARCH_INDEX])
    except DatabaseError:
        logger.info("The search index's pending list is left to autovacuum.", exc_info=True)


class ImportAbandoned(Exception):
    """The run was marked failed while it ran (its heartbeat was taken for lost)."""


def _progress(
    record: LeadImport,
    result: ImportResult,
    *,
    beat: bool = False,
    status: str | None = None,
    report: list[dict[str, Any]] | None = None,
    failure: str = "",
) -> None:
    """Write the run's counts, with a heartbeat (`beat`) or its final status.

    Only a running record is written: one marked failed meanwhile keeps its verdict, and
    a heartbeat that finds it so raises ImportAbandoned (inside the batch's transaction).
    """
    now = timezone.now()
    values: dict[str, Any] = {
        "total_rows": result.total,
        "created_count": result.created,
        "updated_count": result.updated,
        "unchanged_count": result.unchanged,
        "error_count": result.errors,
        "warning_count": result.warnings,
        "heartbeat_at": now,
    }
    if status:
        values["status"] = status
        values["finished_at"] = now
        values["failure"] = failure
    if report is not None:
        values["report"] = report
    written = LeadImport.objects.filter(pk=record.pk, status=LeadImport.Status.RUNNING).update(
        **values
    )
    if not written:
        if beat:
            raise ImportAbandoned(record.pk)
        return
    for name, value in values.items():
        setattr(record, name, value)


class _DryRunRollback(Exception):
    pass


def _parse_batch(
    batch: list[tuple[int, dict[str, Any]]],
    *,
    mapping: dict[str, str] | None,
    lookups: _Lookups,
) -> tuple[list[ParsedRow], dict[int, RowResult]]:
    """The batch's rows parsed and validated (nothing written): the good ones, and the
    refused ones' results by row number."""
    parsed: list[ParsedRow] = []
    refused: dict[int, RowResult] = {}
    for number, raw in batch:
        outcome = row_parse(number=number, raw=raw, mapping=mapping, lookups=lookups)
        if isinstance(outcome, ParsedRow):
            parsed.append(outcome)
        else:
            refused[number] = RowResult(row=number, status="error", errors=outcome)
    return parsed, refused


Batch = list[tuple[int, dict[str, Any]]]  # (row number, raw row)
Parsed = tuple[Batch, list[ParsedRow], dict[int, RowResult], ImportFileError | None]


def _batches_parsed(
    rows: Iterable[dict[str, Any]], *, size: int, mapping: dict[str, str] | None,
    lookups: _Lookups,
) -> Iterator[Parsed]:  # fmt: skip
    """The file's rows in batches of `size`, each read and parsed (nothing written): the
    batch, its good rows, its refused rows' results, and the file error that ended it
    (the rows read before it are imported).

    Parsed before their batch's transaction: SQLite has one writer, and a batch that held
    the write lock while it parsed left a reminder or a rep's follow-up waiting past its
    busy timeout until the whole import was done.
    """
    numbered = enumerate(rows, start=1)
    while True:
        batch: Batch = []
        file_error = None
        try:
            for item in itertools.islice(numbered, size):
                batch.append(item)
        except ImportFileError as exc:
            file_error = exc
        parsed, refused = _parse_batch(batch, mapping=mapping, lookups=lookups)
        yield batch, parsed, refused, file_error
        if file_error is not None or len(batch) < size:
            return


def _write_batch(
    batch: list[tuple[int, dict[str, Any]]],
    parsed: list[ParsedRow],
    refused: dict[int, RowResult],
    *,
    user: AbstractBaseUser | None,
    dry_run: bool,
    lookups: _Lookups,
    emit: Callable[[RowResult], None],
    plan: _Plan | None = None,
) -> None:
    """Write the parsed rows (as `plan` says, if planned) and report every row of the
    batch, in order."""
    decided = dict(refused)
    try:
        with transaction.atomic():
            if plan is not None:
                decided.update(_plan_write(plan, user=user, lookups=lookups))
            else:
                decided.update(_write(parsed, user=user, lookups=lookups))
            if dry_run:
                raise _DryRunRollback
    except _DryRunRollback:
        pass
    except IntegrityError:
        # A concurrent writer took a key meanwhile: redo this batch row by row.
        decided.update(_write_slowly(parsed, user=user, dry_run=dry_run))
    for number, _raw in batch:
        emit(decided[number])


def _existing(parsed: list[ParsedRow]) -> tuple[dict[str, Lead], dict[str, Lead]]:
    return leads_by_keys(
        external_ids=(p.fields.get("external_id") for p in parsed),
        emails=(p.fields["email"] for p in parsed),
    )


def _write(
    parsed: list[ParsedRow], *, user: AbstractBaseUser | None, lookups: _Lookups
) -> dict[int, RowResult]:
    decided: dict[int, RowResult] = {}
    todo = parsed
    while todo:
        plan = _plan(todo, user=user, lookups=lookups)
        decided.update(_plan_write(plan, user=user, lookups=lookups, deferred=False))
        todo = plan.deferred
    return decided


@dataclass
class _Plan:
    """A batch's writes, decided before its transaction: the rows matching a lead (with the
    leads they match), the new leads' COPY statements (ids reserved, rows encoded), the
    rows named twice in the batch (written after the others, when their first is), and
    what the batch's rows name (their keys, the leads they match), for the next batch's
    plan (_Pipeline)."""

    updates: list[tuple[ParsedRow, Lead]]
    by_email: dict[str, Lead]
    creation: _Creation
    deferred: list[ParsedRow]
    keys: set[str]
    lead_ids: set[int]


def _plan(
    parsed: list[ParsedRow], *, user: AbstractBaseUser | None, lookups: _Lookups,
    pipeline: _Pipeline | None = None,
) -> _Plan:  # fmt: skip
    # The batch being written, if any, before the read: a read made while it is written
    # does not see it, and the write may end before the read does.
    writing = pipeline.writing() if pipeline is not None else None
    by_external, by_email = _existing(parsed)
    if pipeline and writing and _touches(writing, parsed, by_external, by_email):
        pipeline.wait()  # read what it names once it is written
        by_external, by_email = _existing(parsed)
    updates: list[tuple[ParsedRow, Lead]] = []
    pending: list[ParsedRow] = []
    keys: set[str] = set()  # the keys the pass's rows name
    lead_ids: set[int] = set()  # the leads they match
    moving: set[str] = set()  # the keys a row of the pass creates, or takes from a lead or to it
    moved: set[int] = set()  # the leads whose keys a row of the pass changes
    deferred: list[ParsedRow] = []
    for row in parsed:
        email = row.fields["email"].lower()
        external_id = row.fields.get("external_id")
        lead = (by_external.get(external_id) if external_id else None) or by_email.get(email)
        other = by_email.get(email)
        found = {match.pk for match in (lead, other) if match is not None}
        if email in moving or (external_id and external_id in moving) or found & moved:
            # A key an earlier row of the batch creates or moves, or a lead it moves: that
            # row is written first, then this one is matched again (as a row at a time).
            deferred.append(row)
            continue
        row_keys = {email, external_id} - {None}
        keys |= row_keys
        lead_ids |= found
        if lead is None:
            pending.append(row)
            moving |= row_keys
        else:
            updates.append((row, lead))
            if email != lead.email.lower() or external_id not in (None, lead.external_id):
                moving |= row_keys | {lead.email.lower(), lead.external_id} - {None}
                moved |= found
    return _Plan(
        updates=updates, by_email=by_email,
        creation=_creation_prepare(pending, user=user, lookups=lookups),
        deferred=deferred, keys=keys, lead_ids=lead_ids,
    )  # fmt: skip


def _plan_write(
    plan: _Plan, *, user: AbstractBaseUser | None, lookups: _Lookups, deferred: bool = True
) -> dict[int, RowResult]:
    """Write a planned batch (in the caller's transaction); with `deferred`, then the rows
    it named twice."""
    decided: dict[int, RowResult] = {}
    for row, lead in plan.updates:
        decided[row.row] = _update(row, lead=lead, user=user, by_email=plan.by_email)
    decided.update(_creation_write(plan.creation))
    if deferred and plan.deferred:
        decided.update(_write(plan.deferred, user=user, lookups=lookups))
    return decided


class _Pipeline:
    """The batches' writes in a thread of their own (its own connection, PostgreSQL only),
    one batch at a time, while the caller's thread reads and plans the next.

    A batch is planned against what is committed: while the batch before it is being
    written, a row that names one of its keys or leads waits for it (`_touches`), as does
    every row after a batch with a row named twice (whose lead only its write decides)."""

    def __init__(self) -> None:
        self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="import")
        self._future: concurrent.futures.Future | None = None
        self._plan: _Plan | None = None
        # The writing thread mostly waits on the server; each time an answer comes it
        # waits again for the reading thread to let go of the interpreter, 5 ms by default,
        # ten or so times a batch: 100k rows took 13.7 s, 10.9 s at 1 ms and 0.4–1.6 s
        # less again at 0.2 ms (the run's process does nothing else meanwhile; close()
        # restores it).
        _switch_interval_lower()

    def writing(self) -> _Plan | None:
        """The plan of the batch being written (None once it is committed)."""
        if self._future is None or self._future.done():
            return None
        return self._plan

    def submit(self, plan: _Plan, write: Callable[[], None]) -> None:
        self.wait()
        self._plan = plan
        self._future = self._executor.submit(write)

    def wait(self) -> None:
        future, self._future = self._future, None
        if future is not None:
            future.result()

    def stop(self) -> None:
        """Wait for the batch in hand, whatever its outcome (the caller is failing)."""
        try:
            self.wait()
        except BaseException:
            logger.debug("An import's batch failed while the run stopped", exc_info=True)

    def close(self) -> None:
        self.stop()
        try:
            self._executor.submit(connections.close_all).result()
            self._executor.shutdown()
        finally:
            _switch_interval_restore()


_switch = {"runs": 0, "interval": 0.0}
_switch_lock = threading.Lock()


def _switch_interval_lower() -> None:
    with _switch_lock:
        if not _switch["runs"]:
            _switch["interval"] = sys.getswitchinterval()
            sys.setswitchinterval(min(_switch["interval"], SWITCH_INTERVAL))
        _switch["runs"] += 1


def _switch_interval_restore() -> None:
    """The process's own switch interval back once its last pipelined run is done."""
    with _switch_lock:
        _switch["runs"] -= 1
        if not _switch["runs"]:
            sys.setswitchinterval(_switch["interval"])


def _touches(
    plan: _Plan, parsed: list[ParsedRow], by_external: dict[str, Lead], by_email: dict[str, Lead]
) -> bool:
    """Whether rows of the next batch name a key or a lead that `plan` writes (or might:
    its rows written twice are matched only as they are written)."""
    if plan.deferred:
        return True
    for row in parsed:
        external_id = row.fields.get("external_id")
        if row.fields["email"].lower() in plan.keys or (external_id and external_id in plan.keys):
            return True
    found = [*by_external.values(), *by_email.values()]
    return any(lead.pk in plan.lead_ids for lead in found)


def _pipelined(*, dry_run: bool) -> bool:
    """Whether a run writes its batches in a thread of their own (_Pipeline): on
    PostgreSQL, for a run that is not a dry run nor inside the caller's transaction (whose
    rows another connection could not see)."""
    return not dry_run and connection.vendor == "postgresql" and not connection.in_atomic_block


def _update(
    row: ParsedRow, *, lead: Lead, user: AbstractBaseUser | None, by_email: dict[str, Lead]
) -> RowResult:
    email = row.fields["email"].lower()
    other = by_email.get(email)
    if other is not None and other.pk != lead.pk:
        return RowResult(
            row=row.row,
            status="error",
            errors=[{"field": "email", "message": _("Another lead already has this email.")}],
        )
    data = dict(row.fields)
    if row.custom:
        data["custom_fields"] = {**(lead.custom_fields or {}), **row.custom}
    if "campaign" in data and lead.campaign_id:
        data.pop("campaign")  # the first touch stays the first touch
    changes = lead_changes(lead=lead, data=data)
    if "campaign" in changes:
        changes["campaign"] = Campaign.objects.get(pk=changes["campaign"])
    if not changes:
        return RowResult(row=row.row, status="unchanged", id=lead.pk)
    try:
        with transaction.atomic():
            lead_update(lead=lead, data=changes, actor=user, source=LeadEdit.Source.IMPORT)
    except ValidationError as exc:
        return RowResult(row=row.row, status="error", id=lead.pk, errors=_errors_of(exc))
    except LeadConflict as exc:
        return RowResult(
            row=row.row, status="error", id=lead.pk,
            errors=[{"field": "email", "message": str(exc)}],
        )  # fmt: skip
    return RowResult(row=row.row, status="updated", id=lead.pk)


def _errors_of(exc: ValidationError) -> list[dict[str, str]]:
    if hasattr(exc, "error_dict"):
        return [
            {"field": name, "message": message}
            for name, messages in exc.message_dict.items()
            for message in messages
        ]
    return [{"field": "", "message": message} for message in exc.messages]


@dataclass
class _Creation:
    """A batch's new leads, made ready before the batch's transaction: their fields and
    scores, and on PostgreSQL their ids (reserved) and COPY statements (encoded), which
    the write only sends. Elsewhere (`copies` None) the write inserts them."""

    rows: list[ParsedRow]
    leads: list[dict[str, Any]]
    scored: list[dict[str, Any]]
    funnel: Funnel | None
    actor_id: int | None
    copies: list[Copy] | None = None


def _creation_prepare(
    rows: list[ParsedRow], *, user: AbstractBaseUser | None, lookups: _Lookups
) -> _Creation:
    """The fast path's first half: every new lead of the batch as its row of fields,
    scored (and on PostgreSQL its history and deals encoded for COPY, config.bulk)."""
    now = timezone.now()
    actor_id = user.pk if user is not None and user.pk else None
    leads: list[dict[str, Any]] = []
    no_custom: dict[str, Any] = {}  # shared by the leads without custom fields: encoded once
    for row in rows:
        created_at = row.created_at or now
        lead = {
            **{k: v for k, v in row.fields.items() if k != "campaign"},
            "campaign_id": row.campaign_id,
            "custom_fields": row.custom or no_custom,
            "created_by_id": actor_id,
            "created_at": created_at,
            "inquiry_at": created_at,
            "stage": row.stage,
            "stage_entered_at": row.history[-1][1] if row.history else created_at,
            "owner_id": row.owner_id,
            "territory_id": lookups.territory(row.fields.get("country", ""), row.owner_id),
        }
        for stage, at in row.history:
            lead[f"{stage}_at"] = at
        if row.owner_id:
            lead["assigned_at"] = lead.get("mql_at") or created_at
        leads.append(lead)
    funnel = _funnel() if rows else None
    scored = _score(leads, funnel=funnel, known=lookups.scores)
    creation = _Creation(rows=rows, leads=leads, scored=scored, funnel=funnel, actor_id=actor_id)
    if rows and connection.vendor == "postgresql":
        ids, copy = copy_prepare(Lead, leads, with_ids=True)
        events, deals = _history(creation, ids)
        then = (copy_prepare(StageEvent, events)[1], copy_prepare(Deal, deals)[1])
        creation.copies = [c for c in (copy, *then) if c is not None]
    return creation


def _creation_write(creation: _Creation) -> dict[int, RowResult]:
    """The fast path's second half, in the batch's transaction: the new leads, their
    history and deals written (in a few inserts), the qualifying ones made MQLs."""
    if not creation.rows:
        return {}
    if creation.copies is None:
        ids = rows_insert(Lead, creation.leads, with_ids=True)
        events, deals = _history(creation, ids)
        rows_insert(StageEvent, events)
        rows_insert(Deal, deals)
    else:
        for copy in creation.copies:
            copy.send()
    new_ids = [lead["id"] for lead in creation.leads]
    _promote_qualifying(leads=creation.scored, funnel=creation.funnel)
    publish(LeadsImported(lead_ids=tuple(new_ids)))
    return {
        row.row: RowResult(
            row=row.row, status="warning" if row.warnings else "created", id=pk,
            warnings=row.warnings,
        )
        for row, pk in zip(creation.rows, new_ids, strict=True)
    }  # fmt: skip


def _history(
    creation: _Creation, ids: list[int]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The new leads' ids set, and their stage events and deals."""
    events: list[dict[str, Any]] = []
    deals: list[dict[str, Any]] = []
    actor_id = creation.actor_id
    for row, lead, pk in zip(creation.rows, creation.leads, ids, strict=True):
        lead["id"] = pk
        previous = StageKey.INQUIRY
        event = {"lead_id": pk, "actor_id": actor_id, "source": StageEvent.Source.IMPORT}
        events.append({**event, "to_stage": StageKey.INQUIRY, "occurred_at": lead["created_at"]})
        for stage, at in row.history:
            reason = row.lost_reason if stage == StageKey.LOST else ""
            events.append(
                {**event, "from_stage": previous, "to_stage": stage, "occurred_at": at,
                 "reason": reason}
            )  # fmt: skip
            previous = stage
        if row.deal_amount is not None:
            deals.append(_deal(row, lead=lead))
    return events, deals


def _deal(row: ParsedRow, *, lead: dict[str, Any]) -> dict[str, Any]:
    if lead["stage"] == StageKey.WON:
        outcome, closed_at = DealOutcome.WON, lead["won_at"]
    elif lead["stage"] == StageKey.LOST:
        outcome, closed_at = DealOutcome.LOST, lead["lost_at"]
    else:
        outcome, closed_at = DealOutcome.OPEN, None
    return {
        "lead_id": lead["id"],
        "owner_id": lead["owner_id"],
        "amount": row.deal_amount,
        "outcome": outcome,
        "closed_at": closed_at,
        "lost_reason": (row.lost_reason or _("Imported")) if outcome == DealOutcome.LOST else "",
        "created_at": lead.get("opportunity_at") or lead["created_at"],
    }


def _score(
    leads: list[dict[str, Any]], *, funnel: Funnel | None, known: _Scores
) -> list[dict[str, Any]]:
    """Score the new inquiry leads before they are written (alignment's score_compute:
    a new lead has no touches, so its fit rules alone), so a batch is written once;
    returns them, for _promote_qualifying once they have ids."""
    if funnel is None:
        return []
    now = timezone.now()
    scored = [lead for lead in leads if lead["stage"] == StageKey.INQUIRY]
    # Without touches a score is a function of the fields the rules read: leads alike in
    # those share one computed result (the file's rows repeat titles, countries, sizes).
    # (Must rules decide qualifying, read once the leads are written: not part of a score.)
    # `known`: the run's results so far, for these very rules.
    fields = sorted({rule.field for rule in funnel.rules if rule.kind == RuleKind.FIT})
    if known.rules is not funnel.rules or len(known.results) > SCORES_KEPT:
        known.rules, known.results = funnel.rules, {}
    for lead in scored:
        try:
            key = tuple(_hashable(lead_field_value(lead, name)) for name in fields)
            result = known.results.get(key)
        except TypeError:  # a custom field holding a list or an object: scored alone
            key, result = None, None
        if result is None:
            result = score_compute(lead=lead, rules=funnel.rules, touches=(), now=now)
            if key is not None:
                known.results[key] = result
        lead.update(score=result.score, score_breakdown=result.breakdown, scored_at=now)
    return scored


def _hashable(value: Any) -> Any:
    """`value` as a key part, for the plain types whose equal values read the same to every
    rule (the type is kept: 1, "1" and True stay apart); TypeError for any other."""
    if value is None or type(value) in (str, int, bool):
        return (type(value), value)
    raise TypeError(type(value))


def _promote_qualifying(*, leads: list[dict[str, Any]], funnel: Funnel | None) -> None:
    """New inquiry leads (scored, with ids) whose score and must rules pass become MQLs
    (the stage service); none is looked up when no score reaches the threshold."""
    if funnel is None:
        return
    lead_ids = [
        lead["id"]
        for lead in leads
        if score_meets_threshold(score=lead["score"], agreement=funnel.agreement)
    ]
    if not lead_ids:
        return
    qualifying = qualifying_lead_ids(agreement=funnel.agreement, lead_ids=lead_ids)
    if not qualifying:
        return
    for lead in Lead.objects.filter(pk__in=qualifying, stage=StageKey.INQUIRY):
        lead_promote_if_qualified(lead=lead, funnel=funnel)


def _funnel() -> Funnel | None:
    try:
        return funnel_active()
    except NoActiveAgreement:
        return None


def _write_slowly(
    parsed: list[ParsedRow], *, user: AbstractBaseUser | None, dry_run: bool
) -> dict[int, RowResult]:
    """Row by row through lead_upsert, each in its own savepoint (the fallback path)."""
    decided: dict[int, RowResult] = {}
    lookups = _Lookups()
    for row in parsed:
        try:
            with transaction.atomic():
                if row.has_history or row.deal_amount is not None:
                    found = _write([row], user=user, lookups=lookups)
                    decided.update(found)
                else:
                    data = {**row.fields, "custom_fields": row.custom} if row.custom else row.fields
                    lead, status = lead_upsert(
                        data=data, actor=user, source=StageEvent.Source.IMPORT
                    )
                    decided[row.row] = RowResult(row=row.row, status=status, id=lead.pk)
                if dry_run:
                    transaction.set_rollback(True)
        except (ValidationError, LeadConflict, IntegrityError) as exc:
            errors = (
                _errors_of(exc)
                if isinstance(exc, ValidationError)
                else [{"field": "email", "message": str(exc) or _("This lead already exists.")}]
            )
            decided[row.row] = RowResult(row=row.row, status="error", errors=errors)
    return decided


# --- the per-row report as CSV ----------------------------------------------------------------

REPORT_HEADER = ["row", "status", "id", "field", "message"]


def report_lines(item: dict[str, Any]) -> Iterator[list[Any]]:
    """A row result as report lines: one per error or warning, else one."""
    problems = [*(item.get("errors") or []), *(item.get("warnings") or [])]
    for problem in problems or [{"field": "", "message": ""}]:
        yield [
            item.get("row"),
            item.get("status"),
            item.get("id", ""),
            problem.get("field"),
            problem.get("message"),
        ]


REPORT_LEAD_HEADER = ["lead", "email"]
_REPORT_CHUNK = 500


def report_csv_rows(results: Iterable[dict[str, Any]]) -> Iterator[list[Any]]:
    """One line per row result, one per error or warning of a row, each naming the lead it
    wrote as "name · company" and its e-mail (config.formats' lead_label); write it with
    config.exports. Leads are read a chunk of rows at a time, so the report streams."""
    yield REPORT_HEADER + REPORT_LEAD_HEADER
    items = iter(results)
    while chunk := list(itertools.islice(items, _REPORT_CHUNK)):
        ids = {item["id"] for item in chunk if item.get("id")}
        leads = Lead.objects.only("first_name", "last_name", "company", "email").in_bulk(ids)
        for item in chunk:
            lead = leads.get(item.get("id"))
            named = [lead_label(lead), lead.email] if lead is not None else ["", ""]
            for line in report_lines(item):
                yield line + named
