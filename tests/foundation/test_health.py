from __future__ import annotations

import time

import pytest
from django.db import connection
from django.test import Client


@pytest.mark.django_db
def test_healthz_reports_database_and_broker_without_a_login(client: Client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body | {"beat_last_heartbeat": None} == {
        "status": "ok",
        "database": "ok",
        "broker": "ok",
        "beat_last_heartbeat": None,
    }


@pytest.mark.django_db
def test_healthz_shows_when_beat_last_ran(client: Client):
    from alignment.tasks import beat_heartbeat

    beat_heartbeat.apply()
    assert client.get("/healthz").json()["beat_last_heartbeat"]


@pytest.mark.django_db
def test_healthz_says_degraded_with_503_when_the_broker_is_down(client: Client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["broker"] == "down"
    assert response.json()["database"] == "ok"


def _read_only(on: bool) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"SET default_transaction_read_only = {'on' if on else 'off'}")
        else:
            cursor.execute(f"PRAGMA query_only = {'ON' if on else 'OFF'}")


@pytest.mark.django_db(transaction=True)
def test_healthz_says_the_database_is_down_when_it_is_read_only(client: Client):
    """SELECT 1 still works on a read-only database; every page that writes fails."""
    _read_only(True)
    try:
        response = client.get("/healthz")
    finally:
        _read_only(False)
    assert response.status_code == 503
    assert response.json() | {"beat_last_heartbeat": None} == {
        "status": "degraded",
        "database": "down",
        "broker": "ok",
        "beat_last_heartbeat": None,
    }
    assert client.get("/healthz").status_code == 200  # the check itself changed nothing


@pytest.mark.django_db(transaction=True)
def test_healthz_says_the_database_is_down_while_a_writer_holds_the_lock(client: Client):
    """A stuck writer: reads go on (WAL; MVCC), every write waits and then fails."""
    if connection.vendor == "postgresql":
        import psycopg2

        params = connection.get_connection_params()
        holder = psycopg2.connect(**params)
        holder.cursor().execute("LOCK TABLE django_migrations IN EXCLUSIVE MODE")
    else:
        import sqlite3

        holder = sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        response = client.get("/healthz")
        elapsed = time.monotonic() - started
    finally:
        holder.rollback()
        holder.close()
    assert response.status_code == 503
    assert response.json()["database"] == "down"
    assert elapsed < 10  # a bounded wait, not the 20 s busy timeout
    assert client.get("/healthz").status_code == 200


@pytest.mark.django_db
def test_healthz_rolls_its_write_back(client: Client):
    from django.db.migrations.recorder import MigrationRecorder

    before = list(MigrationRecorder.Migration.objects.order_by("id").values_list())
    assert client.get("/healthz").status_code == 200
    assert list(MigrationRecorder.Migration.objects.order_by("id").values_list()) == before


@pytest.mark.django_db
def test_healthz_says_the_broker_is_down_when_its_folder_takes_no_file(
    client: Client, settings, tmp_path
):
    settings.REDIS_URL = None  # the filesystem broker of a deployment without Redis
    # A file where the queue folder should be: as after a volume was not mounted.
    blocked = tmp_path / "queue"
    blocked.write_text("")
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"data_folder_in": str(blocked)}
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["broker"] == "down"
