"""The funnel's invariants, checked over the whole database.

Each check is one query for the leads (or follow-ups) that break one invariant; the stage
service keeps them true on every path, and `manage.py check_integrity` proves it on any
database (CI runs it on the demo and on the benchmark data set).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from django.db.models import Exists, F, OuterRef, Q, QuerySet, Subquery
from django.utils.translation import gettext_lazy as _

from alignment.models import StageKey
from leads.models import Deal, DealOutcome, FollowUp, Lead, StageEvent


@dataclass(frozen=True)
class Invariant:
    code: str
    description: str
    offenders: Callable[[], QuerySet]  # ids of the records that break it
    lead_path: str = "pk"  # the offender's lead id, to check one lead's records


def _deals(outcome: str) -> Exists:
    return Exists(Deal.objects.filter(lead=OuterRef("pk"), outcome=outcome))


def _won_without_won_deal() -> QuerySet:
    return Lead.objects.filter(stage=StageKey.WON).exclude(_deals(DealOutcome.WON)).values("pk")


def _won_deal_on_unwon_lead() -> QuerySet:
    return Lead.objects.filter(_deals(DealOutcome.WON)).exclude(stage=StageKey.WON).values("pk")


def _open_deal_on_closed_lead() -> QuerySet:
    return Lead.objects.filter(
        _deals(DealOutcome.OPEN),
        stage__in=[StageKey.LOST, StageKey.RECYCLED, StageKey.DISQUALIFIED],
    ).values("pk")


def _opportunity_without_deal() -> QuerySet:
    return (
        Lead.objects.filter(stage=StageKey.OPPORTUNITY)
        .exclude(_deals(DealOutcome.OPEN))
        .values("pk")
    )


def _latest_event() -> QuerySet:
    return StageEvent.objects.filter(lead=OuterRef("pk")).order_by("-occurred_at", "-id")


def _stage_without_entry_event() -> QuerySet:
    latest = Subquery(_latest_event().values("to_stage")[:1])
    return (
        Lead.objects.annotate(entered=latest)
        .filter(Q(entered__isnull=True) | ~Q(entered=F("stage")))
        .values("pk")
    )


def _credit_from_a_non_contact() -> QuerySet:
    return FollowUp.objects.filter(within_sla__isnull=False, is_contact=False).values("pk")


def _mql_below_criteria_without_override() -> QuerySet:
    """An MQL whose entry was judged below its agreement's threshold and not overridden.

    The score is the one recorded on the entry event (a later decay does not count);
    entries recorded by an import carry the source CRM's qualification. A sales manager's
    revert back into `mql` is no entry: the entry judged is the latest move into it.
    """
    entry = (
        StageEvent.objects.filter(lead=OuterRef("pk"), to_stage=StageKey.MQL)
        .exclude(source=StageEvent.Source.REVERT)
        .order_by("-occurred_at", "-id")
    )
    return (
        Lead.objects.filter(stage=StageKey.MQL)
        .annotate(
            entry_override=Subquery(entry.values("override")[:1]),
            entry_source=Subquery(entry.values("source")[:1]),
            entry_score=Subquery(entry.values("score")[:1]),
            entry_threshold=Subquery(entry.values("agreement__mql_threshold")[:1]),
        )
        .filter(entry_override=False)
        .exclude(entry_source=StageEvent.Source.IMPORT)
        .filter(
            Q(entry_score__lt=F("entry_threshold"))
            | Q(entry_score__isnull=True, score__lt=F("entry_threshold"))
        )
        .values("pk")
    )


INVARIANTS: list[Invariant] = [
    Invariant(
        "won_without_won_deal", _("A lead in won without a won deal."), _won_without_won_deal
    ),
    Invariant(
        "won_deal_on_unwon_lead",
        _("A lead with a won deal that is not in won."),
        _won_deal_on_unwon_lead,
    ),
    Invariant(
        "open_deal_on_closed_lead",
        _("An open deal on a lost, recycled or disqualified lead."),
        _open_deal_on_closed_lead,
    ),
    Invariant(
        "opportunity_without_deal",
        _("An opportunity without an open deal."),
        _opportunity_without_deal,
    ),
    Invariant(
        "stage_without_entry_event",
        _("A lead whose stage is not the one its last stage event entered."),
        _stage_without_entry_event,
    ),
    Invariant(
        "sla_credit_from_non_contact",
        _("A follow-up that earned SLA credit (or a breach) without being a contact."),
        _credit_from_a_non_contact,
        lead_path="lead_id",
    ),
    Invariant(
        "mql_below_criteria_without_override",
        _("A lead in MQL that entered below the threshold without a recorded override."),
        _mql_below_criteria_without_override,
    ),
]


@dataclass(frozen=True)
class Violation:
    code: str
    description: str
    count: int
    examples: list[int]


def integrity_violations(*, examples: int = 10) -> Iterator[Violation]:
    """Every invariant that some record breaks, with a count and a few ids."""
    for invariant in INVARIANTS:
        offenders = invariant.offenders()
        ids = [row["pk"] for row in offenders[:examples]]
        if not ids:
            continue
        count = offenders.count() if len(ids) == examples else len(ids)
        yield Violation(invariant.code, str(invariant.description), count, ids)


def lead_invariant_problems(*, lead_id: int) -> list[str]:
    """The invariants one lead's records break, as sentences (empty: all hold).

    Services that reshape a lead's history as a whole (a merge, a revert) call it inside
    their transaction and refuse, rolling back, when anything would break.
    """
    return [
        str(invariant.description)
        for invariant in INVARIANTS
        if invariant.offenders().filter(**{invariant.lead_path: lead_id}).exists()
    ]
