"""API tokens: one per user, valid API_TOKEN_TTL_DAYS from its creation, and gone when the
user's password changes (a leaked token dies with the password that was changed because of
the leak; sessions already end then, by Django's session hash)."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import router
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed

from config.generations import AUTH_GENERATION, shared


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


# Who a token is, with the user's permissions, cached (config.generations) until a token,
# user, group or permission changes: the token's row is read once per minute at most, not
# on every request, nor twice in one. What is cached holds no secret: not the token (its
# key, which the request brings), nor the user's password hash (a deferred field: read
# from the database if ever asked for, and never written back by a save).


def _token_load(key: str) -> tuple[AbstractBaseUser, datetime] | None:
    user = (
        get_user_model()
        .objects.defer("password")
        .annotate(token_created=F("auth_token__created"))
        .filter(auth_token__key=key)
        .first()
    )
    if user is None:
        return None
    user.get_all_permissions()  # fills the user's permission caches, kept with it
    return user, user.token_created


def token_lookup(key: str) -> tuple[AbstractBaseUser, Token] | None:
    """The user and token row of `key` (None when no token has it), from the cache."""
    digest = hashlib.sha256(key.encode()).hexdigest()
    found = shared(AUTH_GENERATION, f"token-user:{digest}", lambda: _token_load(key))
    if found is None:
        return None
    user, created = found
    token = Token.from_db(
        router.db_for_read(Token), ["key", "user_id", "created"], [key, user.pk, created]
    )
    token.user = user
    return user, token


class ExpiringTokenAuthentication(TokenAuthentication):
    """DRF's token authentication ("Authorization: Token <key>"), refusing expired tokens.

    Once per request: the middleware that needs to know who is asking (body limits,
    language, Idempotency-Key) and DRF's view share the answer, kept on the request.
    """

    def authenticate(self, request: Any) -> tuple[AbstractBaseUser, Token] | None:
        http = getattr(request, "_request", request)
        found = getattr(http, "_accord_token_auth", None)
        if found is None:
            try:
                found = super().authenticate(request)
            except AuthenticationFailed as exc:
                found = exc
            http._accord_token_auth = found if found is not None else False
        if isinstance(found, AuthenticationFailed):
            raise found
        return found or None

    def authenticate_credentials(self, key: str) -> tuple[AbstractBaseUser, Token]:
        found = token_lookup(key)
        if found is None:
            raise AuthenticationFailed(_("Invalid token."))
        user, token = found
        if not user.is_active:
            raise AuthenticationFailed(_("User inactive or deleted."))
        if token_expired(token):
            raise AuthenticationFailed(
                _("Token expired. Get a new one from POST /api/v1/auth/token/.")
            )
        return user, token
