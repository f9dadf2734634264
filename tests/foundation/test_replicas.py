"""Read replicas (issue "Beyond one machine"): config.replicas with a real streaming replica.

.ci/run starts a streaming replica of its PostgreSQL (`pg_basebackup -R`) and sets
DATABASE_REPLICA_URLS; there the `replica` fixture points the replica alias at it (the
test runner made it a mirror of the test database) and turns replica reads on. The test
that stops a replica starts one of its own, so that no other test loses the shared one.
Without DATABASE_REPLICA_URLS these skip (and fail under CI=true); the router's rules are
also tested without any database.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from alignment.accounts.roles import Role
from config.replicas import (
    ReplicaRouter,
    _replayed,
    primary_position,
    replica_current,
    replica_health_forget,
    replica_page,
    replica_reads,
    user_wrote,
    user_wrote_recently,
)
from leads.models import Lead
from metrics.models import RollupState
from tests.conftest import need
from tests.factories import LeadFactory, UserFactory
from tests.processes import free_port

PG_BIN = Path("/usr/lib/postgresql/15/bin")
REPLICA_TESTS = pytest.mark.django_db(transaction=True, databases="__all__")


# --- the router's rules, no database needed ---------------------------------------------


def test_reads_stay_on_the_primary_outside_replica_reads():
    router = ReplicaRouter()
    assert router.db_for_read(Lead) == DEFAULT_DB_ALIAS
    assert router.db_for_write(Lead) == DEFAULT_DB_ALIAS
    assert router.allow_migrate("replica_1", "leads") is False
    assert router.allow_migrate(DEFAULT_DB_ALIAS, "leads") is True


def test_without_replicas_nothing_moves(settings):
    settings.DATABASE_REPLICAS = []
    with replica_reads() as alias:
        assert alias is None
        assert ReplicaRouter().db_for_read(Lead) == DEFAULT_DB_ALIAS
    assert primary_position() is None


def test_a_write_sends_the_rest_of_the_block_to_the_primary(settings, monkeypatch):
    settings.DATABASE_REPLICAS = ["replica_1"]
    settings.DATABASE_REPLICA_READS = True
    monkeypatch.setattr("config.replicas.replica_healthy", lambda alias, fresh=False: True)
    router = ReplicaRouter()
    with replica_reads() as alias:
        assert alias == "replica_1"
        assert router.db_for_read(Lead) == "replica_1"
        assert router.db_for_write(Lead) == DEFAULT_DB_ALIAS
        assert router.db_for_read(Lead) == DEFAULT_DB_ALIAS  # reads its own write
    assert router.db_for_read(Lead) == DEFAULT_DB_ALIAS


def test_a_recent_writer_reads_from_the_primary(settings, monkeypatch):
    settings.DATABASE_REPLICAS = ["replica_1"]
    settings.DATABASE_REPLICA_READS = True
    monkeypatch.setattr("config.replicas.replica_healthy", lambda alias, fresh=False: True)
    writer = UserFactory.build(pk=10**9, username="w")
    reader = UserFactory.build(pk=10**9 + 1, username="r")
    user_wrote(writer)
    assert user_wrote_recently(writer) and not user_wrote_recently(reader)
    with replica_reads(user=writer) as alias:
        assert alias is None
    with replica_reads(user=reader) as alias:
        assert alias == "replica_1"


def test_reads_off_keeps_every_read_on_the_primary(settings, monkeypatch):
    settings.DATABASE_REPLICAS = ["replica_1"]
    settings.DATABASE_REPLICA_READS = False
    monkeypatch.setattr("config.replicas.replica_healthy", lambda alias, fresh=False: True)
    with replica_reads() as alias:
        assert alias is None


# --- against a real streaming replica ------------------------------------------------------


@contextmanager
def _pointed_at(alias: str, where: dict) -> Iterator[None]:
    """The alias (a test mirror of the primary) connected to a real replica's copy of the
    test database for the block."""
    connection = connections[alias]
    saved = connection.settings_dict
    connection.close()
    connection.settings_dict = {
        **where,
        "NAME": connections[DEFAULT_DB_ALIAS].settings_dict["NAME"],
    }
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict = saved


@pytest.fixture
def replica(settings) -> Iterator[str]:
    need(
        bool(settings.DATABASE_REPLICAS),
        "DATABASE_REPLICA_URLS is not set (.ci/run starts a streaming replica)",
    )
    alias = settings.DATABASE_REPLICAS[0]
    # The rollups unbuilt, as every test after the first transactional one finds them
    # (a flush empties them; a fresh test database has migrate's): the figures come from
    # the records, and no page's refresh at read writes on the primary first.
    RollupState.objects.all().delete()
    settings.DATABASE_REPLICA_READS = True
    settings.DATABASE_REPLICA_HEALTH_SECONDS = 1
    replica_health_forget()
    with _pointed_at(alias, connections.settings[alias]):
        yield alias
    replica_health_forget()


def _caught_up(alias: str) -> None:
    """Wait until the replica has replayed everything the primary committed so far."""
    assert _replayed(alias, primary_position(), wait=20), "the replica did not catch up"


def _on(alias: str) -> CaptureQueriesContext:
    return CaptureQueriesContext(connections[alias])


def _data_queries(captured: CaptureQueriesContext) -> list[str]:
    """The queries that read the CRM's data (not the session, the user or the health check)."""
    return [
        q["sql"]
        for q in captured.captured_queries
        if any(t in q["sql"] for t in ('"leads_', '"metrics_', '"campaigns_'))
    ]


