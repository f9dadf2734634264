"""List every violation of the funnel's invariants; exit 1 if there is any."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from leads.integrity import INVARIANTS, integrity_violations


class Command(BaseCommand):
    help = (
        "Check the funnel's invariants (won iff a won deal, no open deal on a lost lead, each "
        "stage entered by its event, SLA credit only from contacts, MQLs at the threshold or "
        "overridden) and exit non-zero if any record breaks one."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--examples", type=int, default=10, help="ids shown per invariant")

    def handle(self, *args: Any, **options: Any) -> None:
        examples = max(1, min(options["examples"], 1000))
        found = list(integrity_violations(examples=examples))
        for violation in found:
            ids = ", ".join(str(pk) for pk in violation.examples)
            self.stdout.write(
                f"{violation.code}: {violation.count} — {violation.description} (e.g. {ids})"
            )
        if found:
            total = sum(v.count for v in found)
            raise CommandError(f"{total} violation(s) of {len(found)} invariant(s).")
        self.stdout.write(f"All {len(INVARIANTS)} invariants hold.")
