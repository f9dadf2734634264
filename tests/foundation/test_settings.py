from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_int, env_time_zone, env_url

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("raw", ["maybe", "2", "yes please"])
def test_booleans_refuse_anything_but_a_boolean(raw):
    with pytest.raises(ImproperlyConfigured, match="DEBUG"):
        env_bool("DEBUG", False, environ={"DEBUG": raw})


def test_booleans_accept_the_usual_spellings():
    assert env_bool("X", False, environ={"X": "On"}) is True
    assert env_bool("X", True, environ={"X": "0"}) is False
    assert env_bool("X", True, environ={}) is True


def test_integers_refuse_words_and_values_below_the_minimum():
    with pytest.raises(ImproperlyConfigured, match="whole number"):
        env_int("PORT", 1, environ={"PORT": "eighty"})
    with pytest.raises(ImproperlyConfigured, match="minimum"):
        env_int("PORT", 1, minimum=1, environ={"PORT": "0"})


def test_urls_must_have_a_known_scheme():
    with pytest.raises(ImproperlyConfigured, match="DATABASE_URL"):
        env_url("DATABASE_URL", {"postgres"}, environ={"DATABASE_URL": "mysql://db/x"})
    assert env_url("DATABASE_URL", {"postgres"}, environ={}) is None


def test_time_zones_must_exist():
    with pytest.raises(ImproperlyConfigured, match="time zone"):
        env_time_zone("TIME_ZONE", "UTC", environ={"TIME_ZONE": "Mars/Olympus"})
    assert (
        env_time_zone("TIME_ZONE", "UTC", environ={"TIME_ZONE": "Asia/Jakarta"}) == "Asia/Jakarta"
    )


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    environ = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DEBUG", "SECRET_KEY", "DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    }
    environ.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )


PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "x" * 20 + "production-secret-key-for-the-deploy-check-0123456789",
    "ALLOWED_HOSTS": "accord.example.com",
}


def test_settings_refuse_to_start_without_a_secret_key_when_debug_is_off():
    result = _manage("check", DEBUG="false")
    assert result.returncode != 0
    assert "SECRET_KEY is required" in result.stderr


def test_settings_refuse_a_bad_debug_value():
    result = _manage("check", DEBUG="perhaps")
    assert result.returncode != 0
    assert "is not a boolean" in result.stderr


def test_deploy_check_is_clean_under_production_settings():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr


def test_seed_demo_refuses_to_run_in_production():
    result = _manage("seed_demo", **PRODUCTION)
    assert result.returncode != 0
    assert "refuses to run with DEBUG off" in result.stderr


@pytest.mark.django_db
def test_migrations_are_complete():
    from django.core.management import call_command

    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


def _settings_json(expression: str, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DATABASE_")}
    environ.update(env, DJANGO_SETTINGS_MODULE="config.settings")
    script = (
        "import json, django; django.setup(); from django.conf import settings; "
        f"print(json.dumps({expression}, default=str))"
    )
    return subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=environ, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip


def test_each_replica_url_is_an_alias_the_router_reads_from():
    import json

    done = _settings_json(
        "[settings.DATABASE_REPLICAS, settings.DATABASE_ROUTERS, "
        "{a: settings.DATABASES[a] for a in settings.DATABASE_REPLICAS}]",
        DATABASE_URL="postgres://accord@db.example.com:5432/accord",
        DATABASE_REPLICA_URLS="postgres://accord@r1.example.com:5432/accord, "
        "postgres://accord@r2.example.com:6432/accord",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    aliases, routers, databases = json.loads(done.stdout.strip().splitlines()[-1])
    assert aliases == ["replica_1", "replica_2"]
    assert routers == ["config.replicas.ReplicaRouter"]
    assert databases["replica_2"]["HOST"] == "r2.example.com"
    assert databases["replica_2"]["PORT"] == 6432
    assert databases["replica_1"]["TEST"]["MIRROR"] == "default"  # never created in tests
    assert databases["replica_1"]["OPTIONS"]["connect_timeout"] == 2
    assert databases["replica_1"]["OPTIONS"]["options"] == "-c jit=off"  # as the primary


def test_without_replica_urls_there_is_no_router():
    done = _settings_json("[settings.DATABASE_REPLICAS, settings.DATABASE_ROUTERS]")
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[[], []]"


@pytest.mark.parametrize(
    ("primary", "replica", "message"),
    [
        ("", "postgres://accord@r1.example.com/accord", "needs a PostgreSQL DATABASE_URL"),
        (
            "postgres://accord@db.example.com/accord",
            "mysql://accord@r1.example.com/accord",
            "replica 1 is not a postgres:// URL",
        ),
    ],
)
def test_bad_replica_urls_stop_accord_with_a_message(primary, replica, message):
    env = {"DATABASE_REPLICA_URLS": replica}
    if primary:
        env["DATABASE_URL"] = primary
    done = _settings_json("settings.DATABASE_REPLICAS", **env)
    assert done.returncode != 0
    assert message in done.stderr
