"""Campaign template helpers: stage names, the lead page's collateral panel.

Percentages: accord_format's `percent` (config.formats.percent_format), as everywhere."""

from __future__ import annotations

from django import template

from alignment.models import StageKey
from campaigns.selectors import collateral_for_lead

register = template.Library()


@register.filter
def stage_label(key: str) -> str:
    return str(StageKey(key).label) if key in StageKey.values else key


@register.inclusion_tag("campaigns/_collateral_list.html")
def lead_collateral(lead) -> dict:
    """The collateral of the lead's campaign and stage, for the lead page."""
    return {"items": collateral_for_lead(lead=lead), "lead": lead}
