"""Forms of the sales pages; rules stay in leads/services/ (deals, follow_ups, assignment)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from alignment.agreement.selectors import Funnel
from alignment.models import ReasonKind, StageKey
from config.dates import planned_date_validator
from config.formats import person_name
from leads.models import DealOutcome, FollowUpKind, FollowUpOutcome
from leads.selectors import OPEN_STAGES
from leads.services.assignment import assignable_users

DATETIME_INPUT = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class FollowUpForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=FollowUpKind.choices)
    # No outcome is pre-selected: what came of it is the rep's answer (a contact stops
    # the SLA clock, an attempt does not), never a default.
    outcome = forms.ChoiceField(
        label=_("Outcome"),
        choices=[("", _("What came of it?")), *FollowUpOutcome.choices],
        error_messages={"required": _("Choose what came of it.")},
    )
    notes = forms.CharField(
        label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    occurred_at = forms.DateTimeField(
        label=_("When"),
        required=False,
        widget=DATETIME_INPUT,
        help_text=_("Leave empty for now."),
        # The service judges when it happened (not ahead of now, not before 1970).
    )
    next_step = forms.CharField(label=_("Next step"), required=False, max_length=200)
    next_follow_up_at = forms.DateTimeField(
        label=_("Next follow-up"),
        required=False,
        widget=DATETIME_INPUT,
        validators=[planned_date_validator],
    )


class QueueFilterForm(forms.Form):
    stage = forms.ChoiceField(
        label=_("Stage"),
        required=False,
        choices=[("", _("Any open stage"))]
        + [(k, label) for k, label in StageKey.choices if k in OPEN_STAGES],
    )
    due = forms.ChoiceField(
        label=_("SLA"),
        required=False,
        choices=[
            ("", _("Any")),
            ("overdue", _("Overdue")),
            ("24h", _("Due within 24 hours")),
            ("week", _("Due within 7 days")),
            ("none", _("No clock running")),
        ],
    )
    search = forms.CharField(label=_("Search"), required=False, max_length=100)


class MoveStageForm(forms.Form):
    """Move a lead along the agreed funnel; the choices are the moves the funnel allows."""

    to_stage = forms.ChoiceField(label=_("Move to"))
    reason_code = forms.ChoiceField(label=_("Reason"), required=False)
    reason = forms.CharField(
        label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    override_reason = forms.CharField(
        label=_("Override reason"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_(
            "Marketing managers only: why this lead becomes an MQL although it does not "
            "meet the agreed criteria. Both teams see every override."
        ),
    )

    def __init__(self, *args: Any, funnel: Funnel | None, stage: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        labels = dict(StageKey.choices)
        allowed = sorted(
            funnel.transitions.get(stage, []) if funnel else [],
            key=lambda k: StageKey.values.index(k),
        )
        self.fields["to_stage"].choices = [(k, labels[k]) for k in allowed]
        codes: list[tuple[str, Any]] = [("", _("— no reason —"))]
        if funnel:
            kinds = dict(ReasonKind.choices)
            for kind, by_code in funnel.reason_codes.items():
                group = [(code, label) for code, label in by_code.items()]
                if group:
                    codes.append((kinds.get(kind, kind), group))
        self.fields["reason_code"].choices = codes


class RejectForm(forms.Form):
    """Reject an MQL back to marketing with one of the agreed rejection reasons."""

    reason_code = forms.ChoiceField(label=_("Why"))
    reason = forms.CharField(label=_("Note"), required=False, max_length=500)

    def __init__(self, *args: Any, funnel: Funnel | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        codes = funnel.reason_codes.get(ReasonKind.REJECTION, {}) if funnel else {}
        self.fields["reason_code"].choices = [("", _("Choose a reason")), *list(codes.items())]


class ReassignForm(forms.Form):
    owner = forms.ModelChoiceField(label=_("Give to"), queryset=None)

    def __init__(self, *args: Any, **kwargs: Any) -> None:

        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = assignable_users()
        self.fields["owner"].label_from_instance = person_name


class DealForm(forms.Form):
    name = forms.CharField(label=_("Name"), required=False, max_length=200)
    amount = forms.DecimalField(label=_("Amount"), min_value=0, max_digits=14, decimal_places=2)
    expected_close = forms.DateField(
        label=_("Expected close"),
        required=False,
        widget=DATE_INPUT,
        validators=[planned_date_validator],
    )
    gross_margin = forms.DecimalField(
        label=_("Gross margin"), required=False, max_digits=14, decimal_places=2
    )


class DealCloseForm(forms.Form):
    outcome = forms.ChoiceField(
        label=_("Outcome"),
        choices=[(DealOutcome.WON, _("Won")), (DealOutcome.LOST, _("Lost"))],
    )
    amount = forms.DecimalField(
        label=_("Final amount"),
        required=False,
        min_value=0,
        max_digits=14,
        decimal_places=2,
        help_text=_("Leave empty to keep the deal's amount."),
    )
    closed_at = forms.DateTimeField(
        label=_("Closed on"),
        required=False,
        widget=DATETIME_INPUT,
        help_text=_("Leave empty for now."),
        # The service judges the close time (not in the future, not before 1970).
    )
    lost_reason = forms.ChoiceField(label=_("Lost reason"), required=False)
    gross_margin = forms.DecimalField(
        label=_("Gross margin"), required=False, max_digits=14, decimal_places=2
    )

    def __init__(self, *args: Any, funnel: Funnel | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        codes = funnel.reason_codes.get(ReasonKind.LOST, {}) if funnel else {}
        self.fields["lost_reason"].choices = [("", _("— if lost —")), *list(codes.items())]
