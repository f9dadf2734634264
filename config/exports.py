"""CSV exports: the one place that makes a cell safe to open in a spreadsheet.

A spreadsheet runs a cell that starts like a formula (OWASP "CSV injection"), so every
export (metrics records, the import report, the import command's report) writes its
cells through ``csv_safe`` — usually via ``csv_lines``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from typing import Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: Any) -> str:
    """The cell as text; one that starts like a formula gets a leading quote."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_START):
        return "'" + text
    return text


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
