"""API rate limits (429 with Retry-After); logins are guarded by django-axes.

Each budget is a sliding window: at most N requests in any period of the rate's length.
With REDIS_URL the window is a sorted set of request times in Redis that one Lua script
trims, counts and appends to, atomically, so parallel requests of one client cannot all
read "under the limit" before any of them is counted (the cache counter this replaced let
1,681 requests of six parallel clients through a 1,200/minute limit). Redis' own clock
stamps the requests, so web servers whose clocks differ share one window.

When Redis is unreachable, or not configured, each process keeps the same windows in
memory under a lock: the limit holds per process (a deployment of P web processes lets at
most P times the rate through while Redis is down), never "no limit". After a Redis
failure the process stays on its own windows for a few seconds before trying Redis again,
so an outage does not add a connection timeout to every request.

Rates are read from settings on every request (API_THROTTLE_RATES, from the environment),
so deployments and tests can change them; API_THROTTLE_ENABLED switches the limits off
(the test suite does, except the tests of the limits themselves).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
import time
from collections import OrderedDict, deque
from typing import Any

import redis
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from rest_framework.authtoken.models import Token
from rest_framework.throttling import BaseThrottle

from config.client_ip import client_ip

log = logging.getLogger("accord.throttling")

KEY_PREFIX = "accord:throttle:"
# After Redis failed, requests use the in-process windows for this long before retrying.
REDIS_RETRY_SECONDS = 5.0
# The in-process windows forget the least recently seen clients beyond this many, so a
# flood of addresses cannot grow a process without bound.
LOCAL_MAX_KEYS = 100_000

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}

# KEYS[1]: the window. ARGV: limit, window length (ms), a unique member for this request.
# Returns {1, 0} when the request is counted, {0, ms until the oldest one leaves} when not.
_SLIDING_WINDOW_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
  return {1, 0}
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {0, tonumber(oldest[2]) + window - now}
"""


def parse_rate(rate: str) -> tuple[int, int]:
    """A rate such as "1200/minute" (or s, m, h, d) → (requests, seconds)."""
    count, _, period = rate.partition("/")
    seconds = _PERIODS.get(period.strip()[:1].lower())
    if not count.strip().isdigit() or int(count) < 1 or seconds is None:
        raise ImproperlyConfigured(
            f"API rate {rate!r}: expected '<n>/<second|minute|hour|day>' with n ≥ 1."
        )
    return int(count), seconds


class LocalWindows:
    """Sliding windows in this process' memory (monotonic clock), one lock for all."""

    def __init__(self, max_keys: int = LOCAL_MAX_KEYS) -> None:
        self._lock = threading.Lock()
        self._windows: OrderedDict[str, deque[float]] = OrderedDict()
        self._max_keys = max_keys

    def hit(self, key: str, limit: int, seconds: int) -> tuple[bool, float]:
        now = time.monotonic()
        with self._lock:
            window = self._windows.get(key)
            if window is None:
                window = self._windows[key] = deque()
                while len(self._windows) > self._max_keys:
                    self._windows.popitem(last=False)
            else:
                self._windows.move_to_end(key)
            while window and window[0] <= now - seconds:
                window.popleft()
            if len(window) >= limit:
                return False, window[0] + seconds - now
            window.append(now)
            return True, 0.0

    def clear(self) -> None:
        with self._lock:
            self._windows.clear()


class RedisWindows:
    """Sliding windows in Redis, one atomic script per request."""

    def __init__(self, url: str) -> None:
        self.client = redis.Redis.from_url(
            url, socket_connect_timeout=0.5, socket_timeout=0.5, health_check_interval=30
        )
        self._script = self.client.register_script(_SLIDING_WINDOW_LUA)

    def hit(self, key: str, limit: int, seconds: int) -> tuple[bool, float]:
        allowed, wait_ms = self._script(
            keys=[KEY_PREFIX + key], args=[limit, seconds * 1000, secrets.token_hex(8)]
        )
        return bool(allowed), max(int(wait_ms), 0) / 1000

    def clear(self) -> None:
        for key in self.client.scan_iter(match=KEY_PREFIX + "*", count=1000):
            self.client.delete(key)


class _Windows:
    """Redis when configured and answering, else this process' windows."""

    def __init__(self) -> None:
        self.local = LocalWindows()
        self._redis: dict[str, RedisWindows] = {}
        self._redis_down_until = 0.0
        self._lock = threading.Lock()

    def _remote(self) -> RedisWindows | None:
        url = settings.REDIS_URL
        if not url or time.monotonic() < self._redis_down_until:
            return None
        with self._lock:
            if url not in self._redis:
                self._redis[url] = RedisWindows(url)
            return self._redis[url]

    def hit(self, key: str, limit: int, seconds: int) -> tuple[bool, float]:
        remote = self._remote()
        if remote is not None:
            try:
                return remote.hit(key, limit, seconds)
            except redis.RedisError as error:
                self._redis_down_until = time.monotonic() + REDIS_RETRY_SECONDS
                log.warning("rate limits: Redis unreachable, limiting in-process: %s", error)
        return self.local.hit(key, limit, seconds)

    def clear(self) -> None:
        self.local.clear()
        self._redis_down_until = 0.0
        remote = self._remote()
        if remote is not None:
            try:
                remote.clear()
            except redis.RedisError as error:
                log.warning("rate limits: could not clear Redis windows: %s", error)


windows = _Windows()


def throttle_reset() -> None:
    """Forget every client's window, in Redis and in this process (tests; or lifting the
    limits after an incident). Safe to run twice."""
    windows.clear()


class _SettingsRateThrottle(BaseThrottle):
    scope = ""

    def __init__(self) -> None:
        self._wait: float | None = None

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        raise NotImplementedError

    def allow_request(self, request: Any, view: Any) -> bool:
        if not settings.API_THROTTLE_ENABLED:
            return True
        rate = settings.API_THROTTLE_RATES.get(self.scope)
        if not rate:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        limit, seconds = parse_rate(rate)
        allowed, wait = windows.hit(f"{self.scope}:{key}", limit, seconds)
        # Retry-After is whole seconds, at least 1 (DRF rounds up; 0 would send none).
        self._wait = None if allowed else max(wait, 0.001)
        return allowed

    def wait(self) -> float | None:
        return self._wait


class TokenRateThrottle(_SettingsRateThrottle):
    """Each API token (or, with session auth, each user) gets its own budget."""

    scope = "token"

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        if isinstance(request.auth, Token):
            # A digest, not the token itself: Redis' keys are no place for credentials.
            return "token:" + hashlib.sha256(request.auth.key.encode()).hexdigest()[:32]
        if request.user and request.user.is_authenticated:
            return f"user:{request.user.pk}"
        return None


class AnonymousRateThrottle(_SettingsRateThrottle):
    """Unauthenticated calls (the token endpoint) share a budget per client address
    (config/client_ip.py: X-Forwarded-For counts only as far as TRUSTED_PROXY_COUNT)."""

    scope = "anon"

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        if request.user and request.user.is_authenticated:
            return None
        return f"ip:{client_ip(request)}"
