"""CSV exports: the one place that makes a cell safe to open in a spreadsheet.

A spreadsheet runs a cell that starts like a formula (OWASP "CSV injection"); and a
spreadsheet that splits a cell's text into columns on `,`, `;` or tab runs each piece
that starts like one (`Acme;=HYPERLINK(…)`). So every export writes its cells through
``csv_safe``, and every download goes out through ``csv_response``: the page exports,
the API's CSV renderer (config/renderers.py), the metrics records, the import report.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.http import StreamingHttpResponse
from django.utils import timezone

# What a spreadsheet reads as the start of a formula (or hides one behind).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Where a spreadsheet may split a cell's text into pieces, each read on its own.
PIECE_BREAKS = frozenset(",;\t\r\n")
_DANGER = frozenset(FORMULA_START)
PLAIN_NUMBER = re.compile(r"-?(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][-+]?\d+)?")
_SAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")


def csv_number(value: int | float | Decimal) -> str:
    """A number as a spreadsheet reads it: plain digits, a point, a leading minus."""
    if isinstance(value, Decimal):
        return format(value, "f") if value.is_finite() else ""
    if isinstance(value, float) and not math.isfinite(value):
        return ""
    return str(value)


def csv_text(value: Any) -> str:
    """The value as a cell's text: numbers plain, booleans true/false, dates ISO (a
    moment in the reader's time zone, to the minute), None empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return csv_number(value)
    if isinstance(value, datetime):
        moment = timezone.localtime(value) if timezone.is_aware(value) else value
        return moment.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def csv_safe(value: Any) -> str:
    """The cell as text that no spreadsheet runs.

    A cell, and every piece of it after a `,`, `;`, tab, CR or LF, that starts with
    `=`, `+`, `-`, `@`, tab or CR gets a leading `'` (so `Acme;=X` becomes `Acme;'=X`,
    and `\\t=x` becomes `'\\t'=x`). A plain number (12, -12.50, Decimal, "-3") stays as
    it is, so a spreadsheet still adds it up.
    """
    text = csv_text(value)
    if not text or PLAIN_NUMBER.fullmatch(text):
        return text
    out: list[str] = []
    at_piece_start = True
    for char in text:
        if at_piece_start and char in _DANGER:
            out.append("'")
        out.append(char)
        at_piece_start = char in PIECE_BREAKS
    return "".join(out)


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_lines(rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    """Each row as one formula-safe CSV line, for a streaming response."""
    writer = csv.writer(_Echo())
    for row in rows:
        yield writer.writerow([csv_safe(cell) for cell in row])


def csv_write_rows(file: Any, rows: Iterable[Iterable[Any]]) -> None:
    """Write formula-safe rows to an open text file."""
    writer = csv.writer(file)
    for row in rows:
        writer.writerow([csv_safe(cell) for cell in row])


def csv_filename(name: str) -> str:
    """A download name that is safe in a header and on any disk: `[A-Za-z0-9._-]`, .csv."""
    stem = _SAFE_FILENAME.sub("-", name.removesuffix(".csv")).strip(".-") or "export"
    return stem[:120] + ".csv"


def csv_response(
    *, filename: str, header: Sequence[Any], rows: Iterable[Iterable[Any]]
) -> StreamingHttpResponse:
    """The one CSV download: a header row, then `rows` streamed (an iterator is read
    lazily, so a queryset's `.iterator()` never sits in memory whole), every cell through
    ``csv_safe``; UTF-8 without a BOM, as an attachment named `filename` (made safe)."""

    def lines() -> Iterator[str]:
        yield from csv_lines([header])
        yield from csv_lines(rows)

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{csv_filename(filename)}"'
    return response
