"""A user's own preferences: language and display time zone."""

from __future__ import annotations

import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from alignment.models import UserProfile


def profile_get(*, user) -> UserProfile:
    """The user's profile, created on first use."""
    profile, _created = UserProfile.objects.get_or_create(user=user)
    return profile


def profile_update(
    *, user, language: str | None = None, time_zone: str | None = None
) -> UserProfile:
    """Store the user's language and display time zone ("" means: follow the browser/deployment)."""
    errors: dict[str, str] = {}
    codes = {code for code, _name in settings.LANGUAGES}
    if language is not None and language and language not in codes:
        errors["language"] = _("Choose one of the offered languages.")
    if time_zone is not None and time_zone:
        try:
            zoneinfo.ZoneInfo(time_zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            errors["time_zone"] = _("“%(value)s” is not a known time zone.") % {"value": time_zone}
    if errors:
        raise ValidationError(errors)
    profile = profile_get(user=user)
    fields = []
    if language is not None:
        profile.language = language
        fields.append("language")
    if time_zone is not None:
        profile.time_zone = time_zone
        fields.append("time_zone")
    if fields:
        profile.save(update_fields=fields)
    return profile
