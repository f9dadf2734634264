"""API rate limits per token (429 with Retry-After); logins are guarded by django-axes.

Rates are read from settings on every request (API_THROTTLE_RATES, from the
environment), so deployments and tests can change them; API_THROTTLE_ENABLED switches
the limits off (the test suite does, except the test of the limit itself).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.authtoken.models import Token
from rest_framework.throttling import SimpleRateThrottle


class _SettingsRateThrottle(SimpleRateThrottle):
    def __init__(self) -> None:  # the rate is read per request, not at import
        pass

    def allow_request(self, request: Any, view: Any) -> bool:
        if not settings.API_THROTTLE_ENABLED:
            return True
        self.rate = settings.API_THROTTLE_RATES.get(self.scope)
        if not self.rate:
            return True
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)


class TokenRateThrottle(_SettingsRateThrottle):
    """Each API token (or, with session auth, each user) gets its own budget."""

    scope = "token"

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        if isinstance(request.auth, Token):
            ident = f"token:{request.auth.key}"
        elif request.user and request.user.is_authenticated:
            ident = f"user:{request.user.pk}"
        else:
            return None
        return self.cache_format % {"scope": self.scope, "ident": ident}


class AnonymousRateThrottle(_SettingsRateThrottle):
    """Unauthenticated calls (the token endpoint, 401s) share a budget per client IP."""

    scope = "anon"

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        if request.user and request.user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
