"""The agreement's law at the point of entry: what each stage requires before a lead may
enter it (who may make the move: alignment.accounts.roles).

`lead_transition` asks these questions on every move, whatever the path (page, API,
importer, tasks); pages and the API ask them first only to word their forms.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils.translation import gettext as _

from alignment.agreement.scoring import lead_field_value, rule_test
from alignment.agreement.selectors import Funnel
from alignment.models import Agreement, RuleKind, StageKey
from leads.models import DealOutcome, Lead


@dataclass(frozen=True)
class MqlCheck:
    """The MQL entry criterion judged for one lead: the problems (empty: it qualifies)."""

    score: int
    problems: list[str]

    @property
    def passes(self) -> bool:
        return not self.problems


def score_meets_threshold(*, score: int, agreement: Agreement) -> bool:
    """The score part of the MQL criterion (a lead below it cannot qualify)."""
    return score >= agreement.mql_threshold


def mql_entry_check(
    *, lead: Lead, funnel: Funnel, at: datetime, score: int | None = None
) -> MqlCheck:
    """Does `lead` meet the agreed MQL criterion at `at`?

    Score at or above the threshold, every must rule passing; a recycled lead only once
    its rest period is over and only on engagement (a touch) since it was recycled.
    `score` defaults to the lead's stored score (kept current by the scoring paths).
    """
    agreement = funnel.agreement
    score = lead.score if score is None else score
    problems: list[str] = []
    if not score_meets_threshold(score=score, agreement=agreement):
        problems.append(
            _("Its score %(score)s is below the agreed threshold of %(threshold)s.")
            % {"score": score, "threshold": agreement.mql_threshold}
        )
    failing = [
        rule.description or str(rule)
        for rule in agreement.rules.all()
        if rule.kind == RuleKind.MUST
        and not rule_test(rule.operator, lead_field_value(lead, rule.field), rule.value)
    ]
    if failing:
        problems.append(_("Must rules not met: %(rules)s.") % {"rules": "; ".join(failing)})
    if lead.stage == StageKey.RECYCLED:
        if lead.rest_until is not None and at < lead.rest_until:
            problems.append(
                _("It was rejected and rests until %(date)s.")
                % {"date": lead.rest_until.date().isoformat()}
            )
        since = lead.recycled_at
        if since is not None and not lead.touches.filter(occurred_at__gt=since).exists():
            problems.append(_("It has shown no engagement since it was recycled."))
    return MqlCheck(score=score, problems=problems)


def deal_entry_refusal(*, lead: Lead, to_stage: str) -> str | None:
    """The deal-bound stages: opportunity needs an open deal, won a won deal, lost no
    open deal. The stage follows the deal, never the other way round."""
    if to_stage not in (StageKey.OPPORTUNITY, StageKey.WON, StageKey.LOST) or not lead.pk:
        return None
    deals = list(lead.deals.order_by("pk").values_list("pk", "name", "outcome"))
    outcomes = {outcome for _pk, _name, outcome in deals}
    open_names = ", ".join(
        f"#{pk} {name}".strip() for pk, name, outcome in deals if outcome == DealOutcome.OPEN
    )
    if to_stage == StageKey.OPPORTUNITY and DealOutcome.OPEN not in outcomes:
        return _("An opportunity needs an open deal: open a deal on the lead.")
    if to_stage == StageKey.WON and DealOutcome.WON not in outcomes:
        if open_names:
            return _("A lead is won when its deal is: close the open deal %(deals)s as won.") % {
                "deals": open_names
            }
        return _("A lead is won when its deal is: it has no deal to close as won.")
    if to_stage == StageKey.LOST and open_names:
        return _("Close the open deal %(deals)s as lost first: a lost lead has no open deal.") % {
            "deals": open_names
        }
    return None
