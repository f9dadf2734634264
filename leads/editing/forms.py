"""Forms of the new-lead, edit and merge pages."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from campaigns.models import Campaign, CampaignStatus
from leads.models import Lead

# A lead's own fields a person edits by hand (the first-touch campaign stays as it came).
CONTACT_FIELDS = [
    "first_name",
    "last_name",
    "email",
    "phone",
    "title",
    "company",
    "country",
    "industry",
    "company_size",
]


class LeadFieldsForm(forms.ModelForm):
    class Meta:
        model = Lead
        fields = CONTACT_FIELDS
        widgets = {
            "email": forms.EmailInput(attrs={"autocomplete": "off", "inputmode": "email"}),
            "phone": forms.TextInput(attrs={"type": "tel", "inputmode": "tel"}),
            "country": forms.TextInput(
                attrs={"maxlength": 2, "size": 2, "autocapitalize": "characters"}
            ),
        }
        help_texts = {"country": _("Two letters, e.g. PL, ID, BR.")}

    def clean_country(self) -> str:
        country = (self.cleaned_data.get("country") or "").strip().upper()
        if country and not re.fullmatch(r"[A-Z]{2}", country):
            raise forms.ValidationError(_("Use the two-letter country code, e.g. PL."))
        return country

    def clean_email(self) -> str:
        return (self.cleaned_data.get("email") or "").strip()

    def _get_validation_exclusions(self) -> set[str]:
        # The service judges duplicate e-mails (any case), and the page names the lead that
        # has it: the model's constraint on the e-mail is not checked twice here.
        return {*super()._get_validation_exclusions(), "email"}

    def validate_unique(self) -> None:
        """The service judges duplicates (with a link to the lead that exists)."""


class LeadCreateForm(LeadFieldsForm):
    claim = forms.BooleanField(
        label=_("I'll work this lead myself"),
        required=False,
        help_text=_("It becomes yours at once, on your queue and agenda."),
    )
    create_anyway = forms.BooleanField(
        label=_("It is a different person: create the lead anyway"), required=False
    )

    class Meta(LeadFieldsForm.Meta):
        fields = [*CONTACT_FIELDS, "source", "campaign"]

    def __init__(self, *args: Any, may_claim: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["campaign"].queryset = Campaign.objects.exclude(
            status=CampaignStatus.COMPLETED
        ).order_by("name")
        self.fields["campaign"].empty_label = _("No campaign")
        self.fields["campaign"].label = _("Campaign (where you met them)")
        if may_claim:
            self.fields["claim"].initial = True
        else:
            del self.fields["claim"]


class LeadMergeForm(forms.Form):
    duplicate = forms.IntegerField(
        label=_("The duplicate (lead number)"),
        min_value=1,
        max_value=2**63 - 1,
        help_text=_("Its history moves to this lead, and its page forwards here."),
    )
    reason = forms.CharField(
        label=_("Why they are the same person"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
