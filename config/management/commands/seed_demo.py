from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from config.demo import DEMO_PASSWORD, DEMO_USERS, demo_seed


class Command(BaseCommand):
    help = (
        "Create the demo company (users for every role, territories, campaigns, leads). Idempotent."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--leads", type=int, default=640, help="How many demo leads on first run."
        )

    def handle(self, *args, **options) -> None:
        if not settings.ALLOW_DEMO_DATA:
            raise CommandError(
                "seed_demo creates users with a known password; "
                "it refuses to run with DEBUG off (or ALLOW_DEMO_DATA=false)."
            )
        summary = demo_seed(lead_count=options["leads"])
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo ready: {summary.users} users, {summary.leads_created} new leads."
            )
        )
        logins = ", ".join(u[0] for u in DEMO_USERS)
        self.stdout.write(f"Demo logins (password {DEMO_PASSWORD!r}): {logins}")
