"""The login lockout backend (django-axes) in front of Django's model backend."""

from __future__ import annotations

from typing import Any

from axes.backends import AxesStandaloneBackend
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from config.api import FieldErrorsSerializer
from config.parsers import DepthLimitedJSONParser
from config.throttling import AnonymousRateThrottle
from config.tokens import token_expires_at, token_issue


class LockoutBackend(AxesStandaloneBackend):
    """Axes' lockout check for logins that come with a request (the login page, the
    token endpoint). A call without one (a script, the test client's login) is not an
    attempt from the network: it passes through to the model backend unchecked."""

    def authenticate(self, request: Any, username: str | None = None,
                     password: str | None = None, **kwargs: Any) -> None:  # fmt: skip
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


class TokenView(ObtainAuthToken):
    """POST username and password, get the API token; a locked-out login gets 429.

    The user's token until it expires (API_TOKEN_TTL_DAYS) or their password changes,
    then a new one. django-axes does the lockout; the per-IP anonymous rate only caps
    request volume.
    """

    throttle_classes = [AnonymousRateThrottle]
    # ObtainAuthToken names its parsers itself: DRF's JSON parser would bypass the default.
    parser_classes = [FormParser, MultiPartParser, DepthLimitedJSONParser]

    @extend_schema(
        summary="Get an API token",
        request=AuthTokenSerializer,
        responses={
            200: inline_serializer(
                "AuthTokenResponse",
                {"token": serializers.CharField(), "expires_at": serializers.DateTimeField()},
            ),
            400: OpenApiResponse(FieldErrorsSerializer, description="Wrong username or password."),
            429: OpenApiResponse(description="Too many failed logins: locked out for a while."),
        },
        auth=[],
        tags=["auth"],
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        try:
            serializer.is_valid(raise_exception=True)
        except ValidationError:
            if getattr(request, "axes_locked_out", False):
                return Response(
                    {"detail": _("Too many failed logins: try again later.")},
                    status=status.HTTP_429_TOO_MANY_REQUESTS,
                )
            raise
        token = token_issue(user=serializer.validated_data["user"])
        return Response({"token": token.key, "expires_at": token_expires_at(token)})
