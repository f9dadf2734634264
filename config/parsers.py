"""The API's JSON parser: DRF's, refusing bodies nested deeper than any Accord resource.

Python's JSON decoder recurses once per level, so a body of a few kilobytes of "[[[[…"
exhausts the interpreter's stack: a RecursionError, which DRF does not catch (a 500).
No Accord request is nested more than a handful of levels, so anything over MAX_DEPTH is
refused as unreadable (400) before a serializer walks it.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

MAX_DEPTH = 32


def nesting_depth_exceeds(data: Any, limit: int) -> bool:
    """Whether objects and arrays nest more than `limit` levels (iterative: no recursion)."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        children = value.values() if isinstance(value, dict) else value
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


class DepthLimitedJSONParser(JSONParser):
    max_depth = MAX_DEPTH

    def parse(self, stream: Any, media_type: str | None = None,
              parser_context: dict[str, Any] | None = None) -> Any:  # fmt: skip
        message = _("The JSON body is nested more than %(max)d levels deep; send flatter data.")
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(message % {"max": self.max_depth}) from None
        if isinstance(data, dict | list) and nesting_depth_exceeds(data, self.max_depth):
            raise ParseError(message % {"max": self.max_depth})
        return data
