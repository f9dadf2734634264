from __future__ import annotations

import pytest
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
