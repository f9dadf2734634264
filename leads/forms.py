"""Forms of the sales pages; rules stay in leads/services/ (deals, follow_ups, assignment)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from alignment.agreement.selectors import Funnel, reason_kind_for
from alignment.models import ReasonKind, StageKey
from config.dates import planned_date_validator
from config.formats import lead_label, person_name
from config.widgets import Confirmation, OptionAttrsSelect
from leads.models import Deal, DealOutcome, FollowUpKind, FollowUpOutcome, Lead, StageEvent
from leads.selectors import OPEN_STAGES
from leads.services.assignment import assignable_users
from leads.services.moves import deal_deciding

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


# --- what a consequential action asks first (config/confirm.py) --------------------------

# Moves that take a lead out of the open funnel: each asks first, naming what follows.
CONFIRMED_MOVES = (StageKey.WON, StageKey.LOST, StageKey.DISQUALIFIED, StageKey.RECYCLED)


def _with_reason(consequence: str, reason: str) -> str:
    if not reason:
        return consequence
    return f"{consequence} {gettext('Reason: %(reason)s.') % {'reason': reason}}"


def _reason_label(funnel: Funnel | None, kind: str | None, code: str) -> str:
    """An agreed reason code as people read it (its label), the code where it is unknown."""
    if not code:
        return ""
    labels = funnel.reason_codes.get(kind, {}) if funnel and kind else {}
    return str(labels.get(code, code))


def move_confirmation(
    *, lead: Lead, to_stage: str, funnel: Funnel | None = None, reason_code: str = ""
) -> Confirmation | None:
    """What a move to won, lost, disqualified or recycled asks first (None: it asks nothing)."""
    if to_stage not in CONFIRMED_MOVES:
        return None
    who = lead_label(lead)
    sentences = {
        StageKey.WON: gettext(
            "Marks %(lead)s as won: the lead leaves the open queue, its SLA clock stops, and it "
            "counts as won in the funnel."
        ),
        StageKey.LOST: gettext(
            "Marks %(lead)s as lost: the lead leaves the open queue, its SLA clock stops, and it "
            "counts as lost in the funnel."
        ),
        StageKey.DISQUALIFIED: gettext(
            "Disqualifies %(lead)s: the lead leaves the funnel and nobody works on it any more."
        ),
        StageKey.RECYCLED: gettext(
            "Sends %(lead)s back to marketing to nurture: sales stops working on it, and it "
            "returns as an MQL only once it qualifies again."
        ),
    }
    labels = {
        StageKey.WON: gettext("Mark as won"),
        StageKey.LOST: gettext("Mark as lost"),
        StageKey.DISQUALIFIED: gettext("Disqualify"),
        StageKey.RECYCLED: gettext("Send back to marketing"),
    }
    kind = reason_kind_for(from_stage=lead.stage, to_stage=to_stage)
    return Confirmation(
        title=gettext("Move %(lead)s to %(stage)s?")
        % {"lead": who, "stage": StageKey(to_stage).label},
        consequence=_with_reason(
            sentences[to_stage] % {"lead": who}, _reason_label(funnel, kind, reason_code)
        ),
        label=labels[to_stage],
    )


def reject_confirmation(
    *, lead: Lead, funnel: Funnel | None = None, reason_code: str = ""
) -> Confirmation:
    who = lead_label(lead)
    return Confirmation(
        title=gettext("Reject %(lead)s?") % {"lead": who},
        consequence=_with_reason(
            gettext(
                "Rejects %(lead)s and sends it back to marketing: the lead leaves the sales "
                "queue and counts against the acceptance rate."
            )
            % {"lead": who},
            _reason_label(funnel, ReasonKind.REJECTION, reason_code),
        ),
        label=gettext("Reject to marketing"),
    )


def deal_close_confirmation(*, lead: Lead, deal: Deal, outcome: str) -> Confirmation | None:
    """What closing `deal` as won or lost asks first (None for any other outcome)."""
    names = {"lead": lead_label(lead), "deal": str(deal)}
    if outcome == DealOutcome.WON:
        consequence = gettext(
            "Closes the deal “%(deal)s” as won and marks %(lead)s as won. A closed deal "
            "cannot be reopened."
        )
        label = gettext("Close as won")
    elif outcome == DealOutcome.LOST:
        consequence = gettext(
            "Closes the deal “%(deal)s” as lost. A closed deal cannot be reopened; %(lead)s is "
            "lost once none of its deals is open."
        )
        label = gettext("Close as lost")
    else:
        return None
    return Confirmation(
        title=gettext("Close the deal “%(deal)s”?") % names,
        consequence=consequence % names,
        label=label,
    )


def revert_confirmation(*, lead: Lead, event: StageEvent) -> Confirmation:
    return Confirmation(
        title=gettext("Revert this move?"),
        consequence=gettext(
            "Takes %(lead)s back from %(from)s to %(to)s. The move stays in the history, "
            "marked as reverted, and no longer counts in the metrics."
        )
        % {
            "lead": lead_label(lead),
            "from": event.get_to_stage_display(),
            "to": event.get_from_stage_display(),
        },
        label=gettext("Revert this move"),
    )


class MoveStageForm(forms.Form):
    """Move a lead along the agreed funnel; the choices are the moves the funnel allows.

    No stage is chosen beforehand; a move out of the open funnel (won, lost, disqualified,
    recycled) asks for confirmation, naming its consequence, unless an open deal decides
    it (the page then asks for the deal's close instead, which asks).
    """

    to_stage = forms.ChoiceField(
        label=_("Move to"),
        widget=OptionAttrsSelect,
        error_messages={"required": _("Choose a stage.")},
    )
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

    def __init__(self, *args: Any, funnel: Funnel | None, lead: Lead, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        labels = dict(StageKey.choices)
        allowed = sorted(
            funnel.transitions.get(lead.stage, []) if funnel else [],
            key=lambda k: StageKey.values.index(k),
        )
        self.fields["to_stage"].choices = [
            ("", _("Choose a stage…")),
            *[(k, labels[k]) for k in allowed],
        ]
        widget = self.fields["to_stage"].widget
        widget.option_attrs = {
            stage: asked.attrs()
            for stage in allowed
            if deal_deciding(lead=lead, to_stage=stage) is None
            and (asked := move_confirmation(lead=lead, to_stage=stage)) is not None
        }
        codes: list[tuple[str, Any]] = [("", _("— no reason —"))]
        if funnel:
            kinds = dict(ReasonKind.choices)
            for kind, by_code in funnel.reason_codes.items():
                group = [(code, label) for code, label in by_code.items()]
                if group:
                    codes.append((kinds.get(kind, kind), group))
        self.fields["reason_code"].choices = codes


class RejectForm(forms.Form):
    """Reject an MQL back to marketing with one of the agreed rejection reasons (asks for
    confirmation first: `reject_confirmation`)."""

    reason_code = forms.ChoiceField(label=_("Why"))
    reason = forms.CharField(label=_("Note"), required=False, max_length=500)

    def __init__(self, *args: Any, funnel: Funnel | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        codes = funnel.reason_codes.get(ReasonKind.REJECTION, {}) if funnel else {}
        self.fields["reason_code"].choices = [("", _("Choose a reason")), *list(codes.items())]


class RevertForm(forms.Form):
    """A sales manager's revert of the lead's latest move, with the reason (asks first)."""

    reason = forms.CharField(
        label=_("Why revert it?"),
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": _("Say why this move is reverted.")},
    )


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
    """Close a deal as won or lost. No outcome is chosen beforehand (but for the one a
    person chose by moving the lead to won or lost); each asks for confirmation."""

    outcome = forms.ChoiceField(
        label=_("Outcome"),
        choices=[
            ("", _("Choose an outcome…")),
            (DealOutcome.WON, _("Won")),
            (DealOutcome.LOST, _("Lost")),
        ],
        widget=OptionAttrsSelect,
        error_messages={"required": _("Choose won or lost.")},
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

    def __init__(
        self,
        *args: Any,
        funnel: Funnel | None,
        lead: Lead | None = None,
        deal: Deal | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        codes = funnel.reason_codes.get(ReasonKind.LOST, {}) if funnel else {}
        self.fields["lost_reason"].choices = [("", _("— if lost —")), *list(codes.items())]
        if lead is not None and deal is not None:
            self.fields["outcome"].widget.option_attrs = {
                outcome: asked.attrs()
                for outcome in (DealOutcome.WON, DealOutcome.LOST)
                if (asked := deal_close_confirmation(lead=lead, deal=deal, outcome=outcome))
            }


class BulkReassignForm(forms.Form):
    owner = forms.ModelChoiceField(
        label=_("Give the ticked leads to"),
        queryset=None,
        empty_label=_("Choose a rep…"),
        error_messages={"required": _("Choose who gets the leads.")},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = assignable_users()
        self.fields["owner"].label_from_instance = person_name


class SavedViewForm(forms.Form):
    name = forms.CharField(label=_("Name of this view"), max_length=80)
    is_default = forms.BooleanField(label=_("Open the lead list with it"), required=False)
