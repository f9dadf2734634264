"""The lead page's feedback panel gets its context here, so the lead view needs no change."""

from __future__ import annotations

from django import template

from alignment.feedback.views import lead_feedback_context

register = template.Library()


@register.simple_tag(takes_context=True)
def lead_feedback(context: template.Context, lead) -> dict:
    """The panel's context: given by an htmx response, else read for the lead shown."""
    given = context.get("feedback")
    if given is not None:
        return given

    return lead_feedback_context(lead=lead, user=context["request"].user)
