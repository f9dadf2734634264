"""The SLA clock: when a stage's deadline falls, and what happens when it passes.

A breach is part of the lead's state change and is written in the same transaction, by
the stage service, the follow-up service or the beat job (`sla_breaches_check`); who is
told about it (notifications, webhooks) subscribes to `SlaBreached`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from alignment.models import Agreement
from config.events import publish
from leads.events import SlaBreached
from leads.models import Lead, SlaBreach
from leads.selectors import OPEN_STAGES


def sla_due_compute(*, agreement: Agreement, hours: int | None, start: datetime) -> datetime | None:
    """When a clock of `hours` started at `start` runs out.

    Calendar hours, unless the agreement defines business hours
    ({"start": 9, "end": 17, "weekdays": [0, 1, 2, 3, 4]}) in the deployment's time zone.
    """
    if not hours:
        return None
    spec = agreement.business_hours or {}
    if not spec:
        return start + timedelta(hours=hours)
    day_start, day_end = int(spec.get("start", 9)), int(spec.get("end", 17))
    weekdays = set(spec.get("weekdays", [0, 1, 2, 3, 4]))
    if day_end <= day_start or not weekdays:
        return start + timedelta(hours=hours)
    local = timezone.localtime(start)
    remaining = timedelta(hours=hours)
    cursor = local
    for _day in range(3660):  # at most ten years of days: a bounded walk
        open_at = cursor.replace(hour=day_start, minute=0, second=0, microsecond=0)
        close_at = cursor.replace(hour=day_end, minute=0, second=0, microsecond=0)
        if cursor.weekday() in weekdays and cursor < close_at:
            begin = max(cursor, open_at)
            available = close_at - begin
            if remaining <= available:
                return begin + remaining
            remaining -= available
        next_day = (cursor + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        cursor = timezone.make_aware(next_day.replace(tzinfo=None), local.tzinfo)
    return start + timedelta(hours=hours)


def sla_breach_record(
    *, lead: Lead, stage: str, due_at: datetime, detected_at: datetime
) -> tuple[SlaBreach, bool]:
    """Record one breach of (lead, stage, deadline), once, and announce it (SlaBreached).

    The unique constraint decides: of two simultaneous calls one inserts, the other
    waits for it and finds the row, so only the inserting call announces it. Runs inside
    the caller's transaction; the notice and the webhook (their handlers) commit with it.
    """
    with transaction.atomic():
        breach, created = SlaBreach.objects.get_or_create(
            lead_id=lead.pk,
            stage=stage,
            due_at=due_at,
            defaults={
                "detected_at": detected_at,
                "owner_id": lead.owner_id,
                "territory_id": lead.territory_id,
            },
        )
        if not created:
            return breach, False
        publish(SlaBreached(breach_id=breach.pk, lead_id=lead.pk))
    return breach, True


@dataclass(frozen=True)
class SlaCheckResult:
    checked: int
    recorded: int


def sla_breaches_check(*, now: datetime | None = None, batch_size: int = 500) -> SlaCheckResult:
    """Record every open lead past its SLA deadline as a breach, once (each announced once).

    Safe to run twice and to run concurrently: each breach is inserted under a unique
    constraint (lead, stage, deadline), in its own short transaction, and only the run
    that inserted it announces it. A lead followed up meanwhile (clock stopped) is skipped.
    """
    now = now or timezone.now()
    already = SlaBreach.objects.filter(
        lead=OuterRef("pk"), stage=OuterRef("stage"), due_at=OuterRef("sla_due_at")
    )
    pending = (
        Lead.objects.filter(sla_due_at__lt=now, stage__in=OPEN_STAGES)
        .exclude(Exists(already))
        .order_by("pk")
    )
    checked = recorded = 0
    last_pk = 0
    while True:
        ids = list(pending.filter(pk__gt=last_pk).values_list("pk", flat=True)[:batch_size])
        if not ids:
            break
        last_pk = ids[-1]
        for pk in ids:
            checked += 1
            with transaction.atomic():
                lead = (
                    Lead.objects.select_for_update()
                    .filter(pk=pk, sla_due_at__lt=now, stage__in=OPEN_STAGES)
                    .first()
                )
                if lead is None:
                    continue
                assert lead.sla_due_at is not None  # filtered on sla_due_at__lt
                _breach, created = sla_breach_record(
                    lead=lead, stage=lead.stage, due_at=lead.sla_due_at, detected_at=now
                )
                recorded += int(created)
    return SlaCheckResult(checked=checked, recorded=recorded)
