"""python manage.py rollups_rebuild: the funnel's day rollups, recomputed from the events."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand

from metrics.rollups import rollups_rebuild


class Command(BaseCommand):
    help = (
        "Recompute the funnel's day rollups (stage entries and conversion cohorts) from the "
        "stage events. The worker keeps them up to date; run this after restoring a "
        "database or changing TIME_ZONE, or to check them (the result is the same)."
    )

    def handle(self, *args, **options) -> None:
        started = time.monotonic()
        rows = rollups_rebuild()
        self.stdout.write(f"{rows} rollup rows written in {time.monotonic() - started:.1f} s.")
