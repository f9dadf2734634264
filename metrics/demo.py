"""Demo data of the metrics area: revenue targets and the past weeks' scorecards.

Idempotent: targets are upserted per (territory, period) and scorecards per
(week, territory), so seeding twice changes nothing.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser

from metrics.models import Target, Territory
from metrics.reporting.selectors import target_period_current
from metrics.reporting.services import last_complete_week, scorecards_compute, target_set

# Monthly revenue target per territory code; the overall quarter is their sum × 3.
MONTHLY_TARGETS = {
    "emea": Decimal("60000.00"),
    "apac": Decimal("45000.00"),
    "amer": Decimal("50000.00"),
}


def metrics_demo_seed(*, today: date, manager: AbstractBaseUser | None, weeks: int = 11) -> int:
    """Targets for the previous, current and next month and the quarter; scorecards of
    the last complete week and `weeks` weeks before it."""
    month_start, _end = target_period_current(today=today, period=Target.Period.MONTH)
    months = [
        date(month_start.year - (month_start.month == 1), (month_start.month - 2) % 12 + 1, 1),
        month_start,
        date(month_start.year + (month_start.month == 12), month_start.month % 12 + 1, 1),
    ]
    overall = Decimal(0)
    for territory in Territory.objects.filter(code__in=MONTHLY_TARGETS):
        amount = MONTHLY_TARGETS[territory.code]
        overall += amount
        for start in months:
            target_set(territory=territory, period=Target.Period.MONTH, starts_on=start,
                       revenue_target=amount, actor=manager)  # fmt: skip
    quarter_start, _q_end = target_period_current(today=today, period=Target.Period.QUARTER)
    if overall:
        target_set(territory=None, period=Target.Period.QUARTER, starts_on=quarter_start,
                   revenue_target=overall * 3, actor=manager)  # fmt: skip
    return len(scorecards_compute(week=last_complete_week(), trailing=weeks))
