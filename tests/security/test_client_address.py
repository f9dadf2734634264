"""The client's address behind proxies: one rule (config/client_ip.py) for the login lockout
and the API rate limit; X-Forwarded-For counts only as far as TRUSTED_PROXY_COUNT."""

from __future__ import annotations

import secrets

import pytest
from django.test import Client, RequestFactory

from config.client_ip import client_ip
from config.throttling import throttle_reset
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PROXY = "10.0.0.2"  # the load balancer: every request arrives from it


def _address(settings, proxies: int, forwarded: str | None, remote: str = PROXY) -> str:
    settings.TRUSTED_PROXY_COUNT = proxies
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return client_ip(RequestFactory().get("/", **extra))


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, None, PROXY),
        (0, "203.0.113.9", PROXY),  # no trusted proxy: the header is anyone's say
        (1, "203.0.113.9", "203.0.113.9"),
        (1, "6.6.6.6, 203.0.113.9", "203.0.113.9"),  # the client wrote 6.6.6.6 itself
        (2, "6.6.6.6, 203.0.113.9, 10.0.0.7", "203.0.113.9"),
        (2, "203.0.113.9", PROXY),  # shorter than the chain: not through every proxy
        (1, "not-an-address", PROXY),
        (1, "", PROXY),
        (1, "203.0.113.9:51234", "203.0.113.9"),
        (1, "[2001:db8::7]:443", "2001:db8::7"),
        (1, "2001:DB8::7", "2001:db8::7"),
    ],
)
def test_the_client_is_the_nth_forwarded_address_from_the_right(
    settings, proxies, forwarded, expected
):
    assert _address(settings, proxies, forwarded) == expected


def _login(client: Client, username: str, password: str, forwarded: str) -> int:
    return client.post(
        "/login/",
        {"username": username, "password": password},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR=forwarded,
    ).status_code


def test_behind_a_proxy_guessing_locks_out_the_guesser_not_everyone_behind_the_proxy(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.AXES_FAILURE_LIMIT = 3
    UserFactory(username="victim")
    attacker, victim = Client(), Client()
    for _ in range(3):
        _login(attacker, "victim", "wrong", "203.0.113.66")
    assert _login(attacker, "victim", "pw-for-tests", "203.0.113.66") == 429
    # The account's owner comes through the same load balancer from elsewhere.
    assert _login(victim, "victim", "pw-for-tests", "198.51.100.7") == 302


def test_without_a_trusted_proxy_a_forged_header_does_not_reset_the_lockout(settings):
    settings.TRUSTED_PROXY_COUNT = 0
    settings.AXES_FAILURE_LIMIT = 3
    UserFactory(username="victim")
    client = Client()
    for _ in range(3):
        _login(client, "victim", "wrong", f"203.0.113.{secrets.randbelow(250)}")
    assert _login(client, "victim", "pw-for-tests", "198.51.100.7") == 429


@pytest.fixture
def anon_limit(settings):
    settings.API_THROTTLE_ENABLED = True
    settings.API_THROTTLE_RATES = {"token": "1000/minute", "anon": "60/minute"}
    throttle_reset()
    yield
    throttle_reset()


def _random_address() -> str:
    return ".".join(str(secrets.randbelow(256)) for _ in range(4))


def test_random_forwarded_addresses_do_not_escape_the_anonymous_rate_limit(settings, anon_limit):
    settings.TRUSTED_PROXY_COUNT = 0
    client = Client()
    codes = [
        client.post("/api/v1/auth/token/", {}, HTTP_X_FORWARDED_FOR=_random_address()).status_code
        for _ in range(150)
    ]
    assert codes.count(400) == 60
    assert codes.count(429) == 90


def test_behind_a_proxy_each_client_has_its_own_anonymous_budget(settings, anon_limit):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.API_THROTTLE_RATES = {"anon": "5/minute"}
    client = Client(REMOTE_ADDR=PROXY)

    def call(forwarded: str) -> int:
        return client.post("/api/v1/auth/token/", {}, HTTP_X_FORWARDED_FOR=forwarded).status_code

    # A forged left-hand entry changes nothing: the proxy's entry names the client.
    codes = [call(f"{_random_address()}, 203.0.113.9") for _ in range(6)]
    assert codes == [400] * 5 + [429]
    assert call("198.51.100.7") == 400  # another client behind the same proxy
