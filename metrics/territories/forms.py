"""The territory edit form: name, countries, and one row per rep (their place in the
round-robin order, whether they are away and until when, or that they leave); a rep
may join. It parses; territory_update judges."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from config.dates import planned_date_validator
from config.formats import person_name
from metrics.models import TerritoryMember
from metrics.territories.services import AVAILABLE, AWAY, MemberPlan

DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
AVAILABILITY = [(AVAILABLE, _("Available")), (AWAY, _("Away"))]


class RepChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return person_name(obj)


class MemberRow:
    """A rep's fields on the form, for the template."""

    def __init__(self, form: TerritoryForm, member: TerritoryMember) -> None:
        self.member = member
        prefix = f"m{member.user_id}"
        self.position = form[f"{prefix}_position"]
        self.availability = form[f"{prefix}_availability"]
        self.away_until = form[f"{prefix}_away_until"]
        self.remove = form[f"{prefix}_remove"]

    @property
    def errors(self) -> list[str]:
        return [
            *self.position.errors,
            *self.availability.errors,
            *self.away_until.errors,
        ]


class TerritoryForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    countries = forms.CharField(
        label=_("Countries"),
        required=False,
        max_length=1000,
        help_text=_(
            "ISO 3166 codes, separated by commas or spaces, e.g. PL, DE, GB. Leads from "
            "these countries come to this territory."
        ),
    )
    add_rep = RepChoiceField(
        label=_("Add a rep"),
        queryset=TerritoryMember.objects.none(),
        required=False,
        empty_label=_("Nobody"),
        help_text=_("They join at the end of the round-robin order."),
    )

    def __init__(
        self,
        *args: Any,
        members: list[TerritoryMember],
        addable: Any,
        today: Any,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.members = members
        self.fields["add_rep"].queryset = addable
        for index, member in enumerate(members, 1):
            prefix = f"m{member.user_id}"
            away = member.is_away_on(today)
            name = person_name(member.user)
            self.fields[f"{prefix}_position"] = forms.IntegerField(
                label=_("Order of %(rep)s") % {"rep": name},
                min_value=1,
                max_value=1000,
                initial=index,
            )
            self.fields[f"{prefix}_availability"] = forms.ChoiceField(
                label=_("Availability of %(rep)s") % {"rep": name},
                choices=AVAILABILITY,
                initial=AWAY if away else AVAILABLE,
            )
            self.fields[f"{prefix}_away_until"] = forms.DateField(
                label=_("%(rep)s is away until (last day away)") % {"rep": name},
                required=False,
                widget=DATE_INPUT,
                validators=[planned_date_validator],
                initial=member.away_until if away else None,
            )
            self.fields[f"{prefix}_remove"] = forms.BooleanField(
                label=_("Remove %(rep)s from the territory") % {"rep": name}, required=False
            )

    def member_rows(self) -> list[MemberRow]:
        return [MemberRow(self, member) for member in self.members]

    def country_codes(self) -> list[str]:
        return [code for code in re.split(r"[\s,;]+", self.cleaned_data["countries"]) if code]

    def plans(self) -> list[MemberPlan]:
        """Every rep who stays or joins, as territory_update takes them."""
        data = self.cleaned_data
        plans = []
        for member in self.members:
            prefix = f"m{member.user_id}"
            if data.get(f"{prefix}_remove"):
                continue
            away = data[f"{prefix}_availability"] == AWAY
            plans.append(
                MemberPlan(
                    user_id=member.user_id,
                    position=data[f"{prefix}_position"],
                    is_away=away,
                    away_until=data.get(f"{prefix}_away_until") if away else None,
                )
            )
        joining = data.get("add_rep")
        if joining is not None and joining.pk not in {m.user_id for m in self.members}:
            plans.append(MemberPlan(user_id=joining.pk, position=len(self.members) + 1000))
        return plans
