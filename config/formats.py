"""Locale-aware formatting of money and shares: the deployment currency, grouped the way
the active language writes numbers. Used by the template filters (accord_format: `money`,
`percent`) and by Python code that formats figures (metrics.reporting.presentation), so a
figure reads the same on the dashboard, the campaign pages, the pack and the exports.

Numbers (`number_format`) and dates (`date_text`, `period_format`) too: rounded half up,
never truncated; one date format per language (config/locale_formats).

Also how people and leads are named (`person_name`, `lead_label`; the `person` and
`lead_label` filters), so a person reads the same on every page and in every export."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cache
from typing import Any

from babel.core import Locale
from babel.numbers import format_currency, format_decimal, format_percent, get_currency_precision
from django.conf import settings
from django.utils import timezone
from django.utils.formats import date_format as django_date_format
from django.utils.translation import get_language, to_locale

EMPTY = "—"


def active_locale() -> Locale:
    """The Babel locale of the active language."""
    return _babel_locale(to_locale(get_language() or settings.LANGUAGE_CODE))


@cache
def _babel_locale(name: str) -> Locale:
    # Parsed once per language: Babel builds a new Locale, with its identifier, on every
    # parse of a name (a dashboard formats a few hundred figures), and none for a Locale.
    return Locale.parse(name)


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


# Decimal places of a percentage by the unit of the figure (metrics.definitions' units):
# a rate (a share of records: acceptance, SLA compliance, conversion, readiness, a weight's
# share) to a tenth of a percent; a ratio (ROI, which runs past 100% and below 0) whole
# and signed.
PERCENT_UNITS = {"rate": 1, "ratio": 0}


def percent_format(value, unit: str = "rate") -> str:
    """A share (0.5) as the reader writes percentages: a rate "50.0%" ("12,5%" in id and
    pl), a ratio "+200%" / "-100%" / "0%"; None or "": "—" (no denominator).

    The one percentage format: the `percent` template filter and the metric pages'
    `display` both call it.
    """
    if value is None or value == "":
        return "—"
    places = PERCENT_UNITS[unit]
    quantum = Decimal(1).scaleb(-(places + 2))  # 0.001 for one place of a percentage
    share = Decimal(str(value)).quantize(quantum, rounding=ROUND_HALF_UP)
    pattern = "#,##0." + "0" * places + "%" if places else "#,##0%"
    text = format_percent(share, format=pattern, locale=active_locale())
    return "+" + text if unit == "ratio" and share > 0 else text


def _decimal(value: Any) -> Decimal | None:
    try:
        return value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def number_format(value, places: int = 0) -> str:
    """A number as the active language writes it, grouped, to `places` decimals, rounded
    half up (2.25 → "2.3", 66.66 → "66.7"): never cut like Django's number_format, which
    truncates a float's digits. None or "": "—"."""
    if value is None or value == "":
        return "—"
    number = _decimal(value)
    if number is None:
        return str(value)
    number = number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    number = abs(number) if number == 0 else number  # no "-0.0"
    pattern = "#,##0." + "0" * places if places else "#,##0"
    return format_decimal(number, format=pattern, locale=active_locale())


def signed_number_format(value, places: int = 0) -> str:
    """number_format with a "+" before a positive number (a change: "+2.5", "-1", "0")."""
    text = number_format(value, places)
    number = _decimal(value)
    rounded = None if number is None else number.quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP)
    return "+" + text if rounded is not None and rounded > 0 else text


def date_text(value: date | datetime | None, *, with_time: bool = False) -> str:
    """A day (or a moment, in the deployment's time zone) in the one date format of the
    active language (config/locale_formats: "23 Nov 2026", "23 Lis 2026"); None: "—".
    Templates write the same with `|date:"SHORT_DATE_FORMAT"`."""
    if value is None:
        return EMPTY
    if isinstance(value, datetime) and timezone.is_aware(value):
        value = timezone.localtime(value)
    return django_date_format(value, "SHORT_DATETIME_FORMAT" if with_time else "SHORT_DATE_FORMAT")


def moment_with_zone(moment: datetime) -> str:
    """A moment as date_text writes it, with its time zone named ("9 Dec 2026, 08:10 CET"):
    for a notification, read later and elsewhere."""
    return f"{date_text(moment, with_time=True)} {timezone.localtime(moment).strftime('%Z')}"


def period_format(start: date, end_inclusive: date) -> str:
    """A period as its first and last day, both in the one date format: "1 Oct 2026 –
    31 Dec 2026"; a single day once. Every figure says which period it counts."""
    if start == end_inclusive:
        return date_text(start)
    return f"{date_text(start)} – {date_text(end_inclusive)}"


def person_name(user: Any) -> str:
    """A user as people read them: the full name, the username only where there is no
    name; None: "—". The one way to show a person (the `person` template filter, CSV
    exports, texts built by services)."""
    if user is None:
        return EMPTY
    return (user.get_full_name() or "").strip() or user.get_username()


def lead_name(lead: Any) -> str:
    """A lead's person name ("Ana Putri"), "" where the record has none."""
    return f"{lead.first_name or ''} {lead.last_name or ''}".strip()


def lead_label(lead: Any) -> str:
    """A lead as people read it: "name · company" (whichever of the two it has), the
    e-mail where it has neither; None: "—". Pages show the e-mail beside it."""
    if lead is None:
        return EMPTY
    label = " · ".join(part for part in (lead_name(lead), (lead.company or "").strip()) if part)
    return label or lead.email
