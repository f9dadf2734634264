"""A worker SIGKILLed mid-scorecard: after a new worker starts, each scorecard exists once.

The task is acks_late (and reject_on_worker_lost), so the broker keeps the message until a
worker finishes it; Redis redelivers it after the visibility timeout, made short here.
SCORECARD_STEP_DELAY_MS slows the run so the kill lands in the middle of it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
from django.conf import settings

from alignment.agreement.services import agreement_create_default
from metrics.models import Scorecard
from metrics.reporting.services import TRAILING_WEEKS
from tests.conftest import need
from tests.factories import LeadFactory, TerritoryFactory
from tests.foundation.test_infrastructure import _broker_reachable, _database_url_for_subprocess
from tests.processes import process_stop

ROOT = Path(__file__).resolve().parents[2]
WEEK = date(2026, 3, 2)
VISIBILITY_SECONDS = 4

pytestmark = [pytest.mark.faults, pytest.mark.worker]


def _worker(queue: str, *, delay_ms: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": _database_url_for_subprocess(),
        "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_SECONDS),
        "SCORECARD_STEP_DELAY_MS": str(delay_ms),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "-Q", queue,
         "--loglevel=INFO", "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def _stop(worker: subprocess.Popen) -> str:
    if worker.poll() is None:
        process_stop(worker)
    return worker.stdout.read() if worker.stdout else ""


def _wait_for(condition, *, seconds: float, worker: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        if worker.poll() is not None:
            pytest.fail(f"worker exited while waiting for {what}:\n{_stop(worker)}")
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}:\n{_stop(worker)}")


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_scorecard_leaves_each_weeks_scorecard_exactly_once():
    need(settings.REDIS_URL is not None, "REDIS_URL is not set (acks_late redelivery needs Redis)")
    need(_broker_reachable(), "the Celery broker (REDIS_URL) is not reachable")
    agreement_create_default()
    territories = [TerritoryFactory(code=f"k{n}") for n in range(2)]
    for n in range(6):
        LeadFactory(email=f"kill{n}@example.com", territory=territories[n % 2])
    expected_rows = (TRAILING_WEEKS + 1) * (len(territories) + 1)

    queue = f"kill-{uuid.uuid4().hex[:8]}"
    first = _worker(queue, delay_ms=400)
    second = None
    try:
        from metrics.tasks import compute_weekly_scorecards

        compute_weekly_scorecards.apply_async(args=[WEEK.isoformat()], queue=queue)
        _wait_for(
            lambda: Scorecard.objects.count() >= 2, seconds=90, worker=first, what="a first row"
        )
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        killed_at = Scorecard.objects.count()
        assert killed_at < expected_rows, "the run finished before the kill: not a mid-task kill"

        # The visibility timeout must pass before Redis hands the unacked task out again.
        time.sleep(VISIBILITY_SECONDS + 1)
        second = _worker(queue, delay_ms=0)
        _wait_for(
            lambda: Scorecard.objects.count() >= expected_rows,
            seconds=120,
            worker=second,
            what="the redelivered task to finish",
        )
        time.sleep(1)  # a duplicate, were there one, would show up now
    finally:
        _stop(first)
        if second is not None:
            _stop(second)

    keys = Counter(Scorecard.objects.values_list("week_start", "territory_id"))
    assert len(keys) == expected_rows
    assert set(keys.values()) == {1}, [k for k, n in keys.items() if n > 1]
    assert {territory for _week, territory in keys} == {None, *(t.pk for t in territories)}
