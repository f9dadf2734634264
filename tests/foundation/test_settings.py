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
