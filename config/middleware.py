from __future__ import annotations

import logging
import zoneinfo

from django.contrib.auth.middleware import LoginRequiredMiddleware
from django.http import JsonResponse
from django.shortcuts import render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from kombu.exceptions import OperationalError
from rest_framework.exceptions import AuthenticationFailed

from alignment.models import UserProfile
from config.errors import NotConfigured
from config.generations import AUTH_GENERATION, shared
from config.tokens import ExpiringTokenAuthentication


class PagesLoginRequiredMiddleware(LoginRequiredMiddleware):
    """Every page needs a login; the API answers 401 itself (token or session auth)."""

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.path_info.startswith("/api/"):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)


def user_preferences(*, user_id: int) -> dict[str, str]:
    """A user's chosen language and time zone, cached until a profile or user changes."""
    return shared(
        AUTH_GENERATION,
        f"preferences:{user_id}",
        lambda: (
            UserProfile.objects.filter(user_id=user_id).values("language", "time_zone").first()
            or {"language": "", "time_zone": ""}
        ),
    )


class UserPreferencesMiddleware:
    """After authentication: a signed-in user's (or API token's) chosen language and display
    time zone win.

    Without a choice the language comes from the browser (LocaleMiddleware) and times
    show in the deployment's time zone, in which SLA clocks and scorecard weeks are kept.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):

        user = getattr(request, "user", None)
        if (user is None or not user.is_authenticated) and request.path_info.startswith("/api/"):
            # An API client with a token: the view authenticates it (and refuses a bad
            # token, with this answer's language); here the token says whose language.
            try:
                found = ExpiringTokenAuthentication().authenticate(request)  # type: ignore[arg-type]
            except AuthenticationFailed:
                found = None
            user = found[0] if found else None
        prefs = (
            user_preferences(user_id=user.pk) if user is not None and user.is_authenticated else {}
        )
        language, time_zone = prefs.get("language") or "", prefs.get("time_zone") or ""
        if language:
            translation.activate(language)
            request.LANGUAGE_CODE = translation.get_language()
        if time_zone:
            try:
                timezone.activate(zoneinfo.ZoneInfo(time_zone))
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


class BrokerUnavailableMiddleware:
    """An action that must enqueue work while the broker is down answers 503 with a message.

    Nothing half-done: callers enqueue on commit or before writing; pages that only read
    never touch the broker and keep answering.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):

        if not isinstance(exception, OperationalError):
            return None

        logging.getLogger("accord.broker").warning("broker unavailable: %s", exception)
        message = _(
            "Background processing is unavailable right now, so this action was not started. "
            "Nothing was lost; please try again in a minute."
        )
        if request.path_info.startswith("/api/"):
            response = JsonResponse({"detail": message}, status=503)
        else:
            response = render(request, "503.html", {"message": message}, status=503)
        response["Retry-After"] = "60"
        return response


class NotConfiguredMiddleware:
    """A page that needs what the installation has not set up (e.g. an active agreement)
    answers 503 with the reason instead of a server error; the API answers 409 itself
    (config.api.exception_handler), and here too for a view outside DRF."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):

        if not isinstance(exception, NotConfigured):
            return None
        logging.getLogger("accord.setup").warning("not configured: %s", exception)
        if request.path_info.startswith("/api/"):
            return JsonResponse({"detail": str(exception)}, status=409)
        return render(request, "503.html", {"message": str(exception)}, status=503)
