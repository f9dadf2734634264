"""Forms of the feedback pages: they parse input; the services decide."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from alignment.feedback.selectors import OPEN_INTEL, dispute_decision_preview
from alignment.models import (
    Competitor,
    Dispute,
    DisputeDecision,
    DisputeKind,
    DisputeStatus,
    IntelKind,
    IntelStatus,
    Team,
)
from config.formats import lead_label, person_name
from config.widgets import Confirmation, OptionAttrsSelect

_TEXTAREA = {"rows": 3}


class IntelSubmitForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=IntelKind.choices)
    text = forms.CharField(
        label=_("What you heard"), max_length=5000, widget=forms.Textarea(attrs=_TEXTAREA)
    )
    competitor = forms.ModelChoiceField(
        label=_("Competitor"),
        queryset=Competitor.objects.order_by("name"),
        required=False,
        empty_label="—",
    )
    competitor_name = forms.CharField(
        label=_("…or a competitor not listed yet"), max_length=120, required=False
    )
    deal = forms.ChoiceField(label=_("Deal"), required=False)

    def __init__(self, *args, lead=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        deals = list(lead.deals.all()) if lead is not None else []
        self.deals = {str(d.pk): d for d in deals}
        if deals:
            self.fields["deal"].choices = [("", _("The lead itself"))] + [
                (str(d.pk), str(d)) for d in deals
            ]
        else:
            del self.fields["deal"]

    def clean_deal(self):
        return self.deals.get(self.cleaned_data.get("deal") or "")


class IntelRespondForm(forms.Form):
    status = forms.ChoiceField(
        choices=[
            (IntelStatus.ACKNOWLEDGED, _("Acknowledge")),
            (IntelStatus.ACTIONED, _("Actioned")),
        ],
        widget=forms.HiddenInput,
    )
    response = forms.CharField(
        label=_("Response to the rep"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs=_TEXTAREA),
    )


class IntelFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[
            ("", _("Any")),
            (OPEN_INTEL, _("Waiting (new or acknowledged)")),
            *IntelStatus.choices,
        ],
    )
    kind = forms.ChoiceField(
        label=_("Kind"), required=False, choices=[("", _("Any")), *IntelKind.choices]
    )
    competitor = forms.ModelChoiceField(
        label=_("Competitor"),
        required=False,
        queryset=Competitor.objects.order_by("name"),
        empty_label=_("Any"),
    )
    mine = forms.BooleanField(label=_("Sent by me"), required=False)
    created_after = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    created_before = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    search = forms.CharField(label=_("Search"), required=False, max_length=100)


class ObjectionForm(forms.Form):
    objection = forms.CharField(label=_("Objection"), required=False, max_length=300)
    answer = forms.CharField(
        label=_("Answer"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


ObjectionFormSet = forms.formset_factory(ObjectionForm, extra=2, max_num=50)


class BattlecardForm(forms.Form):
    competitor_name = forms.CharField(label=_("Competitor"), max_length=120)
    website = forms.URLField(label=_("Website"), required=False, assume_scheme="https")
    summary = forms.CharField(
        label=_("Summary"), required=False, widget=forms.Textarea(attrs=_TEXTAREA)
    )
    differentiators = forms.CharField(
        label=_("Our differentiators"), required=False, widget=forms.Textarea(attrs={"rows": 5})
    )
    table_stakes = forms.CharField(
        label=_("Table stakes (what both of us have)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    link_intel = forms.MultipleChoiceField(
        label=_("Link intelligence not yet tied to a competitor"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args, linkable=(), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["link_intel"].choices = [
            (str(i.pk), f"{i.get_kind_display()}: {i.text[:80]} ({person_name(i.author)})")
            for i in linkable
        ]
        if not linkable:
            del self.fields["link_intel"]


class DisputeRaiseForm(forms.Form):
    kind = forms.ChoiceField(label=_("What is disputed"), choices=DisputeKind.choices)
    reason = forms.CharField(
        label=_("Reason"), max_length=5000, widget=forms.Textarea(attrs=_TEXTAREA)
    )
    deal = forms.ChoiceField(label=_("Deal"), required=False)

    def __init__(self, *args, lead=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        deals = list(lead.deals.all()) if lead is not None else []
        self.deals = {str(d.pk): d for d in deals}
        if deals:
            self.fields["deal"].choices = [("", "—")] + [(str(d.pk), str(d)) for d in deals]
        else:
            del self.fields["deal"]

    def clean_deal(self):
        return self.deals.get(self.cleaned_data.get("deal") or "")


def resolve_confirmation(*, dispute: Dispute, decision: str) -> Confirmation:
    """What resolving `dispute` with `decision` asks first."""
    return Confirmation(
        title=gettext("Resolve the dispute?"),
        consequence=" ".join(
            [
                gettext(
                    "Resolves the dispute about %(lead)s: %(decision)s. Both teams are told at "
                    "once, and a resolved dispute cannot be reopened."
                )
                % {"lead": lead_label(dispute.lead), "decision": DisputeDecision(decision).label},
                dispute_decision_preview(dispute=dispute, decision=decision),
            ]
        ),
        label=gettext("Resolve the dispute"),
    )


class DisputeResolveForm(forms.Form):
    """The arbiter's decision and note. No decision is chosen beforehand; each asks for
    confirmation (`resolve_confirmation`)."""

    decision = forms.ChoiceField(
        label=_("Decision"),
        choices=[("", _("Choose a decision…")), *DisputeDecision.choices],
        widget=OptionAttrsSelect,
        error_messages={"required": _("Choose a decision.")},
    )
    resolution_note = forms.CharField(
        label=_("Note to both teams"), max_length=5000, widget=forms.Textarea(attrs=_TEXTAREA)
    )

    def __init__(self, *args, dispute: Dispute | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if dispute is not None:
            self.fields["decision"].widget.option_attrs = {
                decision: resolve_confirmation(dispute=dispute, decision=decision).attrs()
                for decision in DisputeDecision.values
            }


class DisputeFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=[("", _("Any")), *DisputeStatus.choices]
    )
    kind = forms.ChoiceField(
        label=_("Kind"), required=False, choices=[("", _("Any")), *DisputeKind.choices]
    )
    raised_by_team = forms.ChoiceField(
        label=_("Raised by"), required=False, choices=[("", _("Either team")), *Team.choices]
    )


class NotificationPreferencesForm(forms.Form):
    email_events = forms.MultipleChoiceField(
        label=_("Email me when"), required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args, choices=(), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["email_events"].choices = list(choices)
