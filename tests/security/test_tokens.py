"""API tokens expire (API_TOKEN_TTL_DAYS) and end when the user's password changes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework.authtoken.models import Token

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "pw-for-tests"


def _get_token(username: str, password: str = PASSWORD) -> dict:
    response = Client().post("/api/v1/auth/token/", {"username": username, "password": password})
    assert response.status_code == 200, response.content
    return response.json()


def _age(token_key: str, days: float) -> None:
    token = Token.objects.get(key=token_key)
    token.created = timezone.now() - timedelta(days=days)
    token.save()  # through the ORM, as every path that changes a token (the cache follows)


def _status(token_key: str) -> tuple[int, dict]:
    response = Client(HTTP_AUTHORIZATION=f"Token {token_key}").get("/api/v1/stages/")
    return response.status_code, response.json()


def test_a_token_works_until_it_expires_then_answers_401_token_expired(settings, marketer):
    settings.API_TOKEN_TTL_DAYS = 90
    key = _get_token(marketer.username)["token"]
    _age(key, 89.9)
    assert _status(key)[0] == 200
    _age(key, 90)
    status, body = _status(key)
    assert status == 401
    assert body["detail"].startswith("Token expired")


def test_the_lifetime_comes_from_settings(settings, marketer):
    key = _get_token(marketer.username)["token"]
    _age(key, 2)
    settings.API_TOKEN_TTL_DAYS = 1
    assert _status(key)[0] == 401
    settings.API_TOKEN_TTL_DAYS = 3
    assert _status(key)[0] == 200


def test_the_token_endpoint_says_when_the_token_expires(settings, marketer):
    settings.API_TOKEN_TTL_DAYS = 30
    body = _get_token(marketer.username)
    token = Token.objects.get(key=body["token"])
    assert parse_datetime(body["expires_at"]) == token.created + timedelta(days=30)


def test_the_token_endpoint_returns_the_valid_token_and_replaces_an_expired_one(marketer):
    first = _get_token(marketer.username)["token"]
    assert _get_token(marketer.username)["token"] == first
    _age(first, 365)
    second = _get_token(marketer.username)["token"]
    assert second != first
    assert _status(second)[0] == 200
    assert _status(first)[0] == 401
    assert Token.objects.filter(user=marketer).count() == 1


def test_a_password_change_revokes_the_users_tokens(marketer):
    key = _get_token(marketer.username)["token"]
    UserFactory(username="bystander", role="marketer")
    other_key = _get_token("bystander")["token"]
    user = get_user_model().objects.get(pk=marketer.pk)
    user.set_password("a-brand-new-passphrase")
    user.save()
    assert _status(key)[0] == 401
    assert _status(other_key)[0] == 200  # nobody else's
    fresh = _get_token(marketer.username, "a-brand-new-passphrase")["token"]
    assert fresh != key
    assert _status(fresh)[0] == 200
    assert (
        Client()
        .post("/api/v1/auth/token/", {"username": marketer.username, "password": PASSWORD})
        .status_code
        == 400
    )


def test_a_password_changed_by_an_admin_revokes_the_tokens_too(marketer):
    key = _get_token(marketer.username)["token"]
    admin = Client()
    admin.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    response = admin.post(
        f"/admin/auth/user/{marketer.pk}/password/",
        {"password1": "Another-Long-Passphrase-9", "password2": "Another-Long-Passphrase-9"},
    )
    assert response.status_code == 302, response.content[:500]
    assert _status(key)[0] == 401


def test_saving_a_user_without_a_new_password_keeps_the_tokens(settings, marketer):
    key = _get_token(marketer.username)["token"]
    user = get_user_model().objects.get(pk=marketer.pk)
    user.first_name = "Renamed"
    user.save()
    # A login that upgrades the stored hash (same password, stronger hasher) saves the
    # user too: the token stays.
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.MD5PasswordHasher",
    ]
    assert _get_token(marketer.username)["token"] == key
    assert get_user_model().objects.get(pk=marketer.pk).password.startswith("pbkdf2_")
    assert _status(key)[0] == 200


def test_an_expired_token_cannot_use_an_idempotency_key(marketer):
    key = _get_token(marketer.username)["token"]
    _age(key, 1000)
    response = Client(HTTP_AUTHORIZATION=f"Token {key}").post(
        "/api/v1/leads/",
        {"email": "x@example.com"},
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="k-1",
    )
    assert response.status_code == 401
    assert response.json()["detail"].startswith("Token expired")


def test_the_cached_identity_holds_neither_the_token_nor_the_password_hash(marketer):
    """A token's user is cached (config.tokens) in the shared cache (Redis in production):
    what is stored there must not hand a reader of the cache a token or a password hash."""
    import pickle

    from config.tokens import _token_load, token_lookup

    key = _get_token(marketer.username)["token"]
    password_hash = get_user_model().objects.get(pk=marketer.pk).password
    cached = pickle.dumps(_token_load(key))
    assert key.encode() not in cached and password_hash.encode() not in cached

    user, token = token_lookup(key)
    assert (user.pk, token.key, token.user_id) == (marketer.pk, key, marketer.pk)
    user.first_name = "Renamed"
    user.save()  # a save of the cached user writes what it holds, never an empty password
    stored = get_user_model().objects.get(pk=marketer.pk)
    assert stored.first_name == "Renamed" and stored.password == password_hash
    assert user.check_password(PASSWORD)  # the hash is read from the database when asked
    assert _status(key)[0] == 200
