"""Walk the URL conf, so tests cover every page, including ones added later."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urlencode

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


def with_demo_ids(path: str) -> str:
    """A page_urls() path with its sample /1/ replaced by the id of a demo object
    (config.demo.demo_seed), so the walk renders real pages rather than 404s."""
    from alignment.models import Agreement, Battlecard, Dispute, FieldIntel
    from campaigns.models import Campaign, Collateral, SpendEntry
    from leads.models import Lead, StageEvent

    lead = Lead.objects.order_by("pk").first().pk
    path = path.replace("/leads/1/", f"/leads/{lead}/")
    last_move = StageEvent.objects.filter(lead_id=lead).order_by("-occurred_at", "-id").first()
    path = path.replace(f"/leads/{lead}/revert/1/", f"/leads/{lead}/revert/{last_move.pk}/")
    path = path.replace("/campaigns/touches/lead/1/", f"/campaigns/touches/lead/{lead}/")
    campaign = Campaign.objects.order_by("pk").first().pk
    spend = SpendEntry.objects.filter(campaign_id=campaign).order_by("pk").first()
    if spend is not None:  # a spend entry's page: /campaigns/1/spend/1/
        path = path.replace("/campaigns/1/spend/1/", f"/campaigns/{campaign}/spend/{spend.pk}/")
    path = path.replace("/campaigns/1/", f"/campaigns/{campaign}/")
    path = path.replace("/agreement/1/", f"/agreement/{Agreement.objects.get().pk}/")
    download = Collateral.objects.exclude(file="").order_by("pk").first()  # the price list
    path = path.replace("/campaigns/collateral/1/", f"/campaigns/collateral/{download.pk}/")
    feedback = (("intel", FieldIntel), ("battlecards", Battlecard), ("disputes", Dispute))
    for prefix, model in feedback:
        first = model.objects.order_by("pk").first()
        path = path.replace(f"/feedback/{prefix}/1/", f"/feedback/{prefix}/{first.pk}/")
    from leads.models import ChannelAlias

    alias = ChannelAlias.objects.order_by("pk").first()  # a default alias (leads 0015)
    if alias is not None:
        path = path.replace("/leads/import/aliases/1/", f"/leads/import/aliases/{alias.pk}/")
    from metrics.models import Territory

    territory = Territory.objects.order_by("pk").first()  # a demo territory
    path = path.replace("/territories/1/", f"/territories/{territory.pk}/")
    return path


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


def _sample(schema: dict, components: dict, depth: int = 0, name: str = ""):
    """A plausible value for a schema of the OpenAPI document (its first enum value, a
    date, an email, 1, "x"), objects with their required properties only."""
    if "$ref" in schema:
        schema = components.get(schema["$ref"].rpartition("/")[2], {})
    for combined in ("allOf", "oneOf", "anyOf"):
        if schema.get(combined):
            return _sample(schema[combined][0], components, depth)
    if schema.get("enum"):
        return next((v for v in schema["enum"] if v not in (None, "")), schema["enum"][0])
    kind, form = schema.get("type"), schema.get("format")
    if kind == "object" or "properties" in schema:
        if depth > 3:
            return {}
        properties = schema.get("properties", {})
        return {
            key: _sample(properties[key], components, depth + 1, key)
            for key in schema.get("required", [])
            if key in properties and not properties[key].get("readOnly")
        }
    if kind == "array":
        return [_sample(schema.get("items", {}), components, depth + 1)]
    if kind in ("integer", "number"):
        return 1
    if kind == "boolean":
        return True
    if "email" in name:
        return "walk@example.com"
    return {
        "decimal": "1.00",
        "date": "2026-01-05",
        "date-time": "2026-01-05T10:00:00Z",
        "email": "walk@example.com",
        "uri": "https://127.0.0.1:9/walk",  # loopback's discard port: nothing leaves
        "uuid": "00000000-0000-0000-0000-000000000000",
    }.get(form, "x")


def api_walk(client, schema: dict) -> dict[str, str]:
    """GET every path of the OpenAPI schema; POST to every POST operation twice, an empty
    JSON body and one with the required fields of its request schema. Path parameters
    are 1, required query parameters a sample value; collections come first.

    Returns {"METHOD url": what went wrong} for every answer of 500 or more, a raised
    exception counted as one (the test client re-raises a view's exception).
    """
    components = schema.get("components", {}).get("schemas", {})
    failures: dict[str, str] = {}
    # Collections first, so a created object (id 1 on a fresh database) is walked too.
    paths = sorted(schema["paths"].items(), key=lambda item: "{" in item[0])
    for path, operations in paths:
        url = re.sub(r"\{[^}]+\}", "1", path)
        for method in ("get", "post"):
            if method not in operations:
                continue
            operation = operations[method]
            query = {
                parameter["name"]: str(_sample(parameter.get("schema", {}), components))
                for parameter in operation.get("parameters", [])
                if parameter.get("in") == "query" and parameter.get("required")
            }
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            bodies = [{}, _sample(body["schema"], components)] if body else [{}]
            for sent in bodies if method == "post" else [None]:
                key = f"{method.upper()} {url}" + (f" {sent}" if sent else "")
                try:
                    if method == "get":
                        response = client.get(url, query)
                    else:
                        target = f"{url}?{urlencode(query)}" if query else url
                        response = client.post(target, sent, content_type="application/json")
                except Exception as exc:  # the view's crash, re-raised by the test client
                    failures[key] = repr(exc)
                    continue
                if response.status_code >= 500:
                    failures[key] = str(response.status_code)
    return failures
