from django.core.management.base import BaseCommand

from alignment.agreement.services import agreement_create_default


class Command(BaseCommand):
    help = (
        "Install the default agreement (demand waterfall) as the active version if none is active."
    )

    def handle(self, *args, **options) -> None:
        agreement = agreement_create_default()
        self.stdout.write(self.style.SUCCESS(f"Active agreement: {agreement}"))