@pytest.fixture
def executive_client(client, replica):
    from alignment.agreement.services import agreement_create_default

    agreement_create_default()
    boss = UserFactory(username="boss-replica", role=Role.EXECUTIVE)
    LeadFactory.create_batch(3)
    client.force_login(boss)
    _caught_up(replica)
    return client


@REPLICA_TESTS
def test_the_alias_is_a_streaming_replica(replica):
    with connections[replica].cursor() as cursor:
        cursor.execute("SELECT pg_is_in_recovery(), current_database()")
        in_recovery, name = cursor.fetchone()
    assert in_recovery is True
    assert name == connections[DEFAULT_DB_ALIAS].settings_dict["NAME"]
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT pg_is_in_recovery()")
        assert cursor.fetchone()[0] is False


@REPLICA_TESTS
def test_the_dashboard_and_the_metric_api_read_from_the_replica(executive_client, replica):
    for url in (reverse("metrics:dashboard"), "/api/v1/metrics/?metric=new_leads"):
        with _on(replica) as on_replica, _on(DEFAULT_DB_ALIAS) as on_primary:
            response = executive_client.get(url)
        assert response.status_code == 200, url
        assert _data_queries(on_replica), f"{url} read nothing from the replica"
        assert not _data_queries(on_primary), f"{url} read the CRM's data from the primary"
    assert response.json()["metrics"]["new_leads"] == 3


# Every read-only page, download and API answer that reads on a replica, as its reader.
REPLICA_PAGES = [
    (Role.EXECUTIVE, "/metrics/records/?metric=mqls"),
    (Role.EXECUTIVE, "/metrics/records.csv?metric=new_leads"),
    (Role.EXECUTIVE, "/metrics/pack/"),
    (Role.EXECUTIVE, "/metrics/pack.csv"),
    (Role.EXECUTIVE, "/metrics/scorecards.csv"),
    (Role.EXECUTIVE, "/campaigns/"),
    (Role.EXECUTIVE, "/campaigns/campaigns.csv"),
    (Role.EXECUTIVE, "/api/v1/scorecards/"),
    (Role.SALES_MANAGER, "/search/?q=lead"),
    (Role.SALES_MANAGER, "/api/v1/search/?q=lead"),
    (Role.SALES_MANAGER, "/leads/export.csv"),
    (Role.SALES_MANAGER, "/leads/team/"),
    (Role.SALES_MANAGER, "/leads/ledger/"),
    (Role.SALES_MANAGER, "/leads/ledger.csv"),
]


@REPLICA_TESTS
@pytest.mark.parametrize(("role", "url"), REPLICA_PAGES)
def test_each_read_only_page_reads_from_the_replica(replica, client, role, url):
    from alignment.agreement.services import agreement_create_default

    agreement_create_default()
    client.force_login(UserFactory(username=f"reader-{role}", role=role))
    LeadFactory.create_batch(2, first_name="Lead")
    _caught_up(replica)
    with _on(replica) as on_replica:
        response = client.get(url)
        body = b"".join(response.streaming_content) if response.streaming else response.content
    assert response.status_code == 200, (url, body[:500])
    assert _data_queries(on_replica), f"{url} read nothing from the replica"


@REPLICA_TESTS
def test_writes_go_to_the_primary_and_the_writer_reads_them_there(
    executive_client, replica, settings, api_client, marketer
):
    client = api_client(marketer)
    with _on(replica) as on_replica:
        response = client.post(
            "/api/v1/leads/",
            {"email": "fresh@example.com"},
            format="json",
        )
    assert response.status_code == 201, response.content
    assert not [q for q in on_replica.captured_queries if "INSERT" in q["sql"]]
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT count(*) FROM leads_lead WHERE email = 'fresh@example.com'")
        assert cursor.fetchone()[0] == 1

    # The writer's next reads are on the primary for the window; another user's are not.
    with _on(replica) as on_replica:
        mine = client.get("/api/v1/metrics/?metric=new_leads")
    assert mine.status_code == 200
    assert mine.json()["metrics"]["new_leads"] == 4
    assert not _data_queries(on_replica)
    with _on(replica) as on_replica:
        theirs = executive_client.get("/api/v1/metrics/?metric=new_leads")
    assert theirs.status_code == 200
    assert _data_queries(on_replica)

    # When the window has passed, the writer reads from the replica again.
    settings.DATABASE_REPLICA_READ_YOUR_WRITES_SECONDS = 1
    client.post("/api/v1/leads/", {"email": "again@example.com"}, format="json")
    assert user_wrote_recently(marketer)
    time.sleep(1.2)
    _caught_up(replica)
    with _on(replica) as on_replica:
        later = client.get("/api/v1/metrics/?metric=new_leads")
    assert later.json()["metrics"]["new_leads"] == 5
    assert _data_queries(on_replica)


