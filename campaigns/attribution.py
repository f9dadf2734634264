"""Who gets the credit for won revenue: one set of attribution models.

Every model credits each won deal's amount exactly once in total, split over
campaigns to the cent (Decimal, never float): the shares of one deal add up to its
amount, so the credits of a report add up to the won revenue it covers. Revenue no
campaign can claim is credited to `None` ("unattributed"), never dropped.

- first touch: the lead's first-touch campaign (set from UTM on creation, or by its
  first campaign touch); the same figure as the common metric `attributed_revenue`.
- last touch before MQL: the campaign of the lead's latest touch at or before it
  became an MQL (before the deal closed, for a lead that never was an MQL); without
  touches, its first-touch campaign.
- linear: an equal share to every campaign touch at or before the deal was won; a
  campaign touched twice gets two shares. Without touches, the first-touch campaign.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db import models
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from campaigns.models import Touch
from leads.models import Deal
from metrics.definitions import won_deals

CENT = Decimal("0.01")


class AttributionModel(models.TextChoices):
    FIRST_TOUCH = "first_touch", _("First touch")
    LAST_TOUCH = "last_touch", _("Last touch before MQL")
    LINEAR = "linear", _("Linear over touches before the win")


# The model of the common metrics (`attributed_revenue`, `roi`): pages default to it, so
# a campaign's ROI is the same figure on the campaign page, the dashboard and the API.
DEFAULT_MODEL = AttributionModel.FIRST_TOUCH


@dataclass(frozen=True)
class Attribution:
    """Credited revenue per campaign id (None: unattributed) under one named model."""

    model: str
    total: Decimal
    credits: dict[int | None, Decimal] = field(default_factory=dict)

    @property
    def model_label(self) -> str:
        return str(AttributionModel(self.model).label)

    def for_campaign(self, campaign_id: int | None) -> Decimal:
        return self.credits.get(campaign_id, Decimal("0.00"))

    @property
    def unattributed(self) -> Decimal:
        return self.for_campaign(None)


def split_evenly(amount: Decimal, parts: int) -> list[Decimal]:
    """`amount` in `parts` shares to the cent that add up to it exactly (first shares larger)."""
    cents = int((amount / CENT).to_integral_value())
    base, remainder = divmod(cents, parts)
    return [(base + (1 if i < remainder else 0)) * CENT for i in range(parts)]


@dataclass(frozen=True)
class _DealRow:
    amount: Decimal
    closed_at: datetime
    lead_id: int
    first_touch_campaign_id: int | None
    mql_at: datetime | None


def _rows(deals: QuerySet[Deal]) -> list[_DealRow]:
    return [
        _DealRow(amount, closed_at, lead_id, campaign_id, mql_at)
        for amount, closed_at, lead_id, campaign_id, mql_at in deals.values_list(
            "amount", "closed_at", "lead_id", "lead__campaign_id", "lead__mql_at"
        )
    ]


def _touches_by_lead(deals: QuerySet[Deal]) -> dict[int, list[tuple[datetime, int]]]:
    """(occurred_at, campaign id) of every campaign touch of the deals' leads, oldest first."""
    touches: dict[int, list[tuple[datetime, int]]] = defaultdict(list)
    rows = (
        Touch.objects.filter(lead_id__in=deals.values("lead_id"), campaign_id__isnull=False)
        .order_by("lead_id", "occurred_at", "id")
        .values_list("lead_id", "occurred_at", "campaign_id")
    )
    for lead_id, occurred_at, campaign_id in rows:
        touches[lead_id].append((occurred_at, campaign_id))
    return touches


def _shares(
    row: _DealRow, touches: list[tuple[datetime, int]], model: str
) -> Iterable[tuple[int | None, Decimal]]:
    if model == AttributionModel.FIRST_TOUCH:
        return [(row.first_touch_campaign_id, row.amount)]
    if model == AttributionModel.LAST_TOUCH:
        cutoff = row.mql_at or row.closed_at
        before = [campaign_id for at, campaign_id in touches if at <= cutoff]
        return [(before[-1] if before else row.first_touch_campaign_id, row.amount)]
    if model == AttributionModel.LINEAR:
        before = [campaign_id for at, campaign_id in touches if at <= row.closed_at]
        if not before:
            return [(row.first_touch_campaign_id, row.amount)]
        return zip(before, split_evenly(row.amount, len(before)), strict=True)
    raise ValueError(f"Unknown attribution model: {model}")


@dataclass(frozen=True)
class Credit:
    """One share of one won deal: when it was won, which campaign gets how much."""

    closed_at: datetime
    campaign_id: int | None
    amount: Decimal


def attribution_credits(*, model: str, deals: QuerySet[Deal]) -> list[Credit]:
    """Every share of every won deal in `deals` under `model`. Two queries."""
    rows = _rows(deals)
    touches = _touches_by_lead(deals) if rows else {}
    return [
        Credit(row.closed_at, campaign_id, share)
        for row in rows
        for campaign_id, share in _shares(row, touches.get(row.lead_id, []), model)
    ]


def attribution_compute(*, model: str, deals: QuerySet[Deal]) -> Attribution:
    """Credit the revenue of `deals` (won deals) to campaigns under `model`. Two queries."""
    credits: dict[int | None, Decimal] = defaultdict(lambda: Decimal("0.00"))
    total = Decimal("0.00")
    for credit in attribution_credits(model=model, deals=deals):
        total += credit.amount
        credits[credit.campaign_id] += credit.amount
    return Attribution(model=str(model), total=total, credits=dict(credits))


def attribution_first_touch(*, deals: QuerySet[Deal]) -> Attribution:
    return attribution_compute(model=AttributionModel.FIRST_TOUCH, deals=deals)


def attribution_last_touch(*, deals: QuerySet[Deal]) -> Attribution:
    return attribution_compute(model=AttributionModel.LAST_TOUCH, deals=deals)


def attribution_linear(*, deals: QuerySet[Deal]) -> Attribution:
    return attribution_compute(model=AttributionModel.LINEAR, deals=deals)


def attribution_for_period(
    *, model: str = DEFAULT_MODEL, start: datetime | None = None, end: datetime | None = None
) -> Attribution:
    """Revenue won in [start, end) (metrics.definitions' won deals), credited under `model`."""
    return attribution_compute(model=model, deals=won_deals(start=start, end=end))
