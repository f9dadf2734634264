"""A run on PostgreSQL writes its batches in a thread of their own while it reads and plans
the next (leads.imports.importer._Pipeline, issue 21). The writes must be the ones the run
would make one batch after another: the same leads, results and records, whatever the
rows name across batches, and a failing batch ends the run with what was committed."""

from __future__ import annotations

import random
import sys
import threading
import time

import pytest
from django.db import connection, transaction

from alignment.agreement.services import agreement_create_default
from leads.imports import importer
from leads.imports.importer import lead_import
from leads.models import ImportedLead, ImportedRange, Lead, LeadImport, StageEvent
from leads.services import lead_create
from tests.conftest import need

pytestmark = pytest.mark.django_db(transaction=True)

TITLES = ["Engineer", "Head of Sales", "Director", ""]


def _pg() -> None:
    need(connection.vendor == "postgresql", "the pipeline is PostgreSQL's (two connections)")


def _rows(seed: int, prefix: str) -> list[dict[str, str]]:
    """Rows over a few keys, so that they name each other within and across batches: the
    same e-mail again, an external id whose e-mail changes, an e-mail a row takes over,
    and rows refused."""
    rng = random.Random(seed)
    emails = [f"{prefix}{n}@example.com" for n in range(5)]
    rows = []
    for _n in range(24):
        row = {"email": rng.choice(emails), "title": rng.choice(TITLES)}
        if rng.random() < 0.4:
            row["external_id"] = f"{prefix}-x{rng.randrange(3)}"
        if rng.random() < 0.1:
            row["email"] = ""  # refused: an e-mail is required
        if rng.random() < 0.1:
            row["email"] = row["email"].upper()
        rows.append(row)
    return rows


def _state(prefix: str) -> dict:
    leads = Lead.objects.filter(email__startswith=prefix)
    return {
        "leads": sorted(leads.values_list("email", "external_id", "title", "stage")),
        "events": sorted(
            StageEvent.objects.filter(lead__email__startswith=prefix).values_list(
                "lead__email", "to_stage"
            )
        ),
        "recorded": sorted(
            ImportedLead.objects.filter(lead__email__startswith=prefix).values_list(
                "lead__email", "created"
            )
        ),
        "created": sorted(
            lead.email
            for first, last in ImportedRange.objects.values_list("first_id", "last_id")
            for lead in leads.filter(pk__gte=first, pk__lte=last)
        ),
    }


def _results(result) -> list[tuple]:
    return [
        (r.row, r.status, [e["message"] for e in r.errors], Lead.objects.get(pk=r.id).email
         if r.id else None)
        for r in result.results
    ]  # fmt: skip


def _existing(prefix: str) -> None:
    lead_create(data={"email": f"{prefix}0@example.com", "external_id": f"{prefix}-x0"}, actor=None)
    lead_create(data={"email": f"{prefix}1@example.com", "title": "Director"}, actor=None)


@pytest.fixture
def slow_writes(monkeypatch):
    """Each batch's write takes a while, so the next batch is always planned while it runs
    (on this machine a small batch is written before the next is read)."""
    real = importer._plan_write

    def slow(plan, **kwargs):
        if threading.current_thread() is not threading.main_thread():
            time.sleep(0.05)
        return real(plan, **kwargs)

    monkeypatch.setattr(importer, "_plan_write", slow)


@pytest.mark.parametrize("seed", range(6))
def test_a_pipelined_run_writes_what_the_run_one_batch_after_another_writes(
    seed, marketer, slow_writes
):
    _pg()
    agreement_create_default()
    rows = _rows(seed, prefix=f"s{seed}-")
    prefix = f"s{seed}-"
    with transaction.atomic():  # inside a transaction: one batch after another
        _existing(prefix)
        serial = lead_import(rows=rows, user=marketer, batch_size=3)
        expected = (_results(serial), serial.counts(), _state(prefix))
        transaction.set_rollback(True)
    _existing(prefix)
    threads = set()
    real = importer._creation_write

    def seen(creation):
        threads.add(threading.current_thread().name)
        return real(creation)

    importer._creation_write = seen
    try:
        piped = lead_import(rows=rows, user=marketer, batch_size=3)
    finally:
        importer._creation_write = real
    assert any(name.startswith("import") for name in threads)  # written by the pipeline
    assert (_results(piped), piped.counts(), _state(prefix)) == expected
    record = LeadImport.objects.get(pk=piped.record.pk)
    assert record.status == LeadImport.Status.DONE
    assert record.total_rows == len(rows)


def test_a_batch_that_fails_ends_the_run_with_the_batches_committed_before_it(
    marketer, monkeypatch
):
    _pg()
    agreement_create_default()
    real = importer._creation_write
    calls = []

    def fails_second(creation):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("the disk is full")
        return real(creation)

    monkeypatch.setattr(importer, "_creation_write", fails_second)
    rows = [{"email": f"f{n}@example.com"} for n in range(9)]
    with pytest.raises(RuntimeError, match="the disk is full"):
        lead_import(rows=rows, user=marketer, batch_size=3)
    assert sorted(Lead.objects.values_list("email", flat=True)) == [
        "f0@example.com", "f1@example.com", "f2@example.com",
    ]  # fmt: skip
    record = LeadImport.objects.get()
    assert (record.status, record.total_rows, record.created_count) == ("failed", 3, 3)
    ranges = ImportedRange.objects.filter(run=record).values_list("first_id", "last_id")
    assert sum(last - first + 1 for first, last in ranges) == 3


def test_the_pipeline_leaves_no_connection_and_the_interpreter_as_it_found_it(marketer):
    _pg()
    agreement_create_default()

    def connections_open() -> int:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            )
            return cursor.fetchone()[0]

    before, interval = connections_open(), sys.getswitchinterval()
    result = lead_import(rows=[{"email": f"c{n}@example.com"} for n in range(7)], user=marketer,
                         batch_size=2)  # fmt: skip
    assert result.created == 7
    assert sys.getswitchinterval() == interval
    # The writer's backend leaves pg_stat_activity once the server has seen it close.
    deadline = time.monotonic() + 10
    while connections_open() > before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert connections_open() == before


def test_a_run_inside_the_callers_transaction_or_a_dry_run_is_not_pipelined(marketer):
    _pg()
    assert importer._pipelined(dry_run=False)
    assert not importer._pipelined(dry_run=True)
    with transaction.atomic():
        assert not importer._pipelined(dry_run=False)  # another connection would not see it
