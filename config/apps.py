from django.apps import AppConfig
from django.db.models.signals import post_save


class AccordConfig(AppConfig):
    """The project itself: its composition-root commands (seed_demo) and the signal
    handlers of its cross-cutting parts (API tokens)."""

    name = "config"
    label = "config"
    verbose_name = "Accord"

    def ready(self) -> None:
        from django.contrib.auth import get_user_model

        from config.tokens import tokens_revoke_on_password_change

        # A changed password ends the user's API tokens, on every path that changes it.
        post_save.connect(
            tokens_revoke_on_password_change,
            sender=get_user_model(),
            dispatch_uid="accord-tokens-revoke-on-password-change",
        )
