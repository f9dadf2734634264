"""Record every SLA breach once and notify; the beat job runs the same service."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from leads.services.sla import sla_breaches_check


class Command(BaseCommand):
    help = "Record leads waiting past their SLA as breaches (once each) and notify rep and manager."

    def handle(self, *args: Any, **options: Any) -> None:
        result = sla_breaches_check()
        self.stdout.write(
            f"Checked {result.checked} overdue lead(s); recorded {result.recorded} new breach(es)."
        )
