"""The API rate limit is one atomic window in Redis, and still a limit when Redis is down."""

from __future__ import annotations

import os
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import Client
from rest_framework.authtoken.models import Token

from config.throttling import LocalWindows, RedisWindows, parse_rate, throttle_reset
from tests.conftest import need
from tests.factories import UserFactory

DEAD_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1


@pytest.fixture
def redis_url(settings) -> str:
    url = os.environ.get("REDIS_URL", "")
    need(bool(url), "REDIS_URL is not set: no Redis to test the shared rate limit against")
    settings.REDIS_URL = url
    return url


@pytest.fixture
def limited(settings):
    settings.API_THROTTLE_ENABLED = True
    throttle_reset()
    yield settings
    throttle_reset()


def _hammer(hit, *, threads: int, calls: int) -> list[bool]:
    start = threading.Barrier(threads)

    def worker(_: int) -> list[bool]:
        start.wait()
        return [hit() for _ in range(calls)]

    with ThreadPoolExecutor(threads) as pool:
        return [ok for results in pool.map(worker, range(threads)) for ok in results]


def test_parallel_hits_on_the_redis_window_never_pass_the_limit(redis_url, limited):
    window = RedisWindows(redis_url)
    results = _hammer(lambda: window.hit("test:parallel", 50, 60)[0], threads=8, calls=40)
    assert results.count(True) == 50
    allowed, wait = window.hit("test:parallel", 50, 60)
    assert not allowed and 0 < wait <= 60


def test_parallel_hits_on_the_local_window_never_pass_the_limit():
    window = LocalWindows()
    results = _hammer(lambda: window.hit("test:parallel", 50, 60)[0], threads=8, calls=40)
    assert results.count(True) == 50


def test_the_local_windows_forget_the_least_recent_clients_past_their_size():
    window = LocalWindows(max_keys=2)
    for key in ("a", "b", "a", "c"):  # "b" is the least recently seen when "c" arrives
        window.hit(key, 1, 60)
    assert window.hit("a", 1, 60)[0] is False
    assert window.hit("b", 1, 60)[0] is True


@pytest.mark.django_db(transaction=True)
def test_parallel_api_clients_with_one_token_get_at_most_the_limit(redis_url, limited, live_server):
    limited.API_THROTTLE_RATES = {"token": "30/minute", "anon": "60/minute"}
    token = Token.objects.create(user=UserFactory(username="integration", role="marketer"))

    def call() -> int:
        request = urllib.request.Request(
            f"{live_server.url}/api/v1/stages/", headers={"Authorization": f"Token {token.key}"}
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code

    codes = _hammer(call, threads=6, calls=15)
    assert codes.count(200) == 30
    assert codes.count(429) == 60


@pytest.mark.django_db
def test_with_redis_unreachable_the_limit_still_answers_429(limited, marketer):
    # As in production: the cache would swallow Redis' errors (a miss, never a failure).
    limited.REDIS_URL = DEAD_REDIS
    limited.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": DEAD_REDIS,
            "OPTIONS": {"IGNORE_EXCEPTIONS": True, "SOCKET_CONNECT_TIMEOUT": 1},
        }
    }
    limited.API_THROTTLE_RATES = {"token": "3/minute", "anon": "2/minute"}
    client = Client(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=marketer).key}")
    codes = [client.get("/api/v1/stages/").status_code for _ in range(5)]
    assert codes == [200, 200, 200, 429, 429]
    refused = client.get("/api/v1/stages/")
    assert 0 < int(refused["Retry-After"]) <= 60
    anonymous = Client()
    codes = [anonymous.post("/api/v1/auth/token/", {}).status_code for _ in range(3)]
    assert codes == [400, 400, 429]


@pytest.mark.django_db
def test_the_limit_is_shared_through_redis(redis_url, limited, marketer):
    """Two processes share one budget: the window lives in Redis, not in the process."""
    from config import throttling

    limited.API_THROTTLE_RATES = {"token": "3/minute", "anon": "60/minute"}
    client = Client(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=marketer).key}")
    assert [client.get("/api/v1/stages/").status_code for _ in range(2)] == [200, 200]
    throttling.windows.local.clear()  # what a second web process would start from
    assert [client.get("/api/v1/stages/").status_code for _ in range(2)] == [200, 429]


@pytest.mark.parametrize(
    ("rate", "expected"),
    [("1200/minute", (1200, 60)), ("5/s", (5, 1)), ("10/hour", (10, 3600)), ("1/day", (1, 86400))],
)
def test_rates_read_as_requests_per_period(rate, expected):
    assert parse_rate(rate) == expected


@pytest.mark.parametrize("rate", ["lots/minute", "0/minute", "10/fortnight", "10"])
def test_a_malformed_rate_is_a_configuration_error(rate):
    with pytest.raises(ImproperlyConfigured):
        parse_rate(rate)
