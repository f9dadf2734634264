"""Countries: the ISO 3166-1 alpha-2 codes Accord accepts (those django-countries knows)
and their names in the reader's language (Babel's CLDR names, which cover every language
Accord offers; django-countries' English name where CLDR has none).

One check for every path that stores a country: a lead (lead_create, lead_update, the
importer) and a territory's countries (territory_update)."""

from __future__ import annotations

import functools

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django_countries import countries

from config.formats import active_locale


def country_code_clean(value: str, *, field: str = "country") -> str:
    """`value` as a known ISO 3166 code in upper case ("" stays ""), or a ValidationError
    on `field` naming the code (ZZ, a user-assigned code or a country name)."""
    code = (value or "").strip().upper()
    if not code:
        return ""
    if len(code) != 2 or code not in _codes():
        raise ValidationError(
            {
                field: [
                    _("“%(code)s” is not an ISO 3166 country code (two letters, e.g. PL, ID, BR).")
                    % {"code": value.strip()}
                ]
            }
        )
    return code


@functools.cache
def _codes() -> frozenset[str]:
    """The codes django-countries knows (its `in` looks the code up through the active
    language's names on every call: an importer checks a country per row)."""
    return frozenset(countries.countries)


def country_name(code: str) -> str:
    """The country's name in the active language ("Jerman", "Niemcy", "Germany"); the code
    itself when it is none Accord knows."""
    code = (code or "").upper()
    return active_locale().territories.get(code) or countries.name(code) or code


def country_code_validator(value: str) -> None:
    """A model field's validator (the admin's forms run it): a known ISO 3166 code."""
    try:
        country_code_clean(value)
    except ValidationError as exc:
        raise ValidationError(exc.messages) from exc
