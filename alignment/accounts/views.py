"""The signed-in user's own account: language and display time zone."""

from __future__ import annotations

import zoneinfo

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST
from django.views.i18n import set_language

from alignment.accounts.services import profile_get, profile_update


def _time_zone_choices() -> list[tuple[str, str]]:
    return [("", gettext_lazy("Deployment time zone (%(tz)s)") % {"tz": settings.TIME_ZONE})] + [
        (name, name) for name in sorted(zoneinfo.available_timezones())
    ]


class ProfileForm(forms.Form):
    language = forms.ChoiceField(
        label=gettext_lazy("Language"),
        required=False,
        choices=[("", gettext_lazy("As my browser asks")), *settings.LANGUAGES],
    )
    time_zone = forms.ChoiceField(
        label=gettext_lazy("Time zone for displaying times"), required=False, choices=()
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = _time_zone_choices()


def profile_view(request: HttpRequest) -> HttpResponse:
    profile = profile_get(user=request.user)
    if request.method == "POST":
        form = ProfileForm(request.POST)
        if form.is_valid():
            try:
                profile_update(user=request.user, **form.cleaned_data)
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                if form.cleaned_data["language"]:
                    translation.activate(form.cleaned_data["language"])
                messages.success(request, _("Your preferences are saved."))
                response = redirect("account:profile")
                _remember_language(response, form.cleaned_data["language"])
                return response
    else:
        form = ProfileForm(initial={"language": profile.language, "time_zone": profile.time_zone})
    return render(
        request,
        "account/profile.html",
        {"form": form, "deployment_time_zone": settings.TIME_ZONE},
    )


@require_POST
def language_switch(request: HttpRequest) -> HttpResponse:
    """The header switcher: Django's set_language, remembered in the profile when signed in."""
    code = request.POST.get("language", "")
    if request.user.is_authenticated and code in dict(settings.LANGUAGES):
        profile_update(user=request.user, language=code)
    return set_language(request)


def _remember_language(response: HttpResponse, code: str) -> None:
    if code:
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            code,
            max_age=settings.LANGUAGE_COOKIE_AGE,
            samesite=settings.LANGUAGE_COOKIE_SAMESITE,
            secure=settings.LANGUAGE_COOKIE_SECURE,
            httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        )
    else:
        response.delete_cookie(settings.LANGUAGE_COOKIE_NAME)
