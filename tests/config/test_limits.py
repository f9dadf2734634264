"""Rate limits per token (429 + Retry-After) and the login lockout (django-axes)."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token

from config.throttling import throttle_reset
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def throttled(settings):
    settings.API_THROTTLE_ENABLED = True
    settings.API_THROTTLE_RATES = {"token": "3/minute", "anon": "2/minute"}
    throttle_reset()
    yield
    throttle_reset()


def _token_client(user) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")


def test_each_token_has_its_own_budget_and_gets_429_with_retry_after(throttled, marketer):
    first = _token_client(marketer)
    codes = [first.get("/api/v1/leads/").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    refused = first.get("/api/v1/leads/")
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 60
    assert "detail" in refused.json()
    other = _token_client(UserFactory(username="other", role="marketer"))
    assert other.get("/api/v1/leads/").status_code == 200


def test_unauthenticated_calls_are_limited_per_address(throttled):
    client = Client()
    codes = [client.post("/api/v1/auth/token/", {}).status_code for _ in range(3)]
    assert codes == [400, 400, 429]


def test_limits_come_from_settings(settings, marketer):
    settings.API_THROTTLE_ENABLED = False
    client = _token_client(marketer)
    assert {client.get("/api/v1/leads/").status_code for _ in range(5)} == {200}


def test_a_login_is_locked_after_repeated_failures_even_with_the_right_password(settings):
    settings.AXES_FAILURE_LIMIT = 3
    UserFactory(username="victim")
    client = Client()
    for _ in range(3):
        response = client.post("/login/", {"username": "victim", "password": "wrong"})
    response = client.post("/login/", {"username": "victim", "password": "pw-for-tests"})
    assert response.status_code == 429
    assert "Too many failed logins" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_the_token_endpoint_is_locked_too(settings):
    settings.AXES_FAILURE_LIMIT = 2
    UserFactory(username="victim")
    client = Client()
    for _ in range(2):
        client.post("/api/v1/auth/token/", {"username": "victim", "password": "wrong"})
    response = client.post(
        "/api/v1/auth/token/", {"username": "victim", "password": "pw-for-tests"}
    )
    assert response.status_code == 429
    assert "token" not in response.json() and response.json()["detail"]


def test_a_good_login_still_works_and_resets_the_count(settings):
    settings.AXES_FAILURE_LIMIT = 3
    UserFactory(username="person")
    client = Client()
    client.post("/login/", {"username": "person", "password": "wrong"})
    client.post("/login/", {"username": "person", "password": "wrong"})
    response = client.post("/login/", {"username": "person", "password": "pw-for-tests"})
    assert response.status_code == 302
    client.logout()
    client.post("/login/", {"username": "person", "password": "wrong"})
    client.post("/login/", {"username": "person", "password": "wrong"})
    assert (
        client.post("/login/", {"username": "person", "password": "pw-for-tests"}).status_code
        == 302
    )
