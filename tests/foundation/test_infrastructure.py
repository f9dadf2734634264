"""The real services: PostgreSQL and Redis in CI, and a real Celery worker process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from alignment.models import IdempotencyKey
from tests.conftest import IN_CI, need
from tests.factories import UserFactory
from tests.processes import process_stop

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(not IN_CI, reason="CI runs on PostgreSQL and Redis; a local run may use SQLite")
def test_ci_runs_on_postgresql_and_redis():
    assert settings.DATABASE_VENDOR == "postgresql", "CI=true but DATABASE_URL is not PostgreSQL"
    import redis

    assert settings.REDIS_URL, "CI=true but REDIS_URL is not set"
    assert redis.Redis.from_url(settings.REDIS_URL).ping()


def _database_url_for_subprocess() -> str:
    db = connection.settings_dict
    if connection.vendor == "postgresql":
        auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
        return f"postgres://{auth}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    return f"sqlite:///{db['NAME']}"


def _broker_reachable() -> bool:
    if not settings.REDIS_URL:
        return True  # the filesystem broker needs no server
    import redis

    try:
        return bool(redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2).ping())
    except redis.RedisError:
        return False


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_a_task_and_its_effect_is_in_the_database():
    need(_broker_reachable(), "the Celery broker (REDIS_URL) is not reachable")
    user = UserFactory()
    stale = IdempotencyKey.objects.create(
        user=user, key="old", method="POST", path="/x", body_hash="h"
    )
    IdempotencyKey.objects.filter(pk=stale.pk).update(created_at=timezone.now() - timedelta(days=3))
    fresh = IdempotencyKey.objects.create(
        user=user, key="new", method="POST", path="/x", body_hash="h"
    )

    queue = f"test-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "DATABASE_URL": _database_url_for_subprocess()}
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "-Q", queue,
         "--loglevel=INFO", "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        from alignment.tasks import purge_idempotency_keys

        purge_idempotency_keys.apply_async(queue=queue)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and IdempotencyKey.objects.filter(pk=stale.pk).exists():
            assert worker.poll() is None, f"worker exited early:\n{worker.stdout.read()}"
            time.sleep(0.5)
        assert not IdempotencyKey.objects.filter(pk=stale.pk).exists(), (
            "the worker did not run the task"
        )
        assert IdempotencyKey.objects.filter(pk=fresh.pk).exists()
    finally:
        process_stop(worker)
