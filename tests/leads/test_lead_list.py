"""Lists that act: the lead list's filters (SLA state, unassigned, owner among sales people,
campaign…), sorting, bulk reassign and export, saved views; home tiles and team figures
open exactly the records they count."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from html import unescape

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from alignment.models import Notification, StageKey
from config.demo import DEMO_PASSWORD, demo_seed
from leads.models import Lead, LeadAssignment, SavedView
from leads.services.assignment import leads_reassign
from tests.factories import CampaignFactory
from tests.leads.conftest import make_lead

pytestmark = pytest.mark.django_db


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _listed(client: Client, query: str = "") -> list[int]:
    response = client.get(reverse("leads:list") + query)
    assert response.status_code == 200
    return [lead.pk for lead in response.context["page"].object_list]


def test_the_filters_find_overdue_unassigned_and_by_campaign(team, sales_manager):
    rep, other = team
    now = timezone.now()
    overdue = make_lead(email="late@acme.pl", stage=StageKey.SAL, owner=rep)
    today = make_lead(email="today@acme.pl", stage=StageKey.SAL, owner=other)
    unassigned = make_lead(email="nobody@acme.pl", stage=StageKey.MQL)
    fair = CampaignFactory(name="Fair")
    missed = make_lead(email="missed@acme.pl", stage=StageKey.SQL, owner=rep, campaign=fair)
    Lead.objects.filter(pk=overdue.pk).update(sla_due_at=now - timedelta(hours=1))
    end_of_day = timezone.make_aware(
        timezone.datetime.combine(timezone.localdate(), timezone.datetime.max.time())
    )
    soon = min(now + timedelta(minutes=5), end_of_day)
    Lead.objects.filter(pk=today.pk).update(sla_due_at=soon)
    Lead.objects.filter(pk=unassigned.pk).update(owner=None)
    Lead.objects.filter(pk=missed.pk).update(
        sla_due_at=None, next_follow_up_at=now - timedelta(hours=2)
    )
    client = _client(sales_manager)
    assert _listed(client, "?sla=overdue") == [overdue.pk]
    assert _listed(client, "?sla=due_today") == [today.pk]
    assert _listed(client, "?owner=none") == [unassigned.pk]
    assert _listed(client, f"?campaign={fair.pk}") == [missed.pk]
    assert _listed(client, "?follow_up=missed") == [missed.pk]
    assert set(_listed(client, f"?owner={rep.pk}&state=open")) == {overdue.pk, missed.pk}


def test_the_owner_choice_lists_sales_people_and_unassigned_never_dashes(
    team, marketer, executive, sales_manager
):
    page = _client(sales_manager).get(reverse("leads:list") + "?clear=1").content.decode()
    owner_select = re.search(r'<select name="owner".*?</select>', page, re.S).group(0)
    values = set(re.findall(r'<option value="([^"]*)"', owner_select))
    rep, other = team
    assert {"", "none", str(rep.pk), str(other.pk), str(sales_manager.pk)} <= values
    assert str(marketer.pk) not in values and str(executive.pk) not in values
    assert ">Unassigned<" in owner_select
    assert "---------" not in page


def test_columns_sort_both_ways(team, sales_manager):
    rep, _other = team
    low = make_lead(email="low@acme.pl", stage=StageKey.SAL, owner=rep)
    high = make_lead(email="high@acme.pl", stage=StageKey.SAL, owner=rep)
    Lead.objects.filter(pk=low.pk).update(score=5)
    Lead.objects.filter(pk=high.pk).update(score=95)
    client = _client(sales_manager)
    assert _listed(client, "?o=score") == [low.pk, high.pk]
    assert _listed(client, "?o=-score") == [high.pk, low.pk]
    page = client.get(reverse("leads:list") + "?o=score").content.decode()
    assert 'aria-sort="ascending"' in page and "o=-score" in unescape(page)


def _many(rep, count: int) -> list[int]:
    return [
        make_lead(email=f"bulk{n}@acme.pl", stage=StageKey.SAL, owner=rep).pk for n in range(count)
    ]


def test_a_bulk_reassign_records_each_lead_and_tells_the_new_owner_once(team, sales_manager):
    rep, other = team
    ids = _many(rep, 50)
    response = _client(sales_manager).post(
        reverse("leads:bulk"),
        {"lead": ids, "owner": other.pk, "action": "reassign", "next": "/leads/?owner=none"},
    )
    assert response.status_code == 302 and response["Location"] == "/leads/?owner=none"
    assert Lead.objects.filter(pk__in=ids, owner=other).count() == 50
    assignments = LeadAssignment.objects.filter(lead_id__in=ids)
    assert assignments.count() == 50
    assert set(assignments.values_list("from_owner", "to_owner", "actor")) == {
        (rep.pk, other.pk, sales_manager.pk)
    }
    page = _client(sales_manager).get(reverse("leads:detail", args=[ids[0]])).content.decode()
    assert "Reassigned:" in page
    told = Notification.objects.filter(recipient=other)
    assert told.count() == 1 and "50 leads" in told.get().title
    assert not Notification.objects.filter(recipient=rep).exists()


def test_a_bulk_reassign_costs_the_same_queries_for_5_and_50_leads(team, sales_manager):
    rep, other = team
    leads_reassign(lead_ids=_many(rep, 1), to_user=other, actor=sales_manager)  # warm caches
    few = [make_lead(email=f"few{n}@acme.pl", stage=StageKey.SAL, owner=rep).pk for n in range(5)]
    many = [
        make_lead(email=f"many{n}@acme.pl", stage=StageKey.SAL, owner=rep).pk for n in range(50)
    ]
    with CaptureQueriesContext(connection) as small:
        leads_reassign(lead_ids=few, to_user=other, actor=sales_manager)
    with CaptureQueriesContext(connection) as large:
        leads_reassign(lead_ids=many, to_user=other, actor=sales_manager)
    assert len(large.captured_queries) == len(small.captured_queries)


def test_a_rep_may_not_bulk_reassign_and_nothing_changes(team):
    rep, other = team
    ids = _many(rep, 3)
    _client(rep).post(reverse("leads:bulk"), {"lead": ids, "owner": other.pk, "action": "reassign"})
    assert Lead.objects.filter(pk__in=ids, owner=rep).count() == 3
    assert not LeadAssignment.objects.exists()


def test_exports_hold_the_ticked_leads_or_the_filtered_list(team, sales_manager):
    rep, other = team
    ids = _many(rep, 3)
    make_lead(email="=cmd@evil.pl", stage=StageKey.SAL, owner=other, company="Acme;=HYPERLINK(1)")
    client = _client(sales_manager)
    ticked = client.post(reverse("leads:bulk"), {"lead": ids[:2], "action": "export"})
    rows = list(csv.reader(io.StringIO(b"".join(ticked.streaming_content).decode())))
    assert rows[0][:3] == ["id", "name", "company"] and len(rows) == 3
    assert {int(r[0]) for r in rows[1:]} == set(ids[:2])
    filtered = client.get(reverse("leads:export") + f"?owner={other.pk}")
    rows = list(csv.reader(io.StringIO(b"".join(filtered.streaming_content).decode())))
    assert len(rows) == 2
    for cell in rows[1]:
        for piece in re.split(r"[,;\t]", cell):
            assert not piece.startswith(("=", "+", "@", "\t", "\r")), cell


def test_saved_views_keep_filters_and_sort_and_one_opens_by_default(team, sales_manager):
    rep, _other = team
    client = _client(sales_manager)
    client.post(
        reverse("leads:view-save"),
        {"name": "Overdue, best first", "query": "sla=overdue&o=-score&page=3", "is_default": "on"},
    )
    view = SavedView.objects.get(user=sales_manager)
    assert (view.query, view.is_default) == ("o=-score&sla=overdue", True)
    opened = client.get(reverse("leads:list"))
    assert opened.status_code == 302 and opened["Location"].endswith("?o=-score&sla=overdue")
    assert client.get(reverse("leads:list") + "?clear=1").status_code == 200
    client.post(
        reverse("leads:view-save"), {"name": "Mine", "query": f"owner={rep.pk}", "is_default": "on"}
    )
    assert list(SavedView.objects.filter(is_default=True).values_list("name", flat=True)) == [
        "Mine"
    ]
    # Another user's view is never theirs to delete; their own goes.
    _client(rep).post(reverse("leads:view-delete", args=[view.pk]))
    assert SavedView.objects.filter(pk=view.pk).exists()
    client.post(reverse("leads:view-delete", args=[view.pk]))
    assert not SavedView.objects.filter(pk=view.pk).exists()
    bad = client.post(reverse("leads:view-save"), {"name": "", "query": ""})
    assert bad.status_code == 302 and SavedView.objects.count() == 1


# --- every figure opens the records it counts (over the demo) -----------------------------

TILE = re.compile(r'<a class="tile[^"]*" href="([^"]+)"><span class="num">([\d,]+)\+?</span>')


def _count_of(client: Client, url: str) -> int:
    response = client.get(url)
    assert response.status_code == 200, url
    context = response.context
    if "count" in context and "page" in context and url.startswith("/metrics/"):
        return context["count"]
    return context["page"].paginator.count


@pytest.fixture
def demo(db):
    return demo_seed(lead_count=80, scorecard_weeks=1)


@pytest.mark.parametrize("username", ["rep", "salesmgr", "marketer", "exec"])
def test_each_home_tile_opens_a_list_of_as_many_records(demo, username):
    client = Client()
    client.login(username=username, password=DEMO_PASSWORD)
    tiles = TILE.findall(client.get("/").content.decode())
    assert tiles, username
    for href, shown in tiles:
        url = unescape(href)
        assert _count_of(client, url) == int(shown.replace(",", "")), (username, url)


def test_each_team_figure_opens_as_many_records(demo):
    client = Client()
    client.login(username="salesmgr", password=DEMO_PASSWORD)
    page = client.get(reverse("leads:team")).content.decode()
    cells = re.findall(r'<td class="num"[^>]*><a href="([^"]+)">(\d+)</a></td>', page)
    assert len(cells) >= 10
    for href, shown in cells:
        assert _count_of(client, unescape(href)) == int(shown), unescape(href)
