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


def page_routes() -> list[tuple[str, str]]:
    """(name, route) of every HTML page: not the admin, the API, static or media files."""
    return [
        (name, route)
        for name, route in _walk(get_resolver().url_patterns)
        if not route.startswith(("admin/", "api/", "static/", "media/", "^"))
    ]


def route_parameters(route: str) -> list[str]:
    """The names of a route's path parameters, e.g. ["pk", "deal_pk"]."""
    return [m.group("name") for m in _CONVERTER.finditer(route)]


def page_urls() -> list[tuple[str, str]]:
    """(name, path) of every HTML page, with sample values for its path parameters."""
    return [
        (name, "/" + _CONVERTER.sub(lambda m: _SAMPLE.get(m.group("conv") or "str", "1"), route))
        for name, route in page_routes()
    ]


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
