"""/healthz: can the database and the Celery broker take a write right now.

A database that answers SELECT 1 but refuses writes (read-only after a failover, a full
disk, a lock held by a stuck writer) fails every page that saves a session, so the check
writes: it updates one row of the migrations table (always there) inside a transaction it
rolls back, and waits for a lock at most HEALTH_CHECK_TIMEOUT_MS. The broker likewise:
Redis must store a key (a replica or a full disk refuses), the filesystem broker's queue
folder must take a file. A failing part answers 503 and is named "down"; the cause goes
to the log, not to the anonymous caller.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.cache import cache
from django.db import connection, transaction
from django.db.migrations.recorder import MigrationRecorder
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache

log = logging.getLogger("accord.health")

HEALTH_CHECK_TIMEOUT_MS = 2000


@contextmanager
def _short_lock_wait() -> Iterator[None]:
    """SQLite waits for a lock up to the connection's busy timeout (20 s in settings):
    shortened for the check, then restored. PostgreSQL: SET LOCAL inside the check's
    transaction (undone by its rollback)."""
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA busy_timeout")
        previous = int(cursor.fetchone()[0])
        cursor.execute(f"PRAGMA busy_timeout = {HEALTH_CHECK_TIMEOUT_MS:d}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA busy_timeout = {previous:d}")


def _database_ok() -> bool:
    table = connection.ops.quote_name(MigrationRecorder.Migration._meta.db_table)
    try:
        with _short_lock_wait(), transaction.atomic():
            with connection.cursor() as cursor:
                if connection.vendor == "postgresql":
                    cursor.execute(
                        "SET LOCAL lock_timeout = %s; SET LOCAL statement_timeout = %s",
                        [HEALTH_CHECK_TIMEOUT_MS, HEALTH_CHECK_TIMEOUT_MS * 2],
                    )
                cursor.execute(
                    f"UPDATE {table} SET applied = applied WHERE id = (SELECT MIN(id) FROM {table})"
                )
                wrote = cursor.rowcount == 1
            transaction.set_rollback(True)
        if not wrote:
            log.warning("health: the database took no write (no migration row to update)")
        return wrote
    except Exception as error:  # any failure at all means "down"
        log.warning("health: the database refused a write: %s", error)
        return False


def _broker_ok() -> bool:
    if settings.REDIS_URL:
        import redis

        try:
            client = redis.Redis.from_url(
                settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1
            )
            return bool(client.set("accord:healthz", "1", ex=60))
        except redis.RedisError as error:
            log.warning("health: the broker (Redis) refused a write: %s", error)
            return False
    folder = Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"])
    try:
        # A dot file: kombu's filesystem transport reads only "*.<queue>.msg".
        handle, name = tempfile.mkstemp(prefix=".healthz-", dir=folder)
        os.close(handle)
        os.unlink(name)
    except OSError as error:
        log.warning("health: the broker folder refused a write: %s", error)
        return False
    return True


BEAT_HEARTBEAT_KEY = "accord:beat:last-heartbeat"


def beat_heartbeat_record() -> None:
    from django.utils import timezone

    cache.set(BEAT_HEARTBEAT_KEY, timezone.now().isoformat(), timeout=24 * 3600)


@login_not_required
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    checks = {"database": _database_ok(), "broker": _broker_ok()}
    healthy = all(checks.values())
    body = {"status": "ok" if healthy else "degraded"} | {
        name: "ok" if ok else "down" for name, ok in checks.items()
    }
    body["beat_last_heartbeat"] = cache.get(BEAT_HEARTBEAT_KEY)
    return JsonResponse(body, status=200 if healthy else 503)
