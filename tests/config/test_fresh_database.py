"""A fresh installation is usable, and nothing unconfigured is a server error.

`migrate` alone installs the default agreement (alignment 0008), so after `migrate` and
`createsuperuser` leads can be created through the API and every endpoint answers. Tests
otherwise start without an agreement (tests/conftest.py removes the installed one): here
that is the point, a page then answers 503 and the API 409, with the reason.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client
from drf_spectacular.generators import SchemaGenerator
from rest_framework.authtoken.models import Token

from alignment.models import Agreement, StageKey
from leads.models import FollowUp, Lead
from tests.factories import LeadFactory, UserFactory
from tests.urlwalk import api_walk, page_urls

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", is_superuser=True, is_staff=True)


def token_client(user) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")


def test_without_an_agreement_no_endpoint_answers_a_server_error(superuser):
    assert not Agreement.objects.exists()
    schema = SchemaGenerator().get_schema(request=None, public=True)
    assert api_walk(token_client(superuser), schema) == {}


def test_without_an_agreement_creating_a_lead_is_409_with_the_reason(superuser):
    response = token_client(superuser).post(
        "/api/v1/leads/", {"email": "ada@example.com"}, content_type="application/json"
    )
    assert response.status_code == 409
    assert "No agreement is active" in response.json()["detail"]
    assert not Lead.objects.exists()


def test_without_an_agreement_no_page_answers_a_server_error(superuser):
    client = Client()
    client.force_login(superuser)
    failures = {}
    for name, path in page_urls():
        if name == "logout":
            continue
        for method in ("get", "post"):
            try:
                status = getattr(client, method)(path).status_code
            except Exception as exc:  # the view's crash, re-raised by the test client
                failures[f"{method.upper()} {path}"] = repr(exc)
                continue
            if status >= 500:
                failures[f"{method.upper()} {path}"] = str(status)
    assert failures == {}


def test_without_an_agreement_a_follow_up_page_answers_503_with_the_reason(client, rep):
    lead = LeadFactory(owner=rep, stage=StageKey.MQL)
    client.force_login(rep)
    response = client.post(
        f"/leads/{lead.pk}/follow-ups/", {"kind": "call", "outcome": "connected"}
    )
    assert response.status_code == 503
    assert "No agreement is active" in response.content.decode()
    assert not FollowUp.objects.exists()


def fresh_database_walk() -> dict:
    """Run inside a process whose database only `migrate` and `createsuperuser` touched."""
    from config.celery import app

    app.conf.broker_url = "memory://"  # queued work stays here: no worker, no delivery
    admin = Token.objects.create(user=UserFactory._meta.model.objects.get(username="admin"))
    client = Client(HTTP_AUTHORIZATION=f"Token {admin.key}")
    created = client.post(
        "/api/v1/leads/", {"email": "ada@example.com"}, content_type="application/json"
    )
    stages = client.get("/api/v1/stages/").json()
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return {
        "agreements": list(Agreement.objects.values_list("version", "status", "title")),
        "lead_created": created.status_code,
        "stages": [stage["name"] for stage in stages.get("results", stages)],
        "failures": api_walk(client, schema),
    }


def test_migrate_alone_leaves_a_usable_installation_in_the_deployments_language(tmp_path):
    environ = {
        key: value
        for key, value in os.environ.items()
        if key
        not in {
            "DATABASE_URL",
            "DATABASE_REPLICA_URLS",
            "REDIS_URL",
            "DEBUG",
            "SECRET_KEY",
            "ACCORD_TEST_DB",
        }
    }
    environ |= {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.sqlite3'}",
        "LANGUAGE_CODE": "pl",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_SUPERUSER_PASSWORD": "a-long-fresh-password-1",
    }

    def run(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, *args], cwd=ROOT, env=environ, capture_output=True, text=True,
            timeout=300, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        return done.stdout

    run("manage.py", "migrate", "--noinput")
    run("manage.py", "createsuperuser", "--noinput", "--username", "admin",
        "--email", "admin@example.com")  # fmt: skip
    script = (
        "import django, json; django.setup(); "
        "from tests.config.test_fresh_database import fresh_database_walk; "
        "print('RESULT' + json.dumps(fresh_database_walk()))"
    )
    output = run("-c", script)
    result = json.loads(output.rpartition("RESULT")[2])

    assert result["agreements"] == [[1, "active", "Domyślny lejek popytu"]]
    assert result["lead_created"] == 201
    assert result["stages"][:2] == ["Zapytanie", "Lead zakwalifikowany przez marketing"]
    assert result["failures"] == {}
