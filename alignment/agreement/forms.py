"""Forms of the agreement pages: they parse input; the services decide."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from alignment.agreement.backtest import BACKTEST_MAX_THRESHOLD, backtest_window
from alignment.agreement.selectors import (
    HANDOFF_FIELDS,
    SCORE_COMPONENTS,
    translation_languages,
)
from alignment.models import Agreement, ReasonKind, RuleKind, RuleOperator, StageKey, Team
from campaigns.models import TouchKind
from config.dates import PeriodDateField
from config.widgets import Confirmation


def errors_into(form: forms.Form, error: ValidationError) -> None:
    """Put a service's ValidationError onto the form, field by field when it can."""
    if hasattr(error, "error_dict"):
        for field, messages in error.message_dict.items():
            form.add_error(field if field in form.fields else None, messages)
    else:
        form.add_error(None, error.messages)


class TranslatedTextsForm(forms.Form):
    """A form with agreement texts people write in every offered language: each field in
    `translated` (the deployment's language, required where the field is) is followed by
    an optional `<field>_<language>` input per other offered language."""

    translated: tuple[str, ...] = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        fields: dict[str, forms.Field] = {}
        for name, field in self.fields.items():
            fields[name] = field
            if name not in self.translated:
                continue
            for code, language in translation_languages():
                fields[f"{name}_{code}"] = forms.CharField(
                    label=gettext("%(field)s (%(language)s)")
                    % {"field": field.label, "language": language},
                    required=False,
                    max_length=getattr(field, "max_length", None),
                    widget=type(field.widget)(attrs={**field.widget.attrs, "lang": code}),
                )
        self.fields = fields

    @staticmethod
    def translation_initial(obj: Any, names: tuple[str, ...]) -> dict[str, str]:
        """The `<field>_<language>` initial values of a saved object's translations."""
        texts = obj.translations or {}
        return {
            f"{name}_{code}": (texts.get(code) or {}).get(name, "")
            for name in names
            for code, _language in translation_languages()
        }

    def translations(self) -> dict[str, dict[str, str]]:
        """The cleaned translations as the services take them: {language: {field: text}}."""
        return {
            code: {name: self.cleaned_data.get(f"{name}_{code}") or "" for name in self.translated}
            for code, _language in translation_languages()
        }

    def base_data(self) -> dict[str, Any]:
        """The cleaned data without the translation inputs."""
        extra = {f"{n}_{code}" for n in self.translated for code, _l in translation_languages()}
        return {k: v for k, v in self.cleaned_data.items() if k not in extra}


class ThresholdForm(forms.Form):
    mql_threshold = forms.IntegerField(label=_("MQL threshold (points)"), min_value=0)


class RuleForm(TranslatedTextsForm):
    translated = ("description",)
    kind = forms.ChoiceField(label=_("Kind"), choices=RuleKind.choices)
    field = forms.CharField(
        label=_("Lead field"),
        required=False,
        help_text=_("For fit and must rules."),
    )
    operator = forms.ChoiceField(
        label=_("Test"), required=False, choices=[("", "—"), *RuleOperator.choices]
    )
    value = forms.CharField(
        label=_("Value"), required=False, help_text=_("Several values: separate with commas.")
    )
    touch_kind = forms.ChoiceField(label=_("Touch kind"), required=False)
    half_life_days = forms.IntegerField(label=_("Half-life (days)"), required=False, min_value=1)
    points = forms.IntegerField(label=_("Points"), required=False)
    description = forms.CharField(label=_("Description"), required=False, max_length=200)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)

        self.fields["touch_kind"].choices = [("", "—"), *TouchKind.choices]


class StageForm(TranslatedTextsForm):
    translated = ("name", "entry_criteria", "exit_criteria")
    key = forms.ChoiceField(choices=StageKey.choices, widget=forms.HiddenInput)
    name = forms.CharField(label=_("Name"), max_length=80)
    owner_team = forms.ChoiceField(label=_("Owner"), choices=Team.choices)
    sla_hours = forms.IntegerField(label=_("SLA (hours)"), required=False, min_value=1)
    entry_criteria = forms.CharField(
        label=_("Entry criteria"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    exit_criteria = forms.CharField(
        label=_("Exit criteria"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    next = forms.MultipleChoiceField(
        label=_("May move to"),
        required=False,
        choices=StageKey.choices,
        widget=forms.CheckboxSelectMultiple,
    )


class WeightsForm(forms.Form):
    """A whole-number weight (0–100) per alignment-score component (SCORE_COMPONENTS),
    named by the Agreement field that holds it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for component in SCORE_COMPONENTS:
            self.fields[component.weight_field] = forms.IntegerField(
                label=component.label, min_value=0, max_value=100
            )


class HandoffTimesForm(forms.ModelForm):
    """When hand-offs between the teams are due, reminded and escalated."""

    class Meta:
        model = Agreement
        fields = HANDOFF_FIELDS


class ReasonCodeForm(TranslatedTextsForm):
    translated = ("label",)
    kind = forms.ChoiceField(label=_("For"), choices=ReasonKind.choices)
    code = forms.SlugField(label=_("Code"), max_length=40, required=False)
    label = forms.CharField(label=_("Label"), max_length=120)


class BacktestForm(forms.Form):
    """The backtest's window and preview threshold: the same rule (backtest_window) as the
    API's, so a window one refuses the other refuses too."""

    start = PeriodDateField(label=_("From"), widget=forms.DateInput(attrs={"type": "date"}))
    end = PeriodDateField(label=_("Until"), widget=forms.DateInput(attrs={"type": "date"}))
    threshold = forms.IntegerField(
        label=_("Try a threshold"),
        required=False,
        min_value=0,
        max_value=BACKTEST_MAX_THRESHOLD,
        help_text=_("Preview only; save it with the threshold form."),
    )

    @classmethod
    def default_initial(cls) -> dict:
        today = timezone.localdate()
        return {"start": today - timedelta(days=90), "end": today + timedelta(days=1)}

    def clean(self) -> dict:
        data = super().clean()
        if data.get("start") and data.get("end"):
            try:
                data["window"] = backtest_window(start=data["start"], end=data["end"])
            except ValidationError as exc:
                errors_into(self, exc)
        return data


class CompareForm(forms.Form):
    a = forms.IntegerField(label=_("Version"))
    b = forms.IntegerField(label=_("with version"))


def sign_confirmation(*, agreement: Agreement, team: str, other_signed: bool) -> Confirmation:
    """What signing `agreement` for `team` asks first: the last signature puts it in force."""
    names = {"v": agreement.version, "team": Team(team).label}
    if other_signed:
        consequence = gettext(
            "Signs version %(v)s of the agreement for %(team)s. The other team has signed, so "
            "it comes into force at once, replaces the version in force, and every lead is "
            "rescored under it."
        )
    else:
        consequence = gettext(
            "Signs version %(v)s of the agreement for %(team)s. Once both teams have signed, "
            "it comes into force and every lead is rescored under it."
        )
    label = gettext("Sign for sales") if team == Team.SALES else gettext("Sign for marketing")
    return Confirmation(
        title=gettext("Sign version %(v)s?") % names, consequence=consequence % names, label=label
    )