@REPLICA_TESTS
def test_reads_inside_a_transaction_stay_on_the_primary(replica):
    with replica_reads() as alias:
        assert alias == replica
        assert replica_current() == replica
        with transaction.atomic():
            assert replica_current() is None
            with _on(replica) as on_replica:
                Lead.objects.count()
            assert not on_replica.captured_queries


@REPLICA_TESTS
def test_a_scorecard_week_reads_on_the_replica(replica):
    from datetime import date

    from metrics.reporting.services import scorecards_compute

    LeadFactory.create_batch(2)
    with _on(replica) as on_replica:
        results = scorecards_compute(week=date.today(), trailing=0)
    assert results
    assert _data_queries(on_replica)
    assert not [q for q in on_replica.captured_queries if "INSERT" in q["sql"]]


# --- a replica of our own, stopped under a page -----------------------------------------------


def _as_postgres(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


class PrivateReplica:
    """A streaming replica of the test run's primary (pg_basebackup -R), on a port of
    its own, that a test can stop and start."""

    def __init__(self, primary: dict) -> None:
        self.primary = primary
        self.workdir = Path(tempfile.mkdtemp(prefix="accord-replica-"))
        self.workdir.chmod(0o777)
        self.data = self.workdir / "data"
        self.port = free_port()

    def settings_dict(self) -> dict:
        return {**self.primary, "HOST": "127.0.0.1", "PORT": str(self.port)}

    def create(self) -> None:
        primary = self.primary
        subprocess.run(
            _as_postgres([str(PG_BIN / "pg_basebackup"), "-h", primary["HOST"] or "127.0.0.1",
                          "-p", str(primary["PORT"] or 5432), "-U", primary["USER"],
                          "-D", str(self.data), "-R", "-X", "stream", "-c", "fast"]),
            check=True, capture_output=True, timeout=300,
        )  # fmt: skip

    def start(self) -> None:
        subprocess.run(
            _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-w", "-l",
                          str(self.workdir / "log"), "-o",
                          f"-p {self.port} -k {self.workdir} -c listen_addresses=127.0.0.1",
                          "start"]),
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip

    def stop(self) -> None:
        subprocess.run(
            _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w",
                          "stop"]),
            capture_output=True, timeout=120,
        )  # fmt: skip

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


@pytest.fixture
def own_replica(replica) -> Iterator[PrivateReplica]:
    need((PG_BIN / "pg_basebackup").exists(), "PostgreSQL 15's pg_basebackup is not installed")
    primary = connections[DEFAULT_DB_ALIAS].settings_dict
    server = PrivateReplica(primary)
    try:
        server.create()
        server.start()
        with _pointed_at(replica, server.settings_dict()):
            yield server
    finally:
        server.remove()


@pytest.mark.faults
@REPLICA_TESTS
def test_with_the_replica_stopped_the_pages_still_answer(
    own_replica, replica, executive_client, api_client, caplog
):
    boss = UserFactory(username="boss-2", role=Role.EXECUTIVE)
    api = api_client(boss)
    _caught_up(replica)
    dashboard = reverse("metrics:dashboard")
    with _on(replica) as on_replica:
        assert executive_client.get(dashboard).status_code == 200
    assert _data_queries(on_replica), "the page did not read from the replica"

    own_replica.stop()
    caplog.set_level(logging.WARNING, logger="accord.replicas")
    # Its connection is open and its last check was good: the page fails on the replica
    # and is computed again on the primary.
    with _on(DEFAULT_DB_ALIAS) as on_primary:
        page = executive_client.get(dashboard)
    assert page.status_code == 200
    assert _data_queries(on_primary)
    # Known down now: straight to the primary, and said once in the log.
    for _ in range(3):
        assert executive_client.get(dashboard).status_code == 200
        answer = api.get("/api/v1/metrics/?metric=new_leads")
        assert answer.status_code == 200
        assert answer.json()["metrics"]["new_leads"] == 3
    downs = [r for r in caplog.records if "is unavailable" in r.getMessage()]
    assert len(downs) == 1, [r.getMessage() for r in caplog.records]

    # Back up: after the next health check, reads go to it again.
    own_replica.start()
    time.sleep(1.1)  # DATABASE_REPLICA_HEALTH_SECONDS (the fixture's 1 s)
    _caught_up(replica)
    with _on(replica) as on_replica:
        assert executive_client.get(dashboard).status_code == 200
    assert _data_queries(on_replica)
    assert any("is back" in r.getMessage() for r in caplog.records)


@REPLICA_TESTS
def test_a_page_that_fails_on_the_primary_is_not_retried(replica, rf):
    calls = []

    @replica_page
    def view(request):
        calls.append(replica_current())
        with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
            cursor.execute("SELECT 1/0")

    request = rf.get("/")
    request.user = AnonymousUser()
    with pytest.raises(DatabaseError):
        view(request)
    assert calls == [replica]  # the replica answers: the error was not its failure
