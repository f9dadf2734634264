"""django-filter pieces shared by every API filter set."""

from __future__ import annotations

from datetime import UTC
from typing import Any

import django_filters
from django import forms
from django.utils.translation import gettext_lazy as _
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field


class UtcIsoDateTimeField(django_filters.fields.IsoDateTimeField):
    """An ISO 8601 date-time, normalised to UTC before it reaches the database.

    Python accepts offsets up to ±23:59, PostgreSQL only up to ±15:59: sent as given,
    "2026-01-01T00:00-20:20" would be a server error instead of a filter.
    """

    def to_python(self, value):
        parsed = super().to_python(value)
        if parsed is None or parsed.tzinfo is None:
            return parsed
        try:
            return parsed.astimezone(UTC)
        except OverflowError:
            raise forms.ValidationError(
                _("Enter a date and time within the supported range.")
            ) from None


class UtcIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField


# The widest id any backend stores (a 64-bit signed integer, Django's BigAutoField).
ID_MIN, ID_MAX = -(2**63), 2**63 - 1


@extend_schema_field(OpenApiTypes.INT)
class IdFilter(django_filters.NumberFilter):
    """An object by its id: a whole number ("1.5" is refused, not rounded).

    A whole number beyond 64 bits is no row's id, so it matches nothing. It never reaches
    the database: SQLite cannot bind it (OverflowError), and Django's own out-of-range
    guard covers integer fields' lookups, not a foreign key's.
    """

    field_class = forms.IntegerField

    def filter(self, qs, value):
        if value is not None and not ID_MIN <= value <= ID_MAX:
            return qs if self.exclude else qs.none()
        return super().filter(qs, value)


class FilterBackend(DjangoFilterBackend):
    """django-filter's backend, without building the filter set when the request names
    none of its filters.

    A filter set copies its filters and builds a form on every request: a quarter of an
    unfiltered 50-lead list's Python (integrations mostly page through everything). With
    none of its parameters given every filter is a no-op (django-filter skips empty
    values), so the queryset is the answer as it is. A parameter is the filter's name or
    starts with it (a range's `_after`, `_min` suffixes).
    """

    def filter_queryset(self, request: Any, queryset: Any, view: Any) -> Any:
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is not None:
            names = tuple(filterset_class.base_filters)
            if not any(param.startswith(names) for param in request.query_params):
                return queryset
        return super().filter_queryset(request, queryset, view)
