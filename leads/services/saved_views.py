"""A user's saved views of a list: a name, the filters and sort, one of them the default."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import QueryDict
from django.utils.translation import gettext as _

from leads.models import SavedView

# Query parameters that are no part of a view: the page shown, the bulk form's fields.
_NOT_KEPT = {"page", "csrfmiddlewaretoken", "clear", "view"}


def view_query(params: QueryDict, *, allowed: set[str]) -> str:
    """The filters and sort of a request as a view keeps them: known names, non-empty
    values, in a stable order."""
    kept = [
        (name, value)
        for name in sorted(params)
        if name in allowed and name not in _NOT_KEPT
        for value in params.getlist(name)
        if value.strip()
    ]
    return urlencode(kept)


@transaction.atomic
def saved_view_save(
    *, user: User, list_key: str, name: str, query: str, is_default: bool
) -> SavedView:
    """Save (or replace, by name) a view of a list; a new default unsets the old one."""
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": [_("Give the view a name.")]})
    if len(name) > 80:
        raise ValidationError({"name": [_("Keep the name under 80 characters.")]})
    if len(query) > 1000:
        raise ValidationError({"query": [_("These filters are too long to keep.")]})
    if is_default:
        SavedView.objects.filter(user=user, list_key=list_key, is_default=True).exclude(
            name=name
        ).update(is_default=False)
    view, _created = SavedView.objects.update_or_create(
        user=user,
        list_key=list_key,
        name=name,
        defaults={"query": query, "is_default": is_default},
    )
    return view


def saved_view_delete(*, user: User, pk: int) -> bool:
    """Delete one of the user's own views (another user's is never touched)."""
    deleted, _rows = SavedView.objects.filter(user=user, pk=pk).delete()
    return bool(deleted)


def saved_views_of(*, user: User, list_key: str) -> list[SavedView]:
    return list(SavedView.objects.filter(user=user, list_key=list_key))
