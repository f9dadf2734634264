"""The OpenAPI schema and docs: public with API_DOCS_PUBLIC (development), else signed in."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token

pytestmark = pytest.mark.django_db


def test_without_public_docs_anonymous_callers_get_401_and_the_login_page(settings, client):
    settings.API_DOCS_PUBLIC = False
    schema = client.get("/api/schema/")
    assert schema.status_code == 401
    assert "openapi" not in schema.content.decode()
    for path in ("/api/docs/", "/api/docs/?script="):
        docs = client.get(path)
        assert docs.status_code == 302, path
        assert docs["Location"].startswith("/login/?next=/api/docs/")


def test_without_public_docs_a_session_or_a_token_reads_them(settings, client, rep):
    settings.API_DOCS_PUBLIC = False
    token = Client(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=rep).key}")
    assert token.get("/api/schema/").status_code == 200
    client.force_login(rep)
    assert client.get("/api/schema/").status_code == 200
    page = client.get("/api/docs/")
    assert page.status_code == 200
    assert "swagger-ui" in page.content.decode()
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "/api/schema/" in script.content.decode()


def test_with_public_docs_anyone_reads_them(settings, client):
    settings.API_DOCS_PUBLIC = True
    assert client.get("/api/schema/").status_code == 200
    assert client.get("/api/docs/").status_code == 200


def _setting_at_startup(name: str, **env: str) -> str:
    """A setting as a fresh process reads it from this environment."""
    environ = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "API_DOCS_PUBLIC"}}
    environ |= {"DJANGO_SETTINGS_MODULE": "config.settings", **env}
    code = f"import django; django.setup(); from django.conf import settings as s; print(s.{name})"
    run = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parents[2],
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return run.stdout.strip().splitlines()[-1]


def test_the_docs_are_public_by_default_only_in_development():
    production = {"DEBUG": "false", "SECRET_KEY": "k" * 64, "ALLOWED_HOSTS": "accord.example"}
    assert _setting_at_startup("API_DOCS_PUBLIC", **production) == "False"
    assert _setting_at_startup("API_DOCS_PUBLIC", DEBUG="true") == "True"
    assert _setting_at_startup("API_DOCS_PUBLIC", API_DOCS_PUBLIC="true", **production) == "True"
