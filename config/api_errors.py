"""Errors outside DRF's views answer JSON under /api/ too (e.g. a 404 of the URL resolver)."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext_lazy as _

_MESSAGES = {
    404: _("Not found."),
    405: _("Method not allowed."),
    500: _("Server error."),
}


class ApiJsonErrorsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            request.path_info.startswith("/api/v1/")
            and response.status_code in _MESSAGES
            and "json" not in response.get("Content-Type", "")
        ):
            return JsonResponse({"detail": str(_MESSAGES[response.status_code])},
                                status=response.status_code)  # fmt: skip
        return response
