from django.apps import AppConfig
from django.db.models.signals import post_save

from config.generations import AUTH_GENERATION, generation_bump_on


class AccordConfig(AppConfig):
    """The project itself: its composition-root commands (seed_demo) and the signal
    handlers of its cross-cutting parts (API tokens)."""

    name = "config"
    label = "config"
    verbose_name = "Accord"

    def ready(self) -> None:
        from django.contrib.auth import get_user_model
        from django.contrib.auth.models import Group
        from rest_framework.authtoken.models import Token

        from config.tokens import tokens_revoke_on_password_change

        # A changed password ends the user's API tokens, on every path that changes it.
        post_save.connect(
            tokens_revoke_on_password_change,
            sender=get_user_model(),
            dispatch_uid="accord-tokens-revoke-on-password-change",
        )
        # Who a token is and what they may do are cached (config.tokens): any change to
        # tokens, users, their groups and permissions starts afresh (profiles: alignment).
        user_model = get_user_model()
        generation_bump_on(
            AUTH_GENERATION,
            Token,
            user_model,
            Group,
            user_model.groups.through,
            user_model.user_permissions.through,
            Group.permissions.through,
        )
