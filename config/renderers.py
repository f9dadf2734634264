"""The API's CSV: any list endpoint answers `Accept: text/csv` (or `?format=csv`).

A list (a plain one, or a page's `results`) becomes one row per item; a nested object
becomes `parent.child` columns and a list one cell, its items joined. Every cell goes
through config.exports' ``csv_safe``, like every export of the pages. Errors stay JSON.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from rest_framework import serializers
from rest_framework.renderers import BaseRenderer, JSONRenderer

from config.exports import csv_lines

LIST_JOIN = "; "


def _flatten(value: Any, prefix: str, out: dict[str, Any]) -> None:
    if isinstance(value, Mapping):
        if not value and prefix:
            out[prefix] = ""
        for key, inner in value.items():
            _flatten(inner, f"{prefix}.{key}" if prefix else str(key), out)
    elif isinstance(value, list | tuple):
        out[prefix] = LIST_JOIN.join(
            json.dumps(item, default=str) if isinstance(item, Mapping | list) else str(item)
            for item in value
            if item is not None
        )
    else:
        out[prefix] = value


def flatten(item: Any) -> dict[str, Any]:
    """One item as {column: cell}: nested objects as `parent.child`, lists joined."""
    out: dict[str, Any] = {}
    _flatten(item if isinstance(item, Mapping) else {"value": item}, "", out)
    return out


def _serializer_columns(fields: Mapping[str, Any], prefix: str = "") -> list[str]:
    columns: list[str] = []
    for name, field in fields.items():
        if getattr(field, "write_only", False):
            continue
        column = f"{prefix}{name}"
        if isinstance(field, serializers.Serializer):
            columns += _serializer_columns(field.fields, column + ".")
        else:
            columns.append(column)
    return columns


def _declared_columns(view: Any) -> list[str]:
    """The columns the view's serializer declares, so even an empty list has a header."""
    get_serializer = getattr(view, "get_serializer", None)
    if get_serializer is None:
        return []
    try:
        serializer = get_serializer()
    except (AssertionError, AttributeError, TypeError, KeyError):
        return []  # a view without one serializer for its answers: columns come from the data
    fields = getattr(serializer, "fields", None)
    return _serializer_columns(fields) if isinstance(fields, Mapping) else []


def _items(data: Any) -> list[Any]:
    if isinstance(data, Mapping) and isinstance(data.get("results"), list):
        return data["results"]  # a page
    if isinstance(data, list | tuple):
        return list(data)
    return [data]


def csv_table(data: Any, columns: Iterable[str] = ()) -> tuple[list[str], list[list[Any]]]:
    """(header, rows) of a response's data."""
    rows = [flatten(item) for item in _items(data)]
    header = list(dict.fromkeys([*columns, *(key for row in rows for key in row)]))
    return header, [[row.get(column, "") for column in header] for row in rows]


class CSVRenderer(BaseRenderer):
    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> Any:
        context = renderer_context or {}
        response = context.get("response")
        if response is not None and response.status_code >= 400:
            # An error is the API's JSON error shape, whatever was asked for.
            response["Content-Type"] = JSONRenderer.media_type
            return JSONRenderer().render(data, JSONRenderer.media_type, dict(context))
        if data is None:
            return b""
        header, rows = csv_table(data, _declared_columns(context.get("view")))
        return "".join(csv_lines([header, *rows])).encode(self.charset)
