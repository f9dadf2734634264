"""`{{ stage|localized:"name" }}`: an agreement text in the reader's language."""

from __future__ import annotations

from django import template

from alignment.agreement.selectors import localized as localized_text
from alignment.models import FunnelStage, QualificationRule, ReasonCode

register = template.Library()


@register.filter
def localized(obj: FunnelStage | ReasonCode | QualificationRule, field: str) -> str:
    return localized_text(obj, field)
