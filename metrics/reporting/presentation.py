"""How metric figures and the records behind them are shown: on pages and in CSV.

One formatting for the page and the export, so a figure reads the same everywhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode

from django.db.models import QuerySet
from django.urls import get_script_prefix, reverse
from django.utils.translation import gettext as _

from config.formats import (
    PERCENT_UNITS,
    date_text,
    lead_label,
    money_format,
    number_format,
    percent_format,
    period_format,
    person_name,
    signed_number_format,
)
from config.stored_text import stored_text_display
from metrics.definitions import (
    MetricFilter,
    metric_drill_base,
    metric_label,
    metric_unit,
)

EMPTY = "—"


def alias(name: str) -> str:
    """A template-safe key: stage_conversion[mql→sal] → stage_conversion_mql_sal."""
    return re.sub(r"[^a-z0-9]+", "_", name).strip("_")


def display(value: Any, unit: str) -> str:
    if value is None:
        return EMPTY
    if unit in PERCENT_UNITS:  # rate, ratio
        return percent_format(value, unit)
    if unit == "money":
        return money_format(Decimal(value))
    if unit == "hours":
        return _("%(n)s h") % {"n": number_format(value, 1)}
    if unit == "days":
        return _("%(n)s d") % {"n": number_format(value, 1)}
    return number_format(value)


def delta_display(value: Any, unit: str) -> str:
    """A week-on-week change: rates in percentage points, others in their unit, signed."""
    if value is None:
        return EMPTY
    number = Decimal(str(value))
    if unit in {"rate", "ratio"}:
        points = signed_number_format(number * 100, 1)
        sign = "+" if points.startswith("+") else ""
        return _("%(sign)s%(n)s pp") % {"sign": sign, "n": points.removeprefix("+")}
    sign = "+" if number > 0 else ""
    if unit == "money":
        return sign + money_format(number)
    if unit in {"hours", "days"}:
        return sign + display(number, unit)
    return signed_number_format(number)


@lru_cache(maxsize=8)
def _records_path(prefix: str) -> str:
    """The drill-down's path under a script prefix (`reverse` adds the prefix itself)."""
    return reverse("metrics:records")


@lru_cache(maxsize=256)
def _filter_query(f: MetricFilter) -> tuple[str, frozenset[str]]:
    params = f.as_params()
    return urlencode(params), frozenset(params)


def records_url(name: str, f: MetricFilter, **extra: Any) -> str:
    """The drill-down of metric `name` under `f` (and `extra` narrowing). The dashboard
    links some 350 figures and rows: the path and the filter's part are built once."""
    query, keys = _filter_query(f)
    if keys.intersection(extra):  # an extra narrowing replaces the filter's own
        query = urlencode({**f.as_params(), **extra})
    elif extra:
        query += "&" + urlencode(extra)
    return f"{_records_path(get_script_prefix())}?{urlencode({'metric': name})}&{query}"


@dataclass(frozen=True)
class Figure:
    name: str
    label: str
    unit: str
    value: Any
    display: str
    url: str
    period: str = ""  # the days it counts: "1 Oct 2026 – 31 Dec 2026"


def figures(values: dict[str, Any], f: MetricFilter) -> dict[str, Figure]:
    """{alias: Figure} for every value, each linking to its drill-down and naming its period."""
    result = {}
    period = period_format(f.start, f.end - timedelta(days=1))
    for name, value in values.items():
        unit = metric_unit(name)
        result[alias(name)] = Figure(
            name=name,
            label=metric_label(name),
            unit=unit,
            value=value,
            display=display(value, unit),
            url=records_url(name, f),
            period=period,
        )
    return result


# --- the records behind a figure -------------------------------------------------------------

_SELECT: dict[str, tuple[str, ...]] = {
    "lead": ("owner", "territory", "campaign"),
    "event": ("lead", "actor"),
    "deal": ("lead", "owner"),
    "spend": ("campaign",),
    "intel": ("author", "lead", "campaign"),
    "dispute": ("lead", "raised_by"),
    "breach": ("lead", "owner"),
    "followup": ("lead", "author"),
}


def _same(value: Any) -> Any:
    return value


def _when_text(moment: Any) -> str:
    if moment is None:
        return ""
    return date_text(moment, with_time=hasattr(moment, "tzinfo"))


