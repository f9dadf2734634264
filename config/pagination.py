"""Pagination for lists that can hold millions of rows: capped page counts for the pages,
and API cursors checked before they reach the database."""

from __future__ import annotations

from django.core.exceptions import FieldDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.paginator import Paginator
from django.db import connection, models
from django.db.models.constants import LOOKUP_SEP
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _lazy
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import Cursor, CursorPagination

# Past this many rows a list says "more than 2,000" and asks for filters, as the big
# CRMs do: counting a rep's 20,000 open leads, or a million leads, on every page view
# costs more than the page itself (each row's visibility is read from the heap).
LIST_COUNT_CAP = 2000


class CappedPaginator(Paginator):
    """A Paginator whose count stops at `cap`: `COUNT(*)` over a `LIMIT cap + 1` subquery.

    When there are more rows, `capped` is true, `count` is the cap and the pages stop
    there; the template says so (partials/pager.html and the lists' counts).
    """

    def __init__(self, object_list, per_page, *, cap: int | None = None, **kwargs) -> None:
        super().__init__(object_list, per_page, **kwargs)
        self.cap = cap if cap is not None else LIST_COUNT_CAP

    @cached_property
    def _counted(self) -> int:
        return self.object_list[: self.cap + 1].count()

    @cached_property
    def count(self) -> int:
        return min(self._counted, self.cap)

    @property
    def capped(self) -> bool:
        return self._counted > self.cap


class CheckedCursorPagination(CursorPagination):
    """DRF's cursor pagination, answering 400 to a cursor it did not hand out.

    DRF puts the cursor's position into the ordering field's filter unchecked: "abc" for
    an id is a ValueError, a NUL or an out-of-range number a database error (500s), and
    a cursor that does not decode is a 404. Here the cursor must decode and its position
    must be a value of the ordering field, else 400 {"cursor": ["..."]}.
    """

    invalid_cursor_message = _lazy(
        "This cursor is not valid: follow the next or previous link of a page unchanged."
    )

    def paginate_queryset(self, queryset, request, view=None):
        self._model = queryset.model
        return super().paginate_queryset(queryset, request, view)

    def decode_cursor(self, request) -> Cursor | None:
        try:
            cursor = super().decode_cursor(request)
        except NotFound:
            raise self._invalid() from None
        if cursor is not None and cursor.position is not None:
            field = _ordering_field(self._model, self.ordering[0].lstrip("-"))
            if field is None or not _is_value_of(field, cursor.position):
                raise self._invalid()
        return cursor

    def _invalid(self) -> ValidationError:
        return ValidationError({self.cursor_query_param: [str(self.invalid_cursor_message)]})


def _ordering_field(model: type[models.Model], path: str) -> models.Field | None:
    """The model field an ordering such as "id" or "lead__created_at" sorts by."""
    field = None
    for name in path.split(LOOKUP_SEP):
        try:
            field = model._meta.pk if name == "pk" else model._meta.get_field(name)
        except FieldDoesNotExist:
            return None
        if field.is_relation and field.related_model is not None:
            model = field.related_model
    if field is not None and field.is_relation:
        field = field.target_field
    return field


def _is_value_of(field: models.Field, raw: str) -> bool:
    """Whether `raw` converts to a value the database can compare `field` with."""
    if "\x00" in raw:
        return False
    try:
        value = field.get_prep_value(field.to_python(raw))
    except (DjangoValidationError, ValueError, TypeError, OverflowError):
        return False
    if isinstance(value, int) and not isinstance(value, bool):
        low, high = connection.ops.integer_field_range(field.get_internal_type())
        return (low is None or value >= low) and (high is None or value <= high)
    return True
