"""How metric figures and the records behind them are shown: on pages and in CSV.

One formatting for the page and the export, so a figure reads the same everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.db.models import QuerySet
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from config.exports import csv_lines
from config.formats import PERCENT_UNITS, lead_label, money_format, percent_format, person_name
from config.stored_text import stored_text_display
from metrics.definitions import REGISTRY, MetricFilter, metric_label, metric_unit

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
        return _("%(n)s h") % {"n": formats.number_format(value, 1)}
    if unit == "days":
        return _("%(n)s d") % {"n": formats.number_format(value, 1)}
    return formats.number_format(value, 0, force_grouping=True)


def delta_display(value: Any, unit: str) -> str:
    """A week-on-week change: rates in percentage points, others in their unit, signed."""
    if value is None:
        return EMPTY
    number = float(value)
    sign = "+" if number > 0 else ""
    if unit in {"rate", "ratio"}:
        return _("%(sign)s%(n)s pp") % {"sign": sign, "n": formats.number_format(number * 100, 1)}
    if unit == "money":
        return sign + money_format(Decimal(str(value)))
    if unit in {"hours", "days"}:
        return sign + display(number, unit)
    return sign + formats.number_format(number, 0, force_grouping=True)


def records_url(name: str, f: MetricFilter, **extra: Any) -> str:
    return reverse("metrics:records") + "?" + urlencode({"metric": name, **f.as_params(), **extra})


@dataclass(frozen=True)
class Figure:
    name: str
    label: str
    unit: str
    value: Any
    display: str
    url: str


def figures(values: dict[str, Any], f: MetricFilter) -> dict[str, Figure]:
    """{alias: Figure} for every value, each linking to its drill-down."""
    result = {}
    for name, value in values.items():
        unit = metric_unit(name)
        result[alias(name)] = Figure(
            name=name,
            label=metric_label(name),
            unit=unit,
            value=value,
            display=display(value, unit),
            url=records_url(name, f),
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


def _when(moment: Any) -> str:
    if moment is None:
        return ""
    if hasattr(moment, "tzinfo"):
        return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")
    return moment.isoformat()


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


def record_cells(base: str, obj: Any) -> list[Any]:
    if base == "lead":
        return [*_lead(obj), obj.company, obj.get_stage_display(), obj.get_source_display(),
                _when(obj.created_at), _name(obj.owner), obj.territory or "",
                obj.campaign or ""]  # fmt: skip
    if base == "event":
        return [*_lead(obj.lead), obj.get_from_stage_display(), obj.get_to_stage_display(),
                _when(obj.occurred_at), _name(obj.actor),
                obj.reason_code or stored_text_display(text=obj.reason)]  # fmt: skip
    if base == "deal":
        return [str(obj), *_lead(obj.lead), obj.lead.company, obj.amount, obj.get_outcome_display(),
                _when(obj.created_at), _when(obj.closed_at), _name(obj.owner)]  # fmt: skip
    if base == "spend":
        return [obj.campaign.name, _when(obj.date), obj.amount, obj.note]
    if base == "intel":
        return [obj.get_kind_display(), obj.text, _name(obj.author), _when(obj.created_at),
                _when(obj.acknowledged_at), *_lead(obj.lead)]  # fmt: skip
    if base == "dispute":
        return [obj.get_kind_display(), *_lead(obj.lead), _name(obj.raised_by),
                _when(obj.created_at), _when(obj.resolved_at),
                obj.get_decision_display()]  # fmt: skip
    if base == "breach":
        return [*_lead(obj.lead), obj.get_stage_display(), _when(obj.due_at),
                _when(obj.detected_at), _name(obj.owner)]  # fmt: skip
    if base == "followup":
        return [*_lead(obj.lead), obj.get_kind_display(), obj.get_outcome_display(),
                _when(obj.occurred_at), _name(obj.author),
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
    base = REGISTRY[name].drill_base().base
    return base, qs.select_related(*_SELECT[base]).order_by("-pk")


# --- CSV (cells made formula-safe by config.exports) ------------------------------------------


def csv_rows(base: str, objects: Iterable[Any]) -> Iterator[str]:
    yield from csv_lines([record_header(base)])
    yield from csv_lines(record_cells(base, obj) for obj in objects)
