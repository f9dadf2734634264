from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _

from config.generations import AUTH_GENERATION, generation_bump_on


class AlignmentConfig(AppConfig):
    name = "alignment"
    verbose_name = _("Alignment")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from alignment.accounts.roles import roles_sync_after_migrate
        from alignment.notifications import handlers as notification_handlers  # noqa: F401
        from alignment.webhooks import handlers as webhook_handlers  # noqa: F401

        post_migrate.connect(roles_sync_after_migrate, dispatch_uid="accord-roles-sync")

        from alignment.agreement.selectors import AGREEMENT_GENERATION
        from alignment.models import (
            Agreement,
            FunnelStage,
            QualificationRule,
            ReasonCode,
            UserProfile,
            WebhookSubscription,
        )
        from alignment.webhooks.services import WEBHOOK_GENERATION

        # The cached active funnel (funnel_active) and webhook subscriptions start afresh
        # whenever a row they are read from changes, on any path (services, admin).
        generation_bump_on(
            AGREEMENT_GENERATION,
            Agreement,
            FunnelStage,
            QualificationRule,
            ReasonCode,
            FunnelStage.next_stages.through,
        )
        generation_bump_on(WEBHOOK_GENERATION, WebhookSubscription)
        generation_bump_on(AUTH_GENERATION, UserProfile)  # a user's language and time zone
