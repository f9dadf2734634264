"""Locale-aware formatting of money: the deployment currency, grouped for the active language."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from babel.core import Locale
from babel.numbers import format_currency, get_currency_precision, get_currency_symbol
from django import template
from django.conf import settings
from django.utils.translation import get_language, to_locale

register = template.Library()


def _locale() -> Locale:
    return Locale.parse(to_locale(get_language() or settings.LANGUAGE_CODE))


def money_format(value, *, whole: bool = False) -> str:
    """An amount in the deployment currency as the active language writes it.

    "$1,234.50" (en), "Rp1.234,50" (id), "1 234,50 zł" (pl); `whole` drops minor units.
    """
    if value is None or value == "":
        return "—"
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    locale = _locale()
    currency = settings.ACCORD_CURRENCY
    if not whole:
        # Never round an amount away: a currency without minor units (IDR in recent CLDR)
        # still shows the cents an amount really has.
        exact = amount == amount.quantize(Decimal(1).scaleb(-get_currency_precision(currency)))
        return format_currency(amount, currency, locale=locale, currency_digits=exact)
    pattern = re.sub(r"\.0+", "", locale.currency_formats["standard"].pattern)
    return format_currency(
        amount.quantize(Decimal(1), rounding=ROUND_HALF_UP),
        currency,
        format=pattern,
        locale=locale,
        currency_digits=False,
    )


@register.filter
def money(value, arg: str = "") -> str:
    """`{{ amount|money }}`, or `{{ amount|money:"whole" }}` for big round figures."""
    return money_format(value, whole=arg == "whole")


@register.simple_tag
def currency_symbol() -> str:
    return get_currency_symbol(settings.ACCORD_CURRENCY, locale=_locale())


@register.filter
def stage_labels(keys) -> str:
    """`{{ keys|stage_labels }}`: stage keys ("mql", "sal") named in the reader's language."""
    from alignment.models import StageKey

    labels = dict(StageKey.choices)
    return ", ".join(str(labels.get(key, key)) for key in keys or [])


@register.filter
def stage_label(key) -> str:
    """`{{ key|stage_label }}`: one stage key named in the reader's language."""
    return stage_labels([key])


@register.filter
def system_text(value) -> str:
    """`{{ event.reason|system_text }}`: a sentence Accord stored (alignment/stored_text.py)
    in the reader's language; any other stored text, such as a user's note, as it is."""
    from alignment.stored_text import stored_text_display

    return stored_text_display(text=value)


@register.filter
def percent(value) -> str:
    """`{{ 0.5|percent }}`: a share as the reader writes percentages ("50%", "12,5%")."""
    if value is None or value == "":
        return "—"
    from babel.numbers import format_percent

    return format_percent(Decimal(str(value)), format="#,##0.#%", locale=_locale())