def _name(user: Any) -> str:
    """A person by name (config.formats' person_name); "" for nobody."""
    return person_name(user) if user else ""


def _lead(lead: Any) -> list[str]:
    """A lead's two cells: "name · company" (config.formats' lead_label) and its e-mail."""
    return [lead_label(lead), lead.email] if lead else ["", ""]


def record_header(base: str) -> list[str]:
    return {
        "lead": [_("Lead"), _("Email"), _("Company"), _("Stage"), _("Source"), _("Created"),
                 _("Owner"), _("Territory"), _("Campaign")],
        "event": [_("Lead"), _("Email"), _("From"), _("To"), _("When"), _("By"), _("Reason")],
        "deal": [_("Deal"), _("Lead"), _("Email"), _("Company"), _("Amount"), _("Outcome"),
                 _("Created"), _("Closed"), _("Owner")],
        "spend": [_("Campaign"), _("Date"), _("Amount"), _("Note")],
        "intel": [_("Kind"), _("Text"), _("By"), _("Sent"), _("Acknowledged"), _("Lead"),
                  _("Email")],
        "dispute": [_("Kind"), _("Lead"), _("Email"), _("Raised by"), _("Opened"), _("Resolved"),
                    _("Decision")],
        "breach": [_("Lead"), _("Email"), _("Stage"), _("Due"), _("Detected"), _("Owner")],
        "followup": [_("Lead"), _("Email"), _("Kind"), _("Outcome"), _("When"), _("By"),
                     _("Within SLA")],
    }[base]  # fmt: skip


def record_cells(base: str, obj: Any, *, iso: bool = False) -> list[Any]:
    """A record's cells: dates and amounts as the language writes them on the page; with
    `iso` (the CSV) the values themselves, which config.exports writes as ISO 8601 dates
    and plain numbers that a spreadsheet reads."""
    when = _same if iso else _when_text
    amount = _same if iso else money_format
    if base == "lead":
        return [*_lead(obj), obj.company, obj.get_stage_display(), obj.get_source_display(),
                when(obj.created_at), _name(obj.owner), obj.territory or "",
                obj.campaign or ""]  # fmt: skip
    if base == "event":
        return [*_lead(obj.lead), obj.get_from_stage_display(), obj.get_to_stage_display(),
                when(obj.occurred_at), _name(obj.actor),
                obj.reason_code or stored_text_display(text=obj.reason)]  # fmt: skip
    if base == "deal":
        return [str(obj), *_lead(obj.lead), obj.lead.company, amount(obj.amount),
                obj.get_outcome_display(),
                when(obj.created_at), when(obj.closed_at), _name(obj.owner)]  # fmt: skip
    if base == "spend":
        return [obj.campaign.name, when(obj.date), amount(obj.amount), obj.note]
    if base == "intel":
        return [obj.get_kind_display(), obj.text, _name(obj.author), when(obj.created_at),
                when(obj.acknowledged_at), *_lead(obj.lead)]  # fmt: skip
    if base == "dispute":
        return [obj.get_kind_display(), *_lead(obj.lead), _name(obj.raised_by),
                when(obj.created_at), when(obj.resolved_at),
                obj.get_decision_display()]  # fmt: skip
    if base == "breach":
        return [*_lead(obj.lead), obj.get_stage_display(), when(obj.due_at),
                when(obj.detected_at), _name(obj.owner)]  # fmt: skip
    if base == "followup":
        return [*_lead(obj.lead), obj.get_kind_display(), obj.get_outcome_display(),
                when(obj.occurred_at), _name(obj.author),
                {True: _("yes"), False: _("no")}.get(obj.within_sla, "")]  # fmt: skip
    raise KeyError(base)


def record_link(base: str, obj: Any) -> str:
    if base == "lead":
        return reverse("leads:detail", args=[obj.pk])
    if base == "spend":
        return reverse("campaigns:detail", args=[obj.campaign_id])
    lead_id = getattr(obj, "lead_id", None)
    return reverse("leads:detail", args=[lead_id]) if lead_id else ""


def records_for(name: str, qs: QuerySet) -> tuple[str, QuerySet]:
    """The base kind of a metric's records and the queryset ready to list (no N+1)."""
    base = metric_drill_base(name)
    return base, qs.select_related(*_SELECT[base]).order_by("-pk")
