"""Queues per kind of work (config/celery.py): imports, metrics and webhooks each have a
queue, everything people wait for is `interactive`; docker-compose runs a worker per
queue; with real workers, a due reminder is delivered while a long import runs."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from alignment.models import Notification, StageKey
from config.celery import QUEUE_OF, app, task_route
from leads.models import Lead, LeadImport
from tests.conftest import need
from tests.foundation.test_infrastructure import _broker_reachable, _database_url_for_subprocess
from tests.leads.conftest import make_lead

ROOT = Path(__file__).resolve().parents[2]


def _queue(name: str) -> str:
    route = app.amqp.router.route({}, name, (), {})
    return route["queue"].name


def test_each_kind_of_work_goes_to_its_queue():
    app.loader.import_default_modules()  # every task registered, as in a worker
    expected = {
        "leads.tasks.import_leads_file": "imports",
        "metrics.tasks.compute_weekly_scorecards": "metrics",
        "metrics.tasks.refresh_rollups": "metrics",
        "alignment.tasks.rescore_all_leads": "metrics",
        "alignment.tasks.deliver_webhook": "webhooks",
        "alignment.tasks.sweep_webhook_deliveries": "webhooks",
        "alignment.tasks.send_handoff_alerts": "interactive",
        "leads.tasks.check_slas": "interactive",
        "leads.tasks.send_agenda_digests": "interactive",
        "alignment.tasks.beat_heartbeat": "interactive",
    }
    for name, queue in expected.items():
        assert name in app.tasks, name
        assert _queue(name) == queue, name
    ours = [
        n for n in app.tasks if n.split(".")[0] in {"alignment", "leads", "metrics", "campaigns"}
    ]
    assert {_queue(n) for n in ours} == set(settings.ACCORD_QUEUES)
    assert set(QUEUE_OF) <= set(ours)  # no route for a task that no longer exists
    for entry in app.conf.beat_schedule.values():  # beat publishes through the same routes
        assert _queue(entry["task"]) in settings.ACCORD_QUEUES
    # A worker started without -Q (make run) takes every queue; each is bound by its own
    # key to its own exchange, so a message lands in one queue only.
    queues = app.conf.task_queues
    assert [q.name for q in queues] == list(settings.ACCORD_QUEUES)
    assert [(q.exchange.name, q.routing_key) for q in queues] == [(q.name, q.name) for q in queues]
    queue = app.amqp.router.route({}, "leads.tasks.import_leads_file", (), {})["queue"]
    assert (queue.exchange.name, queue.routing_key) == ("imports", "imports")


def test_a_queue_given_to_apply_async_wins_and_a_prefix_keeps_test_runs_apart(settings):
    settings.CELERY_QUEUE_PREFIX = "t1-"
    assert task_route("leads.tasks.import_leads_file", (), {}, {}) == {"queue": "t1-imports"}
    assert _queue("leads.tasks.check_slas") == "t1-interactive"
    route = app.amqp.router.route({"queue": "private"}, "leads.tasks.check_slas", (), {})
    assert route["queue"].name == "private"


def test_docker_compose_runs_a_worker_per_queue_and_one_beat():
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    consumed: list[str] = []
    for service in services.values():
        command = service.get("command", "")
        if " worker " in f" {command} ":
            words = command.split()
            consumed += words[words.index("-Q") + 1].split(",")
    assert sorted(consumed) == sorted(settings.ACCORD_QUEUES)
    beats = [n for n, s in services.items() if " beat " in f" {s.get('command', '')} "]
    assert beats == ["beat"]


class _Worker:
    """A real worker on one queue, its output read as it comes (to know when it is ready)."""

    def __init__(self, queue: str, prefix: str) -> None:
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "-Q",
             queue, "--loglevel=INFO", "--without-gossip", "--without-mingle",
             "--without-heartbeat"],
            cwd=ROOT,
            env={**os.environ, "DATABASE_URL": _database_url_for_subprocess(),
                 "CELERY_QUEUE_PREFIX": prefix},
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    def wait_until(self, condition, *, seconds: float, what: str) -> None:
        deadline = time.monotonic() + seconds
        while not condition():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                pytest.fail(f"no {what}; the worker said:\n{''.join(self.lines)[-3000:]}")
            time.sleep(0.2)

    def ready(self) -> bool:
        return any(" ready." in line for line in self.lines)

    def kill(self) -> None:  # not a warm shutdown: that would finish the long import first
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_due_reminder_is_delivered_while_a_long_import_runs_on_its_own_queue(
    settings, active_agreement, marketer, rep, api_client
):
    need(_broker_reachable(), "the Celery broker (REDIS_URL) is not reachable")
    prefix = f"t{uuid.uuid4().hex[:8]}-"
    settings.CELERY_QUEUE_PREFIX = prefix  # this test's own queues, whatever else runs
    imports, interactive = (
        _Worker(prefix + "imports", prefix),
        _Worker(prefix + "interactive", prefix),
    )
    try:
        for worker in (imports, interactive):
            worker.wait_until(worker.ready, seconds=120, what="worker ready")
        client = api_client(marketer)
        rows = b"email,first_name\n" + b"".join(b"q%d@example.com,Q\n" % n for n in range(60_000))
        upload = SimpleUploadedFile("long.csv", rows)
        response = client.post("/api/v1/leads/import/", {"file": upload}, format="multipart")
        assert response.status_code == 202, response.content[:300]
        run = LeadImport.objects.get()
        imports.wait_until(
            LeadImport.objects.filter(pk=run.pk, status="running", total_rows__gte=500).exists,
            seconds=120, what="import running",
        )  # fmt: skip

        # A planned follow-up falls due now: its reminder goes out on the interactive queue.
        lead = make_lead(email="due@example.com", stage=StageKey.SAL, owner=rep)
        Lead.objects.filter(pk=lead.pk).update(
            next_follow_up_at=timezone.now() - timedelta(minutes=1)
        )
        from alignment.tasks import send_handoff_alerts

        send_handoff_alerts.delay()
        interactive.wait_until(
            Notification.objects.filter(recipient=rep, event="follow_up.due").exists,
            seconds=60, what="reminder",
        )  # fmt: skip
        run.refresh_from_db()
        assert run.status == "running" and run.total_rows < 60_000  # the import still runs
    finally:
        imports.kill()
        interactive.kill()
