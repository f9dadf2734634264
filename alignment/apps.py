from django.apps import AppConfig
from django.db.models.signals import post_migrate, post_save
from django.utils.translation import gettext_lazy as _


class AlignmentConfig(AppConfig):
    name = "alignment"
    verbose_name = _("Alignment")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.contrib.auth import get_user_model

        from alignment.accounts.roles import roles_sync_after_migrate
        from alignment.notifications import handlers as notification_handlers  # noqa: F401
        from alignment.webhooks import handlers as webhook_handlers  # noqa: F401
        from config.tokens import tokens_revoke_on_password_change

        post_migrate.connect(roles_sync_after_migrate, dispatch_uid="accord-roles-sync")
        # A changed password ends the user's API tokens, on every path that changes it.
        post_save.connect(
            tokens_revoke_on_password_change,
            sender=get_user_model(),
            dispatch_uid="accord-tokens-revoke-on-password-change",
        )
