"""Checks every CSV export's test uses: it parses, has a header, and runs no formula.

The rule (issue #18): no cell, nor any piece of a cell split on `,`, `;` or tab, starts
with `=`, `+`, `@`, tab or CR, or with `-` unless it is a plain number.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any

# Values a hostile user types into names, notes and companies.
HOSTILE = [
    "=1+1",
    "+1",
    "@SUM(A1)",
    "-2+3",
    "\t=x",
    "\r=x",
    'Acme;=HYPERLINK("http://x")',
    "a,=b",
    "a\t@c",
]
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_LIVE = ("=", "+", "@", "\t", "\r")


def _pieces(cell: str) -> list[str]:
    pieces = [cell]
    for separator in (",", ";", "\t"):
        pieces += cell.split(separator)
    return pieces + re.split(r"[,;\t]", cell)


def live_pieces(rows: list[list[str]]) -> list[str]:
    """Every cell or piece of a cell a spreadsheet would run."""
    return [
        piece
        for row in rows
        for cell in row
        for piece in _pieces(cell)
        if piece.startswith(_LIVE) or (piece.startswith("-") and not _NUMBER.fullmatch(piece))
    ]


def csv_body(response: Any) -> str:
    """The body of a (streaming) CSV response, checked to be UTF-8 CSV without a BOM."""
    assert response["Content-Type"].startswith("text/csv"), response["Content-Type"]
    raw = b"".join(response.streaming_content) if response.streaming else bytes(response.content)
    assert not raw.startswith(b"\xef\xbb\xbf")
    return raw.decode("utf-8")


def safe_rows(response_or_body: Any) -> list[list[str]]:
    """The rows of an export, after checking it parses, has a header and runs nothing."""
    body = response_or_body if isinstance(response_or_body, str) else csv_body(response_or_body)
    rows = list(csv.reader(io.StringIO(body, newline=""), strict=True))
    assert rows and rows[0] and all(rows[0]), f"no header row: {body[:200]!r}"
    width = len(rows[0])
    assert all(len(row) == width for row in rows), "rows as wide as the header"
    live = live_pieces(rows)
    assert live == [], f"cells a spreadsheet would run: {live!r}"
    return rows


def column(rows: list[list[str]], name: str) -> list[str]:
    """The cells under header `name`."""
    index = rows[0].index(name)
    return [row[index] for row in rows[1:]]
