"""A bounded load run: gunicorn (2 workers) on the test database with the demo data, and
locust headless (20 users, mixed API and page reads and writes) must finish with 0 errors.

LOAD_SECONDS shortens the run locally (CI: 60). The stats table (requests/s, p50, p95 per
endpoint) is printed; run pytest with -s to see it. Figures are not asserted (bench/).
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.db import connection

from leads.models import Lead
from tests.conftest import need
from tests.foundation.test_infrastructure import _database_url_for_subprocess
from tests.processes import gunicorn_start, process_stop

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
USERS = 20
SECONDS = int(os.environ.get("LOAD_SECONDS", "60"))

pytestmark = pytest.mark.load


def _env(tmp_path: Path, redis_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": _database_url_for_subprocess(),
        "REDIS_URL": redis_url,  # a private broker: enqueued tasks go nowhere shared
        "DEBUG": "true",  # plain-HTTP session cookies; production settings have their own test
        "API_THROTTLE_ENABLED": "false",  # measure the app, not the rate limit
        "DB_CONN_MAX_AGE": "600",
        "ACCORD_VAR_DIR": str(tmp_path),
        "PYTHONUNBUFFERED": "1",
    }


def _credentials(*usernames: str) -> dict[str, dict[str, str]]:
    """A token and a session per demo user, made here: Argon2 checks of 40 logins would
    otherwise take most of a short run on a small CI machine."""
    from django.contrib.auth import get_user_model
    from django.test import Client
    from rest_framework.authtoken.models import Token

    made = {}
    for user in get_user_model().objects.filter(username__in=usernames):
        client = Client()
        client.force_login(user)
        token, _created = Token.objects.get_or_create(user=user)
        made[user.username] = {"token": token.key, "session": client.cookies["sessionid"].value}
    assert set(made) == set(usernames)
    return made


def _wait_healthy(base: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(base + "/healthz", timeout=5).read()
            return
        except OSError:
            if server.poll() is not None:
                break
            time.sleep(0.3)
    pytest.fail("gunicorn did not become healthy:\n" + log.read_text()[-3000:])


def _table(stats_csv: Path) -> tuple[str, dict[str, dict[str, str]]]:
    with stats_csv.open(newline="") as f:
        rows = {row["Name"]: row for row in csv.DictReader(f)}
    lines = [f"{'endpoint':<44} {'requests':>8} {'failed':>6} {'req/s':>7} {'p50 ms':>7} "
             f"{'p95 ms':>7}"]  # fmt: skip
    for name, row in rows.items():
        lines.append(
            f"{name:<44} {row['Request Count']:>8} {row['Failure Count']:>6} "
            f"{float(row['Requests/s']):>7.1f} {row['50%']:>7} {row['95%']:>7}"
        )
    return "\n".join(lines), rows


@pytest.mark.django_db(transaction=True)
def test_twenty_users_for_a_minute_of_mixed_reads_and_writes_get_no_errors(tmp_path, private_redis):
    need(connection.vendor == "postgresql", "the load run needs PostgreSQL (DATABASE_URL)")
    need((BIN / "gunicorn").exists() and (BIN / "locust").exists(), "gunicorn/locust missing")
    env = _env(tmp_path, private_redis.url)
    seeded = subprocess.run(
        [sys.executable, "manage.py", "seed_demo", "--leads", "150"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert seeded.returncode == 0, seeded.stderr[-3000:]
    leads_before = Lead.objects.count()
    env["LOAD_AUTH"] = json.dumps(_credentials("marketer", "salesmgr", "rep"))

    log = tmp_path / "gunicorn.log"
    base, server = gunicorn_start(env, log=log, workers=2, timeout=120)
    try:
        _wait_healthy(base, server, log)
        prefix = tmp_path / "load"
        run = subprocess.run(
            [str(BIN / "locust"), "-f", str(ROOT / "bench" / "locustfile_mixed.py"),
             "--headless", "-u", str(USERS), "-r", "10", "-t", f"{SECONDS}s", "-H", base,
             "--csv", str(prefix), "--only-summary", "--loglevel", "WARNING",
             "--stop-timeout", "10"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=SECONDS + 120,
        )  # fmt: skip
    finally:
        process_stop(server)

    table, rows = _table(Path(f"{prefix}_stats.csv"))
    print(f"\nload: {USERS} users, {SECONDS} s, gunicorn 2 workers\n{table}")
    failures = Path(f"{prefix}_failures.csv").read_text()
    total = rows["Aggregated"]
    assert int(total["Request Count"]) > USERS * 4, "the run made almost no requests"
    assert int(total["Failure Count"]) == 0, failures + run.stderr[-3000:] + log.read_text()[-3000:]
    assert run.returncode == 0, run.stderr[-3000:]
    for name in (
        "POST /api/v1/leads/",
        "POST /api/v1/leads/{id}/follow-ups/",
        "GET /leads/queue/ (page)",
        "GET /metrics/ (page)",
        "GET /leads/{id}/ (page)",
    ):
        assert int(rows[name]["Request Count"]) > 0, f"no {name} in the mix"  # fmt: skip
    # Each create was sent twice with one Idempotency-Key: one lead per key, none lost.
    # A create the server finished while locust was stopping may be missing from its
    # count (at most one per user), never the other way round.
    creates = int(rows["POST /api/v1/leads/"]["Request Count"])
    assert creates <= Lead.objects.count() - leads_before <= creates + USERS
