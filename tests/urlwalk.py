"""Walk the URL conf, so tests cover every page, including ones added later."""

from __future__ import annotations

import re
from collections.abc import Iterator

from django.urls import URLPattern, URLResolver, get_resolver

_CONVERTER = re.compile(r"<(?:(?P<conv>\w+):)?(?P<name>\w+)>")
_SAMPLE = {
    "int": "1",
    "str": "x",
    "slug": "x",
    "uuid": "00000000-0000-0000-0000-000000000000",
    "path": "x",
}


def _walk(patterns, prefix: str = "", namespace: str = "") -> Iterator[tuple[str, str]]:
    for pattern in patterns:
        route = str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            ns = pattern.namespace or namespace
            yield from _walk(pattern.url_patterns, prefix + route, ns)
        elif isinstance(pattern, URLPattern):
            name = (
                f"{namespace}:{pattern.name}"
                if namespace and pattern.name
                else (pattern.name or "")
            )
            yield name, prefix + route


def page_urls() -> list[tuple[str, str]]:
    """(name, path) of every HTML page: not the admin, the API, static or media files."""
    pages = []
    for name, route in _walk(get_resolver().url_patterns):
        if route.startswith(
            ("admin/", "api/", "^static", "^media", "static/", "media/")
        ) or route.startswith("^"):
            continue
        path = "/" + _CONVERTER.sub(lambda m: _SAMPLE.get(m.group("conv") or "str", "1"), route)
        pages.append((name, path))
    return pages


def all_routes() -> list[tuple[str, str]]:
    """(name, route) of every named URL but the admin's and static/media files: pages and
    API alike, DRF router routes included (they are URLPatterns under a resolver)."""
    return [
        (name, route)
        for name, route in _walk(get_resolver().url_patterns)
        if name and not route.startswith(("admin/", "static/", "media/", "^"))
    ]


def api_routes() -> list[tuple[str, str]]:
    """(name, route) of every REST API endpoint (under api/)."""
    return [(name, route) for name, route in all_routes() if route.startswith("api/")]
