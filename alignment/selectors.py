"""Reads of the alignment app."""

from __future__ import annotations

from django.db.models import Prefetch

from alignment.models import Agreement, AgreementStatus, FunnelStage


def agreement_active() -> Agreement | None:
    return (
        Agreement.objects.filter(status=AgreementStatus.ACTIVE)
        .prefetch_related(
            Prefetch("stages", queryset=FunnelStage.objects.prefetch_related("next_stages")),
            "rules",
            "reason_codes",
            "signatures__signed_by",
        )
        .first()
    )
