"""Backtest: how a version's criteria would have done on past leads.

For the leads created in a window [start, end), a lead "would have been an MQL" under
some criteria when, at any moment it was scored (its creation, or any of its touches
before `end`), its score reached the threshold with every must rule passing. Scores
peak at those moments because engagement points only decay between touches. Of those
leads: how many were accepted (reached `sal`), reached `opportunity`, were won
(precision = won / would-be MQLs); and of all the window's won leads, how many the
criteria would have missed (recall = caught / won). Reads only; changes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from alignment.agreement.scoring import SCORABLE_FIELDS, score_compute
from alignment.models import Agreement, QualificationRule
from campaigns.models import Touch
from config.dates import day_start, period_date_check
from leads.models import Lead

# The longest window a backtest reads: every lead in it is rescored at each of its touches,
# so decades of leads in one request would hold a worker for minutes.
BACKTEST_MAX_DAYS = 731
# A threshold the agreement could store (a positive integer column on every database).
BACKTEST_MAX_THRESHOLD = 2_147_483_647


def backtest_window(*, start: date, end: date) -> tuple[datetime, datetime]:
    """[start, end) of a backtest as moments: midnight of each day in the deployment's time
    zone (config.dates), whoever asks, so the page and the API count the same leads.

    Raises ValidationError keyed by field: a day outside the report period window
    (1970-01-01 to five years ahead), an end not after the start, or a window longer than
    BACKTEST_MAX_DAYS.
    """
    errors: dict[str, list[str]] = {}
    for field, day in (("start", start), ("end", end)):
        try:
            period_date_check(day, field=field)
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if not errors and end <= start:
        errors["end"] = [_("The window must end after it starts.")]
    elif not errors and (end - start).days > BACKTEST_MAX_DAYS:
        errors["end"] = [
            _("A backtest reads at most %(days)d days; choose a shorter window.")
            % {"days": BACKTEST_MAX_DAYS}
        ]
    if errors:
        raise ValidationError(errors)
    return day_start(start), day_start(end)


@dataclass(frozen=True)
class BacktestCounts:
    version: int
    threshold: int
    leads: int
    mqls: int
    accepted: int
    opportunities: int
    won: int
    won_total: int
    won_missed: int

    @property
    def acceptance_rate(self) -> float | None:
        return self.accepted / self.mqls if self.mqls else None

    @property
    def precision(self) -> float | None:
        return self.won / self.mqls if self.mqls else None

    @property
    def recall(self) -> float | None:
        return self.won / self.won_total if self.won_total else None

    def as_dict(self) -> dict:
        return {
            "version": self.version,
            "threshold": self.threshold,
            "leads": self.leads,
            "mqls": self.mqls,
            "accepted": self.accepted,
            "opportunities": self.opportunities,
            "won": self.won,
            "won_total": self.won_total,
            "won_missed": self.won_missed,
            "acceptance_rate": self.acceptance_rate,
            "precision": self.precision,
            "recall": self.recall,
        }


@dataclass(frozen=True)
class BacktestResult:
    start: datetime
    end: datetime
    candidate: BacktestCounts
    active: BacktestCounts | None


def _would_qualify(lead, rules: list[QualificationRule], touches, threshold: int, end) -> bool:
    moments = [lead.created_at] + [at for _kind, at in touches if lead.created_at <= at < end]
    for moment in moments:
        seen = [(kind, at) for kind, at in touches if at <= moment]
        result = score_compute(lead=lead, rules=rules, touches=seen, now=moment)
        if not result.passes_must_rules:
            return False  # must rules test attributes, the same at every moment
        if result.score >= threshold:
            return True
    return False


def _counts(
    agreement: Agreement, leads, touches_by_lead, end, threshold: int | None = None
) -> BacktestCounts:
    rules = list(QualificationRule.objects.filter(agreement=agreement))
    threshold = agreement.mql_threshold if threshold is None else threshold
    mqls = accepted = opportunities = won = won_total = 0
    for lead in leads:
        is_won = lead.won_at is not None
        won_total += is_won
        if not _would_qualify(lead, rules, touches_by_lead.get(lead.pk, []), threshold, end):
            continue
        mqls += 1
        accepted += any(
            getattr(lead, f) is not None for f in ("sal_at", "sql_at", "opportunity_at", "won_at")
        )
        opportunities += lead.opportunity_at is not None or is_won
        won += is_won
    return BacktestCounts(
        version=agreement.version,
        threshold=threshold,
        leads=len(leads),
        mqls=mqls,
        accepted=accepted,
        opportunities=opportunities,
        won=won,
        won_total=won_total,
        won_missed=won_total - won,
    )


def agreement_backtest(
    *,
    agreement: Agreement,
    start: datetime,
    end: datetime,
    compare_active: bool = True,
    threshold: int | None = None,
) -> BacktestResult:
    """Counts for `agreement`'s criteria over leads created in [start, end), beside the active's.

    `threshold` previews another MQL threshold for `agreement` without saving it.
    """

    leads = list(
        Lead.objects.filter(created_at__gte=start, created_at__lt=end).only(
            "id",
            "created_at",
            "custom_fields",
            "sal_at",
            "sql_at",
            "opportunity_at",
            "won_at",
            *_scorable_columns(),
        )
    )
    touches_by_lead: dict[int, list] = defaultdict(list)
    for lead_id, kind, at in (
        Touch.objects.filter(
            lead__created_at__gte=start, lead__created_at__lt=end, occurred_at__lt=end
        )
        .order_by("occurred_at")
        .values_list("lead_id", "kind", "occurred_at")
    ):
        touches_by_lead[lead_id].append((kind, at))
    candidate = _counts(agreement, leads, touches_by_lead, end, threshold)
    active = None
    if compare_active:
        current = Agreement.objects.filter(status="active").first()
        if current is not None:
            active = (
                candidate
                if current.pk == agreement.pk and threshold is None
                else _counts(current, leads, touches_by_lead, end)
            )
    return BacktestResult(start=start, end=end, candidate=candidate, active=active)


def _scorable_columns() -> list[str]:

    return list(SCORABLE_FIELDS)
