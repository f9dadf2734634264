"""python manage.py compute_scorecards --week YYYY-MM-DD | --all: upsert weekly scorecards."""

from __future__ import annotations

from datetime import date

from django.core.management.base import BaseCommand, CommandError, CommandParser

from metrics.reporting.services import (
    TRAILING_WEEKS,
    last_complete_week,
    scorecards_compute,
    scorecards_compute_all,
)


def _week(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"--week must be a date as YYYY-MM-DD, not {value!r}") from exc


class Command(BaseCommand):
    help = (
        "Compute the weekly scorecards per territory and overall. Without options: last "
        "week and the trailing weeks. Running it twice leaves one row per week and territory."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--week", type=_week, help="Any day of the week (YYYY-MM-DD).")
        group.add_argument("--all", action="store_true", help="Every week since the first lead.")
        parser.add_argument(
            "--trailing",
            type=int,
            default=TRAILING_WEEKS,
            help=f"Also recompute this many earlier weeks (default {TRAILING_WEEKS}).",
        )

    def handle(self, *args, **options) -> None:
        if options["trailing"] < 0:
            raise CommandError("--trailing cannot be negative")
        if options["all"]:
            results = scorecards_compute_all()
        else:
            week = options["week"] or last_complete_week()
            results = scorecards_compute(week=week, trailing=options["trailing"])
        created = sum(1 for r in results if r.created)
        weeks = sorted({r.scorecard.week_start for r in results})
        span = f" ({weeks[0]} to {weeks[-1]})" if weeks else ""
        self.stdout.write(
            f"{len(results)} scorecards{span}: {created} new, {len(results) - created} updated."
        )
