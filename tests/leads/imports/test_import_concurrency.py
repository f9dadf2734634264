"""Two imports at once on SQLite through a sqlite:// DATABASE_URL: they queue, none fails.

A sqlite:// DATABASE_URL used to get Django's defaults (deferred transactions, a 5 s busy
timeout): two writers that both read before writing could not upgrade their locks and one
failed with "database is locked". It now gets the default database's options (WAL,
IMMEDIATE transactions, a 20 s timeout), so the second writer waits for the first.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from alignment.agreement.services import agreement_create_default
from leads.models import Lead, LeadImport

ROOT = Path(__file__).resolve().parents[3]
ROWS = 3000  # three batches each, so the two runs' transactions interleave


def _env(database_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        # Its own database: the run's replicas (.ci/run) mirror another.
        **{k: v for k, v in os.environ.items() if k != "DATABASE_REPLICA_URLS"},
        "DATABASE_URL": database_url,
        "ACCORD_VAR_DIR": str(tmp_path / "var"),
        "PYTHONUNBUFFERED": "1",
    }


def test_a_sqlite_database_url_gets_the_default_sqlite_options(tmp_path):
    script = (
        "import json, django; django.setup(); from django.conf import settings; "
        "print(json.dumps(settings.DATABASES['default']['OPTIONS']))"
    )
    for url in (f"sqlite:///{tmp_path}/accord.sqlite3", "sqlite:///:memory:"):
        out = subprocess.run(
            [sys.executable, "-c", script],
            cwd=ROOT,
            env={**_env(url, tmp_path), "DJANGO_SETTINGS_MODULE": "config.settings"},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert json.loads(out.strip().splitlines()[-1]) == settings.SQLITE_OPTIONS


@pytest.mark.django_db(transaction=True)
def test_two_imports_at_once_on_a_sqlite_url_both_finish(tmp_path):
    if connection.vendor != "sqlite":
        pytest.skip("this is SQLite's locking; the suite runs on PostgreSQL here")
    agreement_create_default()
    url = f"sqlite:///{connection.settings_dict['NAME']}"
    files = []
    for n in range(2):
        path = tmp_path / f"leads-{n}.csv"
        # Both files share their first 200 leads, so the runs also race for the same emails.
        lines = [f"shared{i}@example.com,Shared" for i in range(200)]
        lines += [f"run{n}-{i}@example.com,Own" for i in range(ROWS - 200)]
        path.write_text("email,first_name\n" + "\n".join(lines) + "\n")
        files.append(path)
    command = [sys.executable, "manage.py", "import_leads", "--no-progress"]
    runs = [
        subprocess.Popen(
            [*command, str(path)],
            cwd=ROOT,
            env=_env(url, tmp_path),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for path in files
    ]
    outputs = [run.communicate(timeout=600)[0] for run in runs]
    for run, output in zip(runs, outputs, strict=True):
        assert run.returncode == 0, output[-3000:]
        assert "database is locked" not in output
    assert Lead.objects.count() == 2 * (ROWS - 200) + 200
    assert sorted(LeadImport.objects.values_list("status", "total_rows")) == [
        ("done", ROWS), ("done", ROWS),
    ]  # fmt: skip
    created = sorted(LeadImport.objects.values_list("created_count", flat=True))
    assert sum(created) == 2 * (ROWS - 200) + 200  # each shared lead created once


@pytest.mark.django_db(transaction=True)
def test_a_batch_is_parsed_before_its_transaction_takes_the_write_lock(monkeypatch, marketer):
    """SQLite has one writer (IMMEDIATE: the lock at BEGIN). A batch that parsed inside its
    transaction held the lock almost the whole import, and a reminder or a rep's follow-up
    waited past its busy timeout; the parse now runs outside it, the write inside."""
    from leads.imports import importer

    agreement_create_default()
    seen: list[bool] = []
    real = importer.row_parse

    def parse(**kwargs):
        seen.append(connection.in_atomic_block)
        return real(**kwargs)

    monkeypatch.setattr(importer, "row_parse", parse)
    rows = [{"email": f"p{n}@example.com"} for n in range(5)]
    result = importer.lead_import(rows=rows, user=marketer, batch_size=2)
    assert result.created == 5
    assert seen == [False] * 5
