"""Forms of the campaign pages; they validate input, the services decide."""

from __future__ import annotations

from datetime import date, timedelta

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from alignment.accounts.roles import Role
from alignment.models import StageKey
from campaigns.attribution import DEFAULT_MODEL, AttributionModel
from campaigns.models import Campaign, CampaignStatus, Collateral, SpendEntry, TouchKind
from campaigns.services import SPEND_REASON_MAX
from config.dates import PeriodDateField, history_moment_validator, planned_date_validator
from config.formats import date_text, money_format, person_name
from config.widgets import Confirmation

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


def errors_into(form: forms.Form, error: ValidationError) -> None:
    """Put a service's ValidationError onto the form, field by field when it can."""
    if hasattr(error, "error_dict"):
        for field, messages in error.message_dict.items():
            form.add_error(field if field in form.fields else None, messages)
    else:
        form.add_error(None, error.messages)


class CampaignForm(forms.ModelForm):
    class Meta:
        model = Campaign
        fields = [
            "name",
            "channel",
            "status",
            "utm_source",
            "utm_medium",
            "utm_campaign",
            "starts_on",
            "ends_on",
            "budget",
            "owner",
            "target_territories",
            "description",
        ]
        widgets = {
            "starts_on": DATE,
            "ends_on": DATE,
            "description": forms.Textarea(attrs={"rows": 3}),
            "target_territories": forms.CheckboxSelectMultiple,
        }

    def __init__(self, *args, user, statuses: list[str], **kwargs) -> None:
        """`user`: who fills the form in (a new campaign's owner by default); `statuses`:
        those the service allows from the current one (campaign_statuses_allowed)."""
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = [
            (value, label) for value, label in CampaignStatus.choices if value in statuses
        ]
        # Campaigns belong to marketing: only marketers can own one.
        owners = (
            get_user_model()
            .objects.filter(
                is_active=True, groups__name__in=[Role.MARKETER, Role.MARKETING_MANAGER]
            )
            .distinct()
            .order_by("first_name", "last_name", "username")
        )
        owner = self.fields["owner"]
        owner.queryset = owners
        owner.label_from_instance = person_name
        owner.required = False  # the service makes the creator the owner
        if self.instance.pk is None and owners.filter(pk=user.pk).exists():
            self.initial["owner"] = self.initial.get("owner") or user.pk
            owner.empty_label = None  # the creator, by name, rather than "---------"
        elif self.instance.pk is None:
            owner.empty_label = gettext("You (%(name)s)") % {"name": person_name(user)}
        else:
            owner.empty_label = None  # a campaign always has an owner
        self.fields["budget"].min_value = 0
        self.fields["budget"].validators.append(MinValueValidator(0))
        # Campaigns are planned: their dates reach at most five years ahead (config.dates).
        self.fields["starts_on"].validators.append(planned_date_validator)
        self.fields["ends_on"].validators.append(planned_date_validator)

    def _post_clean(self) -> None:
        """No model validation here: the service validates fields, uniqueness and constraints,
        with messages on the fields they concern (the form never saves the instance)."""


class SpendForm(forms.Form):
    date = forms.DateField(
        label=_("Date"),
        widget=DATE,
        initial=timezone.localdate,
        validators=[history_moment_validator],
    )
    amount = forms.DecimalField(label=_("Amount"), min_value=0, max_digits=14, decimal_places=2)
    note = forms.CharField(label=_("Note"), max_length=200, required=False)


class CollateralForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    url = forms.URLField(label=_("Link"), required=False, assume_scheme="https")
    file = forms.FileField(label=_("or a file"), required=False)
    stage_key = forms.ChoiceField(
        label=_("Stage"),
        required=False,
        choices=[("", _("Any stage")), *StageKey.choices],
        help_text=_("Shown to reps on leads in this stage."),
    )
    description = forms.CharField(label=_("Description"), required=False)


class BriefingForm(forms.Form):
    body = forms.CharField(
        label=_("Sales briefing"),
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("What reps of the target territories must know before launch."),
    )


class LaunchForm(forms.Form):
    confirm = forms.BooleanField(
        label=_("Launch below the agreed readiness anyway"), required=False
    )


class PeriodForm(forms.Form):
    """The period of the KPIs, [start, end], and the attribution model of revenue."""

    start = PeriodDateField(label=_("From"), widget=DATE, required=False)
    end = PeriodDateField(label=_("To (inclusive)"), widget=DATE, required=False)
    model = forms.ChoiceField(
        label=_("Revenue credited by"), choices=AttributionModel.choices, required=False
    )

    def clean(self) -> dict:
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end and end < start:
            self.add_error("end", _("The end must not be before the start."))
        if start and end and (end - start).days > 3650:
            self.add_error("end", _("A period may span at most ten years."))
        return data

    def period(self, *, default_start: date, default_end: date) -> tuple[date, date, str]:
        """(start, end exclusive, model); the defaults where the input is missing or bad."""
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        start = data.get("start") or default_start
        end = data.get("end") + timedelta(days=1) if data.get("end") else default_end
        if end <= start:  # only a start after the default end was given
            end = start + timedelta(days=1)
        return start, end, data.get("model") or DEFAULT_MODEL


class TouchForm(forms.Form):
    """An engagement marketing saw off-line (a booth visit, a webinar attended), recorded
    on a lead: rules in campaigns.services.touch_record."""

    kind = forms.ChoiceField(label=_("What happened"), choices=TouchKind.choices)
    occurred_at = forms.DateTimeField(
        label=_("When"), widget=DATETIME, validators=[history_moment_validator]
    )
    campaign = forms.ModelChoiceField(
        label=_("Campaign"),
        queryset=Campaign.objects.order_by("name"),
        required=False,
        empty_label=_("— none —"),
    )
    note = forms.CharField(label=_("Note"), max_length=500, required=False)


def collateral_delete_confirmation(*, collateral: Collateral) -> Confirmation:
    """What removing a collateral item asks first."""
    names = {"title": collateral.title}
    return Confirmation(
        title=gettext("Remove “%(title)s”?") % names,
        consequence=gettext(
            "Removes “%(title)s” from this campaign's collateral, with its file if it has one: "
            "sales no longer sees it on lead pages. This cannot be undone."
        )
        % names,
        label=gettext("Remove"),
    )


class SpendCorrectForm(forms.Form):
    """Correct a spend entry's amount or date; the reason is recorded with the change."""

    date = forms.DateField(label=_("Date"), widget=DATE, validators=[history_moment_validator])
    amount = forms.DecimalField(label=_("Amount"), min_value=0, max_digits=14, decimal_places=2)
    reason = forms.CharField(
        label=_("Reason"),
        max_length=SPEND_REASON_MAX,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Recorded with the correction and shown on the campaign page."),
    )


class SpendRemoveForm(forms.Form):
    """Remove a spend entry recorded by mistake; the reason is recorded."""

    reason = forms.CharField(
        label=_("Reason for removing it"),
        max_length=SPEND_REASON_MAX,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


def spend_remove_confirmation(*, entry: SpendEntry) -> Confirmation:
    """What removing a spend entry asks first."""
    names = {"amount": money_format(entry.amount), "date": date_text(entry.date)}
    return Confirmation(
        title=gettext("Remove the spend of %(amount)s on %(date)s?") % names,
        consequence=gettext(
            "The campaign's spend, cost per lead, CAC and ROI no longer count %(amount)s "
            "spent on %(date)s. The removal and its reason are recorded on the campaign page."
        )
        % names,
        label=gettext("Remove"),
    )
