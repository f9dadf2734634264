"""Content-Security-Policy on every response (Django 5.2 has none built in).

The policy (CONTENT_SECURITY_POLICY in settings) allows scripts, styles and everything
else only from Accord itself, so markup an attacker slips into a page (a lead's name, an
imported note) cannot run script, load a remote one, restyle the page to phish, post a
form elsewhere or frame the app. It holds because the templates carry no inline script,
event handler or style attribute: behaviour lives in static/js/, looks in static/css/
(tests/security/test_csp.py walks every page for both).

A view that needs more (a third-party page) says so with @csp_update; the middleware
merges that into the policy for that view's responses only.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse

HEADER = "Content-Security-Policy"


def policy_header(policy: dict[str, list[str]]) -> str:
    """'default-src 'self'; img-src 'self' data:; …' from {directive: [sources]}."""
    return "; ".join(" ".join([directive, *sources]) for directive, sources in policy.items())


def _merged(base: dict[str, list[str]], extra: dict[str, list[str]]) -> dict[str, list[str]]:
    merged = {directive: list(sources) for directive, sources in base.items()}
    for directive, sources in extra.items():
        current = merged.setdefault(directive, list(base.get("default-src", [])))
        current.extend(source for source in sources if source not in current)
    return merged


def csp_update(**directives: list[str]) -> Callable:
    """Add sources to the policy for one view's responses: @csp_update(img_src=["https:"])."""
    extra = {name.replace("_", "-"): sources for name, sources in directives.items()}

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            response = view(request, *args, **kwargs)
            response.csp_update = extra  # type: ignore[attr-defined]
            return response

        return wrapped

    return decorator


class ContentSecurityPolicyMiddleware:
    """Outermost but one: static files, error pages and the API get the header too."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if HEADER not in response:
            policy = settings.CONTENT_SECURITY_POLICY
            extra = getattr(response, "csp_update", None)
            response[HEADER] = policy_header(_merged(policy, extra) if extra else policy)
        return response
