"""/healthz: is the database reachable, is the Celery broker reachable."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except Exception:  # any failure at all means "down"
        return False


def _broker_ok() -> bool:
    if settings.REDIS_URL:
        import redis

        try:
            client = redis.Redis.from_url(
                settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1
            )
            return bool(client.ping())
        except redis.RedisError:
            return False
    folder = Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"])
    return folder.is_dir()


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
