"""Locale-aware formatting of money and shares: the deployment currency, grouped the way
the active language writes numbers. Used by the template filters (accord_format) and by
Python code that formats figures (metrics.reporting.presentation)."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from babel.core import Locale
from babel.numbers import format_currency, format_percent, get_currency_precision
from django.conf import settings
from django.utils.translation import get_language, to_locale


def active_locale() -> Locale:
    """The Babel locale of the active language."""
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
    locale = active_locale()
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


def percent_format(value) -> str:
    """A share as the reader writes percentages ("50%", "12,5%"); None: "—"."""
    if value is None or value == "":
        return "—"
    return format_percent(Decimal(str(value)), format="#,##0.#%", locale=active_locale())
