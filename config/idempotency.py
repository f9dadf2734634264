"""`Idempotency-Key` for every POST under /api/v1/: the first response is replayed.

The key is claimed first, in its own committed INSERT on the (user, key) unique
constraint, so of two concurrent requests with one key exactly one runs the view;
the other waits for its response and replays it (or answers 409 while it still runs).
The same key with another body, path or query string is 409. Responses that may not
be final (401, 403, 409, 429, 5xx) are not kept, so the client can retry. Records live
at least 24 hours; the beat job `purge-idempotency-keys` deletes them after 48.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from rest_framework.exceptions import AuthenticationFailed

from alignment.models import IdempotencyKey
from config.tokens import ExpiringTokenAuthentication

HEADER = "HTTP_IDEMPOTENCY_KEY"
KEPT_STATUSES = {200, 201, 202, 204, 400, 404, 410, 422}
MAX_KEY_LENGTH = 255


def request_fingerprint(request: HttpRequest) -> str:
    """A hash of what the request asks for: path, query and body (JSON canonicalised,
    forms by field and file content, so a new multipart boundary is the same body)."""
    digest = hashlib.sha256()
    digest.update(request.method.encode() + b" " + request.path.encode() + b"?")
    digest.update(request.META.get("QUERY_STRING", "").encode() + b"\n")
    content_type = request.META.get("CONTENT_TYPE", "")
    if content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        for name, values in sorted(request.POST.lists()):
            digest.update(json.dumps([name, values]).encode())
        for name, files in sorted(request.FILES.lists()):
            for upload in files:
                digest.update(json.dumps([name, upload.name, upload.size]).encode())
                for chunk in upload.chunks():
                    digest.update(chunk)
                upload.seek(0)
        return digest.hexdigest()
    body = request.body
    # Not JSON, or nested past the decoder's stack (the view's parser answers 400): raw bytes.
    with contextlib.suppress(ValueError, RecursionError):
        body = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    digest.update(body)
    return digest.hexdigest()


def _api_user(request: HttpRequest) -> AbstractBaseUser | None:
    try:
        found = ExpiringTokenAuthentication().authenticate(request)  # type: ignore[arg-type]
    except AuthenticationFailed:
        return None
    if found is not None:
        return found[0]
    user = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated else None


def _conflict(message: str) -> JsonResponse:
    return JsonResponse({"detail": message}, status=409)


def _replay(record: IdempotencyKey) -> HttpResponse:
    if record.response_body is None:
        response = HttpResponse(status=record.response_status)
    else:
        response = JsonResponse(record.response_body, status=record.response_status, safe=False)
    response["Idempotent-Replayed"] = "true"
    return response


class IdempotencyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        key = request.META.get(HEADER, "").strip()
        if (
            not key
            or request.method != "POST"
            or not request.path.startswith("/api/v1/")
            or request.path.startswith("/api/v1/auth/")
        ):
            return self.get_response(request)
        if len(key) > MAX_KEY_LENGTH:
            return JsonResponse(
                {"detail": _("The Idempotency-Key may be at most 255 characters.")}, status=400
            )
        user = _api_user(request)
        if user is None:
            return self.get_response(request)  # the view answers 401
        try:
            fingerprint = request_fingerprint(request)
        except MultiPartParserError as exc:  # e.g. multipart without a boundary
            return JsonResponse(
                {"detail": _("The multipart body cannot be read: %(error)s") % {"error": exc}},
                status=400,
            )
        except RequestDataTooBig:
            return JsonResponse(
                {"detail": _("The request body is larger than %(max)s; send less at once.")
                 % {"max": filesizeformat(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)}},
                status=413,
            )  # fmt: skip
        except (TooManyFieldsSent, TooManyFilesSent):
            return JsonResponse(
                {"detail": _("The request has too many fields or files.")}, status=400
            )
        claimed = self._claim(user=user, key=key, request=request, fingerprint=fingerprint)
        if isinstance(claimed, HttpResponse):
            return claimed
        kept = False
        try:
            response = self.get_response(request)
            body = self._json_body(response)
            if response.status_code in KEPT_STATUSES and body is not _NOT_JSON:
                IdempotencyKey.objects.filter(pk=claimed.pk).update(
                    response_status=response.status_code, response_body=body
                )
                kept = True
            return response
        finally:
            if not kept:  # let the client try again with the same key
                IdempotencyKey.objects.filter(pk=claimed.pk).delete()

    @staticmethod
    def _json_body(response: HttpResponse) -> Any:
        if response.status_code == 204 or not response.content:
            return None
        if "json" not in response.get("Content-Type", ""):
            return _NOT_JSON
        try:
            return json.loads(response.content)
        except ValueError:
            return _NOT_JSON

    def _claim(
        self, *, user: AbstractBaseUser, key: str, request: HttpRequest, fingerprint: str
    ) -> IdempotencyKey | HttpResponse:
        try:
            with transaction.atomic():
                return IdempotencyKey.objects.create(
                    user=user,
                    key=key,
                    method=request.method,
                    path=request.path[:300],
                    body_hash=fingerprint,
                )
        except IntegrityError:
            pass
        deadline = time.monotonic() + settings.IDEMPOTENCY_WAIT_SECONDS
        while True:
            record = IdempotencyKey.objects.filter(user=user, key=key).first()
            if record is None:  # the first request failed and let go: run this one
                return self._claim(user=user, key=key, request=request, fingerprint=fingerprint)
            if record.body_hash != fingerprint or record.path != request.path[:300]:
                return _conflict(
                    _("This Idempotency-Key was already used with a different request.")
                )
            if record.response_status is not None:
                return _replay(record)
            if time.monotonic() >= deadline:
                return _conflict(_("A request with this Idempotency-Key is still in progress."))
            time.sleep(0.05)


_NOT_JSON = object()
