"""The scorecards and the weekly meeting pack as CSV.

The figures are the pages' own: the stored scorecards (their metrics, score, components
and week-on-week change as metrics.reporting.services computed them), and the pack's
selectors (pack_build); numbers stay raw numbers so a spreadsheet can add them up.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _

from alignment.agreement.selectors import COMPONENT_LABELS, SCORE_COMPONENTS
from config.exports import csv_response
from config.formats import lead_label, person_name
from config.replicas import replica_page
from config.stored_text import stored_text_display
from metrics.definitions import METRIC_NAMES, metric_filter_read, metric_label, metric_values
from metrics.models import Scorecard
from metrics.reporting import selectors
from metrics.reporting.presentation import alias
from metrics.reporting.services import last_complete_week

# Stored beside the metrics on every scorecard (metrics.reporting.services.scorecard_build).
EXTRA_METRICS = ("planned_mqls", "revenue_target")


def _back(name: str, request: HttpRequest) -> HttpResponse:
    """A bad filter goes back to the page, which says what is wrong."""
    return redirect(reverse(name) + "?" + request.GET.urlencode())


# --- scorecards -------------------------------------------------------------------------------


def _component_parts(cards: list[Scorecard]) -> dict[str, tuple[str, ...]]:
    """Per component, its columns: value, weight, share and the raw figure (a raw made of
    parts, as mql_to_won_vs_plan's actual and planned, one column per part)."""
    parts: dict[str, tuple[str, ...]] = {}
    for component in SCORE_COMPONENTS:
        raws = [
            c.get("raw") for card in cards for c in card.components if c["key"] == component.key
        ]
        keys = list(dict.fromkeys(k for raw in raws if isinstance(raw, dict) for k in raw))
        parts[component.key] = tuple(keys) if keys else ("raw",)
    return parts


def _scorecard_header(parts: dict[str, tuple[str, ...]]) -> list[str]:
    header = [_("Week"), _("Territory"), _("Alignment score"), _("Change in score"),
              _("Agreement"), _("Computed")]  # fmt: skip
    header += [metric_label(name) for name in METRIC_NAMES]
    header += [_("Planned MQLs"), _("Revenue target")]
    names = {
        "value": _("%(component)s: value"),
        "weight": _("%(component)s: weight"),
        "share": _("%(component)s: share"),
        "raw": _("%(component)s: raw"),
        "actual": _("%(component)s: actual"),
        "planned": _("%(component)s: planned"),
    }
    for key, raw_parts in parts.items():
        label = str(COMPONENT_LABELS[key])
        for part in ("value", "weight", "share", *raw_parts):
            header.append((names.get(part) or f"%(component)s: {part}") % {"component": label})
    return header


def _scorecard_rows(
    cards: list[Scorecard], parts: dict[str, tuple[str, ...]]
) -> Iterator[list[Any]]:
    for card in cards:
        row: list[Any] = [
            card.week_start,
            card.territory.name if card.territory else _("Overall"),
            card.alignment_score,
            card.delta.get("alignment_score"),
            str(card.agreement) if card.agreement else "",
            card.computed_at,
        ]
        row += [card.metrics.get(name) for name in (*METRIC_NAMES, *EXTRA_METRICS)]
        components = {c["key"]: c for c in card.components}
        for key, raw_parts in parts.items():
            c = components.get(key, {})
            raw = c.get("raw")
            row += [c.get("value"), c.get("weight"), c.get("effective_weight")]
            if raw_parts == ("raw",):
                row.append(None if isinstance(raw, dict) else raw)
            else:
                row += [raw.get(p) if isinstance(raw, dict) else None for p in raw_parts]
        yield row


@replica_page
def scorecards_csv_view(request: HttpRequest) -> HttpResponse:
    """The dashboard's scorecard weeks (the 12 up to its period's end), per week and
    territory: the chosen territory's, or with none chosen the overall cards and every
    territory's."""
    try:
        f = metric_filter_read(request.GET)
    except ValidationError:
        return _back("metrics:dashboard", request)
    cards = selectors.scorecard_table(territory=f.territory, until=f.end)
    parts = _component_parts(cards)
    return csv_response(
        filename=f"scorecards_{f.end.isoformat()}.csv",
        header=_scorecard_header(parts),
        rows=_scorecard_rows(cards, parts),
    )


# --- the weekly meeting pack ------------------------------------------------------------------


def _pack_header() -> list[str]:
    return [_("Section"), _("Item"), _("Value"), _("Change"), _("Weight"), _("Share"),
            _("Lead"), _("Email"), _("Detail"), _("By"), _("When")]  # fmt: skip


def _line(section: str, item: Any, **cells: Any) -> list[Any]:
    order = ("value", "change", "weight", "share", "lead", "email", "detail", "by", "when")
    return [section, item, *(cells.get(name) for name in order)]


def _lead(lead: Any) -> dict[str, str]:
    return {"lead": lead_label(lead), "email": lead.email} if lead else {}


def _person(user: Any) -> str:
    return person_name(user) if user else ""


def _raw_detail(raw: Any) -> Any:
    if isinstance(raw, dict):
        return _("%(actual)s actual vs %(planned)s planned") % {
            "actual": "" if raw.get("actual") is None else raw.get("actual"),
            "planned": "" if raw.get("planned") is None else raw.get("planned"),
        }
    return raw


def _pack_rows(data: dict[str, Any], values: dict[str, Any]) -> Iterator[list[Any]]:
    card = data["scorecard"] or data["live"]
    delta = data["scorecard"].delta if data["scorecard"] else {}
    scorecard = _("Scorecard")
    yield _line(scorecard, _("Alignment score"), value=card.alignment_score,
                change=delta.get("alignment_score"))  # fmt: skip
    for c in card.components:
        yield _line(
            _("Component"),
            str(COMPONENT_LABELS.get(c["key"], c["label"])),
            value=c["value"],
            weight=c["weight"],
            share=c["effective_weight"],
            detail=_raw_detail(c["raw"]),
        )
    names = {alias(name): name for name in METRIC_NAMES}
    for name in (names[key] for key in selectors.PACK_METRICS):
        yield _line(_("Metric"), metric_label(name), value=values.get(name),
                    change=delta.get(name))  # fmt: skip
    yield _line(_("SLA breach"), _("Total"), value=data["breach_count"])
    for b in data["breaches"]:
        yield _line(_("SLA breach"), b.get_stage_display(), **_lead(b.lead), by=_person(b.owner),
                    when=b.due_at)  # fmt: skip
    yield _line(_("MQL override"), _("Total"), value=data["override_count"])
    for e in data["overrides"]:
        yield _line(_("MQL override"), e.get_to_stage_display(), **_lead(e.lead),
                    detail=stored_text_display(text=e.reason), by=_person(e.actor),
                    when=e.occurred_at)  # fmt: skip
    for k in data["intel_by_kind"]:
        yield _line(_("Intelligence by kind"), k["label"], value=k["n"])
    for i in data["intel"]:
        yield _line(_("Intelligence"), i.get_kind_display(), value=i.status_then_display,
                    **_lead(i.lead), detail=i.text, by=_person(i.author),
                    when=i.created_at)  # fmt: skip
    yield _line(_("Intelligence waiting"), _("Total"), value=data["intel_waiting_count"])
    for i in data["intel_waiting"]:
        yield _line(_("Intelligence waiting"), i.get_kind_display(), **_lead(i.lead),
                    detail=i.text, by=_person(i.author), when=i.created_at)  # fmt: skip
    yield _line(_("Open dispute"), _("Total"), value=data["dispute_count"])
    for d in data["disputes"]:
        yield _line(_("Open dispute"), d.get_kind_display(), **_lead(d.lead), detail=d.reason,
                    by=_person(d.raised_by), when=d.created_at)  # fmt: skip
    for row in data["flagged"]:
        yield _line(_("Flagged campaign"), row["campaign"].name, value=row["rate"],
                    detail=data["floor"])  # fmt: skip


@replica_page
def pack_csv_view(request: HttpRequest) -> HttpResponse:
    """The pack page's week and territory, its figures and lists, one line per item."""
    params = {"week": request.GET.get("week") or last_complete_week().isoformat(),
              "territory": request.GET.get("territory", "")}  # fmt: skip
    try:
        f = metric_filter_read(params)
    except ValidationError:
        return _back("metrics:pack", request)
    data = selectors.pack_build(week_start=f.start, territory=f.territory)
    card = data["scorecard"] or data["live"]
    # As on the page: a metric added after the week's scorecard was stored is computed.
    missing = [name for name in METRIC_NAMES if name not in card.metrics]
    values = {**card.metrics, **(metric_values(f=f, names=missing) if missing else {})}
    values = {name: selectors.scorecard_value(name, values.get(name)) for name in METRIC_NAMES}
    territory = f"_{data['territory'].pk}" if data["territory"] else ""
    return csv_response(
        filename=f"meeting-pack_{f.start.isoformat()}{territory}.csv",
        header=_pack_header(),
        rows=_pack_rows(data, values),
    )
