"""Confirmation of consequential actions (won, lost, reject, close a deal, sign, resolve,
delete…): the one helper every such view calls before its service.

A form whose action needs confirming carries `data-confirm` (the consequence, in words):
with JavaScript, accord.js asks in a dialog whose default button is Cancel and, on
confirmation, adds `confirmed=yes` to the post. Without JavaScript (or when the field is
missing) the view answers with a confirmation page naming the consequence, which posts
the same fields again with `confirmed=yes`. Nothing changes until that field is there.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

CONFIRM_FIELD = "confirmed"
CONFIRM_VALUE = "yes"
_NOT_REPEATED = {"csrfmiddlewaretoken", CONFIRM_FIELD}


def is_confirmed(request: HttpRequest) -> bool:
    return request.POST.get(CONFIRM_FIELD) == CONFIRM_VALUE


def confirmation_page(
    request: HttpRequest,
    *,
    title: str,
    consequence: str,
    confirm_label: str,
    cancel_url: str,
) -> HttpResponse | None:
    """None when the post is confirmed (go ahead); else the page that asks for it.

    The page repeats every posted field as a hidden input, so confirming there posts the
    very same action; Cancel is a link back, and the first thing in the form.
    """
    if is_confirmed(request):
        return None
    fields = [
        (name, value)
        for name in request.POST
        if name not in _NOT_REPEATED
        for value in request.POST.getlist(name)
    ]
    return render(
        request,
        "confirm.html",
        {
            "title": title,
            "consequence": consequence,
            "confirm_label": confirm_label,
            "cancel_url": cancel_url,
            "fields": fields,
            "action": request.get_full_path(),
            "confirm_field": CONFIRM_FIELD,
            "confirm_value": CONFIRM_VALUE,
        },
    )
