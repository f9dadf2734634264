"""API tokens: one per user, valid API_TOKEN_TTL_DAYS from its creation, and gone when the
user's password changes (a leaked token dies with the password that was changed because of
the leak; sessions already end then, by Django's session hash)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed


def token_expires_at(token: Token) -> datetime:
    return token.created + timedelta(days=settings.API_TOKEN_TTL_DAYS)


def token_expired(token: Token, *, now: datetime | None = None) -> bool:
    return (now or timezone.now()) >= token_expires_at(token)


def token_issue(*, user: AbstractBaseUser) -> Token:
    """The user's current token, or a new one when there is none or it has expired.

    Run twice (or by two clients at once), it returns the same token: the user's one row.
    """
    cutoff = timezone.now() - timedelta(days=settings.API_TOKEN_TTL_DAYS)
    Token.objects.filter(user=user, created__lte=cutoff).delete()
    token, _created = Token.objects.get_or_create(user=user)
    return token


def tokens_revoke(*, user: AbstractBaseUser) -> int:
    """Delete the user's API tokens; clients must log in to the token endpoint again."""
    deleted, _by_model = Token.objects.filter(user=user).delete()
    return deleted


def tokens_revoke_on_password_change(
    sender: type, instance: AbstractBaseUser, created: bool, **kwargs: Any
) -> None:
    """post_save of a user: a new password (set_password, then save) revokes the tokens.

    Django keeps the new raw password on the instance until that save has run; a re-hash
    on login (same password, stronger hasher) clears it first, and keeps the tokens.
    """
    if not created and getattr(instance, "_password", None) is not None:
        tokens_revoke(user=instance)


class ExpiringTokenAuthentication(TokenAuthentication):
    """DRF's token authentication ("Authorization: Token <key>"), refusing expired tokens."""

    def authenticate_credentials(self, key: str) -> tuple[AbstractBaseUser, Token]:
        user, token = super().authenticate_credentials(key)
        if token_expired(token):
            raise AuthenticationFailed(
                _("Token expired. Get a new one from POST /api/v1/auth/token/.")
            )
        return user, token
