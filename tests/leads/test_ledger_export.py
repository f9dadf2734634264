"""The SLA ledger as CSV: the page's reps and weeks, counts as numbers, names defused."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from alignment.models import StageKey
from config.dates import day_start, week_start_of
from leads.services.follow_ups import follow_up_log
from leads.services.sla import sla_breaches_check
from tests.exports import HOSTILE, column, safe_rows
from tests.leads.conftest import make_lead

pytestmark = pytest.mark.django_db


@pytest.fixture
def ledger(team):
    rep, other = team
    rep.first_name, rep.last_name = HOSTILE[0], HOSTILE[6]
    rep.save()
    other.first_name, other.last_name = HOSTILE[4], HOSTILE[8]
    other.save()
    ok = make_lead(email="ok@acme.pl", stage=StageKey.MQL, owner=rep)
    follow_up_log(lead=ok, author=rep, kind="call", outcome="connected")
    # Overdue by up to 6 hours, but due this week even early on a Monday (the ledger
    # counts a breach in the week it fell due): 24 hours of SLA, then late by a little.
    now = timezone.now()
    late_by = min(timedelta(hours=6), (now - day_start(week_start_of(now))) / 2)
    make_lead(
        email="late@acme.pl",
        stage=StageKey.MQL,
        owner=other,
        at=now - timedelta(hours=24) - late_by,
    )
    sla_breaches_check()
    return rep, other


def _this_week(rows):
    week = week_start_of(timezone.now()).isoformat()
    return [row for row in rows[1:] if row[1] == week]


def test_a_rep_downloads_their_own_ledger(client, ledger):
    rep, _other = ledger
    client.force_login(rep)
    response = client.get("/leads/ledger.csv")
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    rows = safe_rows(response)
    assert rows[0] == ["Rep", "Week", "Credits", "Breaches"]
    assert len(rows) == 1 + 8  # eight weeks, one rep
    assert set(column(rows, "Rep")) == {"'=1+1 Acme;'=HYPERLINK(\"http://x\")"}
    assert [row[2:] for row in _this_week(rows)] == [["1", "0"]]


def test_a_manager_downloads_the_teams_ledger(client, ledger, sales_manager):
    client.force_login(sales_manager)
    rows = safe_rows(client.get("/leads/ledger.csv"))
    assert len(rows) == 1 + 8 * 2
    assert sorted(row[2:] for row in _this_week(rows)) == [["0", "1"], ["1", "0"]]


def test_it_exports_the_weeks_the_page_shows(client, ledger, sales_manager):
    client.force_login(sales_manager)
    earlier = week_start_of(timezone.now()) - timedelta(weeks=8)
    rows = safe_rows(client.get(f"/leads/ledger.csv?week={earlier.isoformat()}"))
    assert max(column(rows, "Week")) == earlier.isoformat()
    assert set(column(rows, "Credits")) == {"0"} and set(column(rows, "Breaches")) == {"0"}


def test_it_is_for_the_sales_team_only(client, ledger, marketer):
    client.force_login(marketer)
    response = client.get("/leads/ledger.csv")
    assert response.status_code == 302


def test_the_ledger_page_links_its_csv(client, ledger):
    rep, _other = ledger
    client.force_login(rep)
    week = week_start_of(timezone.now()).isoformat()
    assert f'href="/leads/ledger.csv?week={week}"' in client.get("/leads/ledger/").content.decode()
