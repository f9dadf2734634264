"""Writes of the alignment app: the agreement, its default version, housekeeping."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from alignment import defaults
from alignment.models import (
    Agreement,
    AgreementStatus,
    FunnelStage,
    IdempotencyKey,
    QualificationRule,
    ReasonCode,
)


@transaction.atomic
def agreement_create_default(*, title: str = "Default demand waterfall") -> Agreement:
    """Install the default agreement as the active version when none exists yet.

    Used on a fresh installation (there is nobody to sign yet). Running it twice
    returns the active version and creates nothing.
    """
    active = Agreement.objects.filter(status=AgreementStatus.ACTIVE).first()
    if active is not None:
        return active
    version = (
        Agreement.objects.order_by("-version").values_list("version", flat=True).first() or 0
    ) + 1
    agreement = Agreement.objects.create(
        version=version,
        title=title,
        notes=defaults.NOTES,
        status=AgreementStatus.ACTIVE,
        activated_at=timezone.now(),
        mql_threshold=defaults.MQL_THRESHOLD,
    )
    stages = {
        spec["key"]: FunnelStage.objects.create(agreement=agreement, order=order, **spec)
        for order, spec in enumerate(defaults.STAGES, start=1)
    }
    for key, next_keys in defaults.TRANSITIONS.items():
        stages[key].next_stages.set([stages[k] for k in next_keys])
    ReasonCode.objects.bulk_create(
        ReasonCode(agreement=agreement, kind=kind, code=code, label=label)
        for kind, codes in defaults.REASON_CODES.items()
        for code, label in codes
    )
    QualificationRule.objects.bulk_create(
        QualificationRule(agreement=agreement, **rule) for rule in defaults.RULES
    )
    return agreement


def idempotency_keys_purge(*, older_than: timedelta = timedelta(hours=48)) -> int:
    """Delete replay records past their retention; safe to run any number of times."""
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=timezone.now() - older_than).delete()
    return deleted
