"""Shared REST plumbing: pagination, error shapes, permissions (resources: each app)."""

from __future__ import annotations

import copy
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.exceptions import ValidationError as DjangoValidationError
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError as DrfValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import DjangoModelPermissions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from config.errors import Conflict, NotConfigured
from config.pagination import CheckedCursorPagination
from config.schema import FIELD_ERRORS_SCHEMA


class FieldsOnceMixin:
    """Serializer fields built once per class, then copied for each instance.

    DRF builds a ModelSerializer's fields from the model for every instance (each model
    field's kwargs, validators and choices): a third of a lead create's Python. Where the
    fields depend on nothing but the class (no ``get_fields`` override, no per-request
    fields), the built set is kept on the class and copied for each instance: a plain
    field shallowly (binding sets its name and parent on the copy; its options, validators
    and messages are never changed after it is built), a nested serializer or a field with
    a child field (bound to its parent when built) deeply, as DRF copies declared fields.
    """

    def get_fields(self) -> dict[str, serializers.Field]:
        cls = type(self)
        built = cls.__dict__.get("_fields_once")
        if built is None:
            built = super().get_fields()  # type: ignore[misc]
            cls._fields_once = built  # type: ignore[attr-defined]
        return {name: _field_copy(field) for name, field in built.items()}


def _field_copy(field: serializers.Field) -> serializers.Field:
    if (
        isinstance(field, serializers.BaseSerializer)
        or hasattr(field, "child")
        or hasattr(field, "child_relation")
    ):
        return copy.deepcopy(field)
    return copy.copy(field)


class FieldErrorsSerializer(serializers.Serializer):
    """Documentation only: a 400's body, messages by field (config/schema.py)."""


class _FieldErrorsExtension(OpenApiSerializerExtension):
    target_class = FieldErrorsSerializer

    def map_serializer(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        return FIELD_ERRORS_SCHEMA


FIELD_ERRORS = OpenApiResponse(
    FieldErrorsSerializer,
    description=_lazy('Validation errors by field: {"field": ["message", ...]}.'),
)


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()


NOT_ALLOWED = OpenApiResponse(ErrorSerializer, description=_lazy("Your role may not do this."))
NOT_FOUND = OpenApiResponse(ErrorSerializer, description=_lazy("No such object."))


class _PageSize:
    """`page_size` is a whole number of at least 1 (400 otherwise, rather than silently
    the default); more than `max_page_size` gives `max_page_size`."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500

    def get_page_size(self, request: Any) -> int:
        raw = request.query_params.get(self.page_size_query_param, "").strip()
        if not raw:
            return self.page_size
        if not (raw.isascii() and raw.isdigit()) or int(raw) < 1:
            raise DrfValidationError(
                {self.page_size_query_param: [
                    _("Send a whole number from 1 up; a page holds at most %(max)d results.")
                    % {"max": self.max_page_size}
                ]}
            )  # fmt: skip
        return min(int(raw), self.max_page_size)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)  # type: ignore[misc]
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1}
                parameter["description"] = (
                    f"Results per page (default {self.page_size}, at most {self.max_page_size})."
                )
        return parameters


class StandardPagination(_PageSize, PageNumberPagination):
    pass


class LargeCursorPagination(_PageSize, CheckedCursorPagination):
    """For large collections: page N costs the same as page 1; a cursor we did not hand
    out is a 400."""

    ordering = "-id"


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's error shapes, plus service errors: ValidationError → 400, conflicts and
    what the installation has not set up yet (NotConfigured) → 409."""
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "error_dict"):
            data = {
                field: [str(m) for m in messages] for field, messages in exc.message_dict.items()
            }
        else:
            data = {"non_field_errors": [str(m) for m in exc.messages]}
        return Response(data, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, RequestDataTooBig):
        return Response(
            {"detail": _("The request body is larger than %(max)s; send less at once.")
             % {"max": filesizeformat(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)}},
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )  # fmt: skip
    if isinstance(exc, TooManyFieldsSent | TooManyFilesSent):
        return Response(
            {"detail": _("The request has too many fields or files.")},
            status=status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, NotConfigured):
        return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, Conflict):
        body: dict[str, Any] = {"detail": str(exc)}
        if exc.lead_id is not None:
            body["id"] = exc.lead_id
        return Response(body, status=status.HTTP_409_CONFLICT)
    return drf_exception_handler(exc, context)


class RoleModelPermissions(DjangoModelPermissions):
    """Model permissions from the user's role groups, reads included (view_<model>)."""

    perms_map = {
        **DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": [],
    }
