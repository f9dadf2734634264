"""Template filters for money, shares, stage names, stored sentences, people and leads
(config.formats)."""

from __future__ import annotations

from babel.numbers import get_currency_symbol
from django import template
from django.conf import settings

from alignment.models import StageKey
from config.formats import (
    active_locale,
    money_format,
    number_format,
    percent_format,
    period_format,
    person_name,
)
from config.formats import lead_label as lead_label_text
from config.stored_text import stored_text_display

register = template.Library()


@register.filter
def money(value, arg: str = "") -> str:
    """`{{ amount|money }}`, or `{{ amount|money:"whole" }}` for big round figures."""
    return money_format(value, whole=arg == "whole")


@register.simple_tag
def currency_symbol() -> str:
    return get_currency_symbol(settings.ACCORD_CURRENCY, locale=active_locale())


@register.filter
def stage_labels(keys) -> str:
    """`{{ keys|stage_labels }}`: stage keys ("mql", "sal") named in the reader's language."""

    labels = dict(StageKey.choices)
    return ", ".join(str(labels.get(key, key)) for key in keys or [])


@register.filter
def stage_label(key) -> str:
    """`{{ key|stage_label }}`: one stage key named in the reader's language."""
    return stage_labels([key])


@register.filter
def system_text(value) -> str:
    """`{{ event.reason|system_text }}`: a sentence Accord stored (config/stored_text.py)
    in the reader's language; any other stored text, such as a user's note, as it is."""

    return stored_text_display(text=value)


@register.filter
def percent(value, unit: str = "rate") -> str:
    """`{{ 0.5|percent }}`: a rate as the reader writes percentages ("50.0%", "12,5%");
    `{{ roi|percent:"ratio" }}`: a ratio, whole and signed ("+200%"). config.formats'
    percent_format, the one percentage format."""
    return percent_format(value, unit)


@register.filter
def number(value, places: int = 0) -> str:
    """`{{ score|number:1 }}`: a number grouped as the reader writes it, rounded half up to
    `places` decimals ("82.6"), never truncated (config.formats' number_format)."""
    return number_format(value, int(places))


@register.simple_tag
def period(start, end_inclusive) -> str:
    """`{% period f.start end_inclusive %}`: "1 Oct 2026 – 31 Dec 2026" in the one date
    format of the reader's language (config.formats' period_format)."""
    return period_format(start, end_inclusive)


@register.filter
def person(user) -> str:
    """`{{ lead.owner|person }}`: the full name, the username only where there is no name,
    "—" for nobody (config.formats' person_name, the one way to name a person)."""
    return person_name(user)


@register.filter
def lead_label(lead) -> str:
    """`{{ lead|lead_label }}`: "name · company", the e-mail where it has neither; pages
    show the e-mail beside it (config.formats' lead_label)."""
    return lead_label_text(lead)
