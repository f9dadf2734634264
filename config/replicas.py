"""Read replicas: the read-only work on a streaming replica, everything else on the primary.

`DATABASE_REPLICA_URLS` (settings) adds one alias per replica (`replica_1`, …) and installs
``ReplicaRouter``. Nothing reads from a replica unless it asks to, inside
``replica_reads()``: the dashboard, the metric API, drill-downs and exports
(``replica_page`` on their views), search, and a week's scorecard computation. Everything
else, and inside those:

- every write (``db_for_write`` is always the primary), and every read after the first
  write of the same request or task, so that a request reads what it wrote;
- every read inside a transaction (``transaction.atomic`` on the primary): a read that
  decides a write must see the primary's data;

goes to the primary. So do the reads of a user who wrote in the last
`DATABASE_REPLICA_READ_YOUR_WRITES_SECONDS` (read-your-writes across requests: the replica
may be a moment behind), kept in the cache by ``ReadYourWritesMiddleware``.

A replica is health-checked before use, at most every `DATABASE_REPLICA_HEALTH_SECONDS`
per process: it must answer and be less than `DATABASE_REPLICA_MAX_LAG_SECONDS` behind.
A replica that fails (or fails in the middle of a page: ``replica_page`` runs the page
again on the primary) is left aside until the next check; going down and coming back are
logged once each, not on every request.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from functools import wraps
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, DatabaseError, InterfaceError, connections
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse

log = logging.getLogger("accord.replicas")

# The replica this request or task reads from; None: the primary.
_REPLICA: ContextVar[str | None] = ContextVar("accord_replica", default=None)
_health: dict[str, tuple[bool, float]] = {}  # alias -> (healthy, when checked), per process
_health_lock = threading.Lock()

# How far behind the primary a replica is, in seconds (0 when it has replayed all it has
# received: an idle primary sends nothing, and the last replay's age says nothing then).
_LAG_SQL = """
    SELECT CASE WHEN NOT pg_is_in_recovery() THEN 0
                WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
                ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0)
           END
"""
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
# A replica that went away: refused, dropped (OperationalError) or closed under us.
_GONE = (DatabaseError, InterfaceError)


class ReplicaRouter:
    """Reads inside ``replica_reads`` go to its replica, outside a transaction; the rest
    (and every write, migration and relation) is the primary's."""

    def db_for_read(self, model: Any, **hints: Any) -> str:
        return replica_current() or DEFAULT_DB_ALIAS

    def db_for_write(self, model: Any, **hints: Any) -> str:
        if _REPLICA.get() is not None:
            # From the first write on, this request or task reads its own writes.
            _REPLICA.set(None)
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:
        return True  # a replica holds the primary's rows: one database

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool:
        return db == DEFAULT_DB_ALIAS


def replica_current() -> str | None:
    """The replica the current reads go to, or None (the primary)."""
    alias = _REPLICA.get()
    if alias is None or connections[DEFAULT_DB_ALIAS].in_atomic_block:
        return None
    return alias


# --- health ---------------------------------------------------------------------------


def _cause(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _probe(alias: str) -> tuple[bool, str]:
    connection = connections[alias]
    try:
        with connection.cursor() as cursor:
            cursor.execute(_LAG_SQL)
            lag = float(cursor.fetchone()[0] or 0)
    except _GONE as exc:
        with suppress(*_GONE):
            connection.close()
        return False, _cause(exc)
    limit = settings.DATABASE_REPLICA_MAX_LAG_SECONDS
    if lag > limit:
        return False, f"{lag:.0f} s behind the primary (the limit is {limit} s)"
    return True, ""


def _record(alias: str, healthy: bool, reason: str) -> None:
    with _health_lock:
        before = _health.get(alias, (True, 0.0))[0]
        _health[alias] = (healthy, time.monotonic())
    if before and not healthy:
        log.warning("Replica %s is unavailable, reads go to the primary: %s", alias, reason)
    elif healthy and not before:
        log.warning("Replica %s is back, reads go to it again", alias)


def replica_healthy(alias: str, *, fresh: bool = False) -> bool:
    """Whether `alias` answers and is close enough behind; checked at most every
    DATABASE_REPLICA_HEALTH_SECONDS in this process unless `fresh`."""
    seen = _health.get(alias)
    if not fresh and seen is not None:
        healthy, when = seen
        if time.monotonic() - when < settings.DATABASE_REPLICA_HEALTH_SECONDS:
            return healthy
    healthy, reason = _probe(alias)
    _record(alias, healthy, reason)
    return healthy


def replica_health_forget() -> None:
    """Check every replica again at its next use (tests; a changed configuration)."""
    with _health_lock:
        _health.clear()


# --- choosing a replica ---------------------------------------------------------------


def primary_position() -> str | None:
    """The primary's current WAL position, for ``replica_reads(after=…)``; None without
    replicas (or with their reads turned off)."""
    if not settings.DATABASE_REPLICAS or not settings.DATABASE_REPLICA_READS:
        return None
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()::text")
        return cursor.fetchone()[0]


def _replayed(alias: str, position: str, *, wait: float) -> bool:
    """Whether the replica has replayed the primary's WAL up to `position`, waiting up to
    `wait` seconds for it."""
    deadline = time.monotonic() + wait
    while True:
        try:
            with connections[alias].cursor() as cursor:
                cursor.execute(
                    "SELECT COALESCE(pg_last_wal_replay_lsn() >= %s::pg_lsn, false)", [position]
                )
                if cursor.fetchone()[0]:
                    return True
        except _GONE as exc:
            _record(alias, False, _cause(exc))
            return False
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)


