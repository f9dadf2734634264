"""Request bodies are refused past their limit before a byte of them is read.

Django spools a multipart file over FILE_UPLOAD_MAX_MEMORY_SIZE to a temporary file as
soon as anything reads `request.POST` (the CSRF check does, before the view or the login
check), and DATA_UPLOAD_MAX_MEMORY_SIZE does not count file parts. So this middleware
runs right after authentication and before anything reads the body:

1. Who is asking: a signed-in session or a valid API token. Without either a request may
   carry ANONYMOUS_REQUEST_MAX_BYTES (a login form is a few hundred bytes); with one,
   REQUEST_MAX_BYTES (the largest upload Accord takes, plus the form around it).
2. A declared Content-Length past the limit is a 413 at once; the body is never read.
3. A body without a Content-Length (chunked) is read through a counter that stops at the
   limit: the read past it raises, and the answer is the same 413.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.settings import api_settings


class RequestBodyTooLarge(RequestDataTooBig):
    """A body read past its limit (a SuspiciousOperation: 400 where nothing turns it into
    this middleware's 413)."""


class _CappedStream:
    """The request's stream, refusing to hand out more than `limit` bytes in all."""

    def __init__(self, stream: Any, limit: int) -> None:
        self._stream = stream
        self.limit = limit
        self.read_bytes = 0
        self.exceeded = False

    def _take(self, data: bytes) -> bytes:
        self.read_bytes += len(data)
        if self.read_bytes > self.limit:
            self.exceeded = True
            raise RequestBodyTooLarge(f"request body over {self.limit} bytes")
        return data

    def read(self, size: int = -1, /) -> bytes:
        room = self.limit + 1 - self.read_bytes  # one byte past the limit proves it
        size = room if size is None or size < 0 else min(size, room)
        return self._take(self._stream.read(size))

    def readline(self, size: int = -1, /) -> bytes:
        room = self.limit + 1 - self.read_bytes
        size = room if size is None or size < 0 else min(size, room)
        return self._take(self._stream.readline(size))

    def close(self) -> None:
        close = getattr(self._stream, "close", None)
        if close is not None:
            close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _declared_length(request: HttpRequest) -> int | None:
    raw = request.META.get("CONTENT_LENGTH")
    if raw in (None, ""):
        return None
    try:
        return max(int(raw), 0)
    except (TypeError, ValueError):
        return None


def _authenticated(request: HttpRequest) -> bool:
    """A signed-in session, or an API token the API's own token authentication accepts
    (a bad or expired token is anonymous).

    A user forced onto the request by DRF's test client (force_authenticate) counts too:
    DRF's views take it as the authenticated user, so this check agrees with them.
    """
    if getattr(request, "_force_auth_user", None) is not None:
        return True
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return True
    if not request.META.get("HTTP_AUTHORIZATION"):
        return False
    for authentication in api_settings.DEFAULT_AUTHENTICATION_CLASSES:
        if not issubclass(authentication, TokenAuthentication):
            continue  # session auth was looked at above
        try:
            if authentication().authenticate(request) is not None:  # type: ignore[arg-type]
                return True
        except AuthenticationFailed:
            return False
    return False


def too_large_response(
    request: HttpRequest, *, size: int | None, limit: int, authenticated: bool
) -> HttpResponse:
    if authenticated:
        message = _(
            "The request is larger than %(max)s, the most Accord takes at once; split the "
            "file and send the parts one by one."
        ) % {"max": filesizeformat(limit)}
    else:
        message = _(
            "Sign in (or send an API token) first: without one a request may carry at most %(max)s."
        ) % {"max": filesizeformat(limit)}
    if size is not None:
        message = _("This request is %(size)s. %(reason)s") % {
            "size": filesizeformat(size),
            "reason": message,
        }
    if request.path_info.startswith("/api/"):
        response: HttpResponse = JsonResponse({"detail": message}, status=413)
    else:
        response = render(request, "413.html", {"message": message}, status=413)
    # The rest of the body is never read: tell the client not to keep the connection.
    response["Connection"] = "close"
    return response


class RequestBodyLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        declared = _declared_length(request)
        anonymous_limit = settings.ANONYMOUS_REQUEST_MAX_BYTES
        if declared is not None and declared <= anonymous_limit:
            return self.get_response(request)  # Django reads at most the declared length
        if declared == 0 or (declared is None and not _may_have_body(request)):
            return self.get_response(request)
        authenticated = _authenticated(request)
        limit = settings.REQUEST_MAX_BYTES if authenticated else anonymous_limit
        if declared is not None and declared > limit:
            return too_large_response(
                request, size=declared, limit=limit, authenticated=authenticated
            )
        capped = _CappedStream(request._stream, limit)  # type: ignore[attr-defined]
        request._stream = capped  # type: ignore[attr-defined]
        response = self.get_response(request)
        if capped.exceeded:
            return too_large_response(request, size=None, limit=limit, authenticated=authenticated)
        return response


def _may_have_body(request: HttpRequest) -> bool:
    """No Content-Length: a chunked body, or (for a method that carries one) a stream the
    server hands over without a length."""
    if "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
        return True
    return request.method in ("POST", "PUT", "PATCH", "DELETE")
