from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class AlignmentConfig(AppConfig):
    name = "alignment"
    verbose_name = _("Alignment")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from alignment.accounts.roles import roles_sync_after_migrate
        from alignment.notifications import handlers as notification_handlers  # noqa: F401
        from alignment.webhooks import handlers as webhook_handlers  # noqa: F401

        post_migrate.connect(roles_sync_after_migrate, dispatch_uid="accord-roles-sync")
