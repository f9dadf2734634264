"""Stateless web (issue "Beyond one machine"): any web process answers any request.

Two gunicorn servers, each with a local folder of its own (ACCORD_VAR_DIR), share only
what docker-compose's web containers share: PostgreSQL (sessions too), Redis (cache, rate
limits, broker) and the media storage. A person is sent to one and then the other, as a
round-robin proxy in front of `docker compose up --scale web=2` would: the sign-in made on
one holds on the other, a form's CSRF token from one is taken by the other, and a file
uploaded to one is read by the other.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from itertools import cycle
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from alignment.accounts.roles import Role
from alignment.agreement.services import agreement_create_default
from tests.conftest import FACTORY_PASSWORD, need
from tests.factories import UserFactory
from tests.foundation.test_infrastructure import _database_url_for_subprocess
from tests.processes import gunicorn_start, process_stop
from tests.reliability.test_load import _wait_healthy

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def _start(tmp_path: Path, name: str, media: Path) -> tuple[str, subprocess.Popen, Path]:
    var = tmp_path / name
    var.mkdir()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": _database_url_for_subprocess(),
        "ACCORD_VAR_DIR": str(var),  # its own local disk
        "MEDIA_ROOT": str(media),  # the shared media volume
        "DEBUG": "true",  # plain-HTTP cookies
        "PYTHONUNBUFFERED": "1",
    }
    log = tmp_path / f"{name}.log"
    base, server = gunicorn_start(env, log=log, workers=1)
    return base, server, log


@pytest.mark.django_db(transaction=True)
def test_two_web_processes_serve_one_person_in_turn(tmp_path):
    import requests
    from django.contrib.auth.hashers import PBKDF2PasswordHasher

    need(connection.vendor == "postgresql", "the web processes share PostgreSQL (DATABASE_URL)")
    need(bool(settings.REDIS_URL), "the web processes share Redis (REDIS_URL)")
    need((BIN / "gunicorn").exists(), "gunicorn is not installed")
    agreement_create_default()
    person = UserFactory(username="mkt-stateless", role=Role.MARKETER)
    # A hash the servers check (the tests' own MD5 is not in their PASSWORD_HASHERS).
    hasher = PBKDF2PasswordHasher()
    person.password = hasher.encode(FACTORY_PASSWORD, hasher.salt())
    person.save(update_fields=["password"])
    media = tmp_path / "media"
    media.mkdir()
    servers = [_start(tmp_path, name, media) for name in ("web1", "web2")]
    try:
        for base, server, log in servers:
            _wait_healthy(base, server, log)
        turn = cycle(base for base, _server, _log in servers)
        browser = requests.Session()

        # The sign-in form from one, posted to the other; the session holds on both.
        login_page = browser.get(next(turn) + "/login/", timeout=30)
        token = _CSRF.search(login_page.text).group(1)
        where = next(turn)
        signed_in = browser.post(
            where + "/login/",
            data={"username": "mkt-stateless", "password": FACTORY_PASSWORD,
                  "csrfmiddlewaretoken": token},
            headers={"Referer": where + "/login/"}, allow_redirects=False, timeout=30,
        )  # fmt: skip
        assert signed_in.status_code == 302, signed_in.text[:2000]
        for _ in range(2):
            home = browser.get(next(turn) + "/leads/", allow_redirects=False, timeout=30)
            assert home.status_code == 200, home.status_code

        # A file uploaded to one is mapped on the other (the session says which file).
        upload_page = browser.get(next(turn) + "/leads/import/", timeout=30)
        token = _CSRF.search(upload_page.text).group(1)
        where = next(turn)
        uploaded = browser.post(
            where + "/leads/import/",
            data={"csrfmiddlewaretoken": token},
            files={"file": ("people.csv", b"email,company_name\nann@example.com,Stateless Co\n",
                            "text/csv")},
            headers={"Referer": where + "/leads/import/"}, allow_redirects=False, timeout=30,
        )  # fmt: skip
        assert uploaded.status_code == 302, uploaded.text[:2000]
        mapping = browser.get(next(turn) + uploaded.headers["Location"], timeout=30)
        assert mapping.status_code == 200
        assert "company_name" in mapping.text
        assert "Upload a file to start an import" not in mapping.text
        # Nothing of it is on either server's own disk: only in the shared media folder.
        assert list(media.rglob("*.csv"))
        for name in ("web1", "web2"):
            assert not list((tmp_path / name).rglob("*.csv"))
    finally:
        for _base, server, _log in servers:
            process_stop(server)


def test_docker_compose_scales_web_behind_one_proxy():
    import yaml

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    web = services["web"]
    # No host port of its own (two replicas could not both bind it); the proxy has it.
    assert "ports" not in web and web["expose"] == ["8000"]
    assert services["proxy"]["ports"] == ["8000:8000"]
    proxy_conf = compose["configs"]["proxy"]["content"]
    assert "resolver 127.0.0.11" in proxy_conf and "http://web:8000" in proxy_conf
    # Migrations run once, before any web replica starts, never in each of them.
    assert "migrate" not in web["command"]
    assert "migrate" in services["migrate"]["command"]
    assert web["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    # Uploads go to one volume every web and worker container mounts.
    for name, service in services.items():
        if name.startswith(("web", "worker")):
            assert "media:/app/var/media" in service["volumes"], name
