"""Campaign template helpers: rates as percentages, the lead page's collateral panel."""

from __future__ import annotations

from django import template

from alignment.models import StageKey
from campaigns.selectors import collateral_for_lead

register = template.Library()


@register.filter
def percent(value, arg: str = "") -> str:
    """0.6667 → "67%"; None → "—" (a rate without a denominator); "signed" adds a + sign."""
    if value is None or value == "":
        return "—"
    number = round(float(value) * 100)
    sign = "+" if arg == "signed" and number > 0 else ""
    return f"{sign}{number}%"


@register.filter
def stage_label(key: str) -> str:
    return str(StageKey(key).label) if key in StageKey.values else key


@register.inclusion_tag("campaigns/_collateral_list.html")
def lead_collateral(lead) -> dict:
    """The collateral of the lead's campaign and stage, for the lead page."""
    return {"items": collateral_for_lead(lead=lead), "lead": lead}