def replica_choose(*, after: str | None = None, wait: float = 2.0) -> str | None:
    """A healthy replica (at random among several), one that has replayed up to `after`
    when given; None when there is none and the reads stay on the primary."""
    if not settings.DATABASE_REPLICAS or not settings.DATABASE_REPLICA_READS:
        return None
    candidates = [alias for alias in settings.DATABASE_REPLICAS if replica_healthy(alias)]
    random.shuffle(candidates)
    for alias in candidates:
        if after is None or _replayed(alias, after, wait=wait):
            return alias
    return None


def _wrote_key(user_id: Any) -> str:
    return f"replicas:wrote:{user_id}"


def user_wrote_recently(user: Any) -> bool:
    """Whether `user` wrote within the read-your-writes window (their reads stay on the
    primary until it ends)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    return bool(cache.get(_wrote_key(user.pk)))


def user_wrote(user: Any) -> None:
    """Start `user`'s read-your-writes window."""
    window = settings.DATABASE_REPLICA_READ_YOUR_WRITES_SECONDS
    if window and getattr(user, "is_authenticated", False):
        cache.set(_wrote_key(user.pk), 1, timeout=window)


@contextmanager
def replica_reads(*, user: Any = None, after: str | None = None) -> Iterator[str | None]:
    """Send this block's reads to a replica (yielded; None: there is none to use and they
    stay on the primary). `user`: whose read-your-writes window applies; `after`: a
    primary WAL position (``primary_position``) the replica must have replayed."""
    alias = None if user_wrote_recently(user) else replica_choose(after=after)
    token = _REPLICA.set(alias)
    try:
        yield alias
    finally:
        _REPLICA.reset(token)


def _streamed_on(alias: str, chunks: Iterable[Any]) -> Iterator[Any]:
    """A streamed download's chunks, each produced with its reads on `alias`."""
    iterator = iter(chunks)
    while True:
        token = _REPLICA.set(alias)
        try:
            chunk = next(iterator)
        except StopIteration:
            return
        finally:
            _REPLICA.reset(token)
        yield chunk


def replica_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A read-only page or API answer (GET, HEAD) computed on a replica.

    When the replica fails during the page, the page is computed again on the primary
    (the replica is left aside until its next health check), so the user gets an answer.
    A streamed download reads its rows on the replica as well.
    """

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method not in SAFE_METHODS or not settings.DATABASE_REPLICAS:
            return view(request, *args, **kwargs)
        with replica_reads(user=getattr(request, "user", None)) as alias:
            if alias is not None:
                try:
                    response = view(request, *args, **kwargs)
                except _GONE:
                    if replica_healthy(alias, fresh=True):
                        raise  # the replica answers: the error is not its failure
                else:
                    if isinstance(response, StreamingHttpResponse) and _REPLICA.get() == alias:
                        response.streaming_content = _streamed_on(alias, response.streaming_content)
                    return response
        return view(request, *args, **kwargs)

    return wrapped


class ReadYourWritesMiddleware:
    """After a signed-in user's write (POST, PUT, PATCH, DELETE; a token's too: DRF sets
    the user on the request), that user's reads stay on the primary for the window."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.method not in SAFE_METHODS and settings.DATABASE_REPLICAS:
            user_wrote(getattr(request, "user", None))
        return response
