"""The sales pages: queue, lead page actions, agenda, team view, ledger."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from alignment.models import StageKey
from leads.models import Deal, DealOutcome, FollowUp, Lead, SlaBreach
from leads.services.deals import deal_create
from leads.services.follow_ups import follow_up_log
from leads.services.sla import sla_breaches_check
from tests.leads.conftest import make_lead

pytestmark = pytest.mark.django_db


def _queue_queries(client) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get("/leads/queue/")
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_the_queue_puts_overdue_leads_on_top_clearly_marked(client, territory, team):
    rep = team[0]
    now = timezone.now()
    calm = make_lead(email="calm@acme.pl", stage=StageKey.MQL, owner=rep, first_name="Calm")
    late = make_lead(
        email="late@acme.pl",
        stage=StageKey.MQL,
        owner=rep,
        first_name="Late",
        at=now - timedelta(hours=30),
    )
    make_lead(email="other@acme.pl", stage=StageKey.MQL, owner=team[1], first_name="Others")
    client.force_login(rep)
    body = client.get("/leads/queue/").content.decode()
    assert body.index(late.full_name) < body.index(calm.full_name)
    assert "Others" not in body
    assert "overdue-flag" in body and "overdue by" in body
    filtered = client.get("/leads/queue/", {"due": "overdue"}).content.decode()
    assert late.full_name in filtered and calm.full_name not in filtered


def test_a_long_queue_counts_up_to_the_cap_and_says_more(client, territory, team, monkeypatch):
    """The count is bounded (COUNT over LIMIT cap + 1): a rep with 20,000 open leads, or
    the whole lead list, does not count every row on every page view."""
    import config.pagination

    rep = team[0]
    for i in range(4):
        make_lead(email=f"cap{i}@acme.pl", stage=StageKey.MQL, owner=rep)
    client.force_login(rep)
    monkeypatch.setattr(config.pagination, "LIST_COUNT_CAP", 5)
    assert "4 leads" in client.get("/leads/queue/").content.decode()
    assert ">4<" in client.get("/").content.decode().replace(" ", "")
    monkeypatch.setattr(config.pagination, "LIST_COUNT_CAP", 3)
    with CaptureQueriesContext(connection) as ctx:
        body = client.get("/leads/queue/").content.decode()
    assert "More than 3 leads: narrow the list with the filters." in body
    assert sum(1 for q in ctx.captured_queries if "COUNT(" in q["sql"] and "LIMIT 4" in q["sql"])
    assert all(
        "LIMIT" in q["sql"]
        for q in ctx.captured_queries
        if "leads_lead" in q["sql"] and "COUNT(" in q["sql"]
    )
    assert ">3+<" in client.get("/").content.decode().replace(" ", "")  # the home tile
    monkeypatch.setattr(config.pagination, "LIST_COUNT_CAP", 1)
    client.force_login(team[0])
    assert "More than 1 leads" in client.get("/leads/", {"stage": "mql"}).content.decode()


def test_the_queues_query_count_does_not_grow_with_its_rows(client, territory, team):
    rep = team[0]
    lead = make_lead(email="q0@acme.pl", stage=StageKey.MQL, owner=rep)
    follow_up_log(lead=lead, author=rep, kind="call", outcome="connected", next_step="Send deck")
    client.force_login(rep)
    _queue_queries(client)  # warm caches (session, content types)
    few = _queue_queries(client)
    for i in range(1, 25):
        other = make_lead(email=f"q{i}@acme.pl", stage=StageKey.SAL, owner=rep)
        follow_up_log(lead=other, author=rep, kind="email", outcome="connected", next_step="Call")
    many = _queue_queries(client)
    assert many == few
    assert "Send deck" in client.get("/leads/queue/").content.decode()


def test_a_follow_up_posted_with_htmx_comes_back_as_the_timeline_in_place(client, territory, team):
    rep = team[0]
    lead = make_lead(email="a@acme.pl", stage=StageKey.MQL, owner=rep)
    client.force_login(rep)
    response = client.post(
        f"/leads/{lead.pk}/follow-ups/",
        {"kind": "call", "outcome": "interested", "notes": "Wants a demo on Tuesday"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="follow-up-section"' in body and "<html" not in body
    assert "Wants a demo on Tuesday" in body
    assert 'hx-swap-oob="true"' in body  # the header's SLA clock is refreshed too
    assert FollowUp.objects.get().within_sla is True


def test_a_follow_up_without_javascript_redirects_back_to_the_lead(client, territory, team):
    rep = team[0]
    lead = make_lead(email="a@acme.pl", stage=StageKey.MQL, owner=rep)
    client.force_login(rep)
    response = client.post(
        f"/leads/{lead.pk}/follow-ups/", {"kind": "visit", "outcome": "completed", "notes": "Met"}
    )
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "Follow-up logged." in page and "Visit: Completed" in page


def test_a_bad_follow_up_shows_form_errors_and_saves_nothing(client, territory, team):
    rep = team[0]
    lead = make_lead(email="a@acme.pl", stage=StageKey.MQL, owner=rep)
    client.force_login(rep)
    response = client.post(
        f"/leads/{lead.pk}/follow-ups/",
        {
            "kind": "call",
            "outcome": "connected",
            "occurred_at": (timezone.now() + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M"),
        },
    )
    assert response.status_code == 200
    assert "cannot happen in the future" in response.content.decode()
    # Days ahead, the same one rule answers (the service judges when it happened).
    response = client.post(
        f"/leads/{lead.pk}/follow-ups/",
        {
            "kind": "call",
            "outcome": "connected",
            "occurred_at": (timezone.now() + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M"),
        },
    )
    assert "cannot happen in the future" in response.content.decode()
    assert FollowUp.objects.count() == 0


def test_a_rep_can_neither_log_on_nor_move_another_reps_lead_in_the_pages(client, territory, team):
    rep, other = team
    lead = make_lead(email="a@acme.pl", stage=StageKey.MQL, owner=other)
    client.force_login(rep)
    page = client.get(f"/leads/{lead.pk}/").content.decode()
    assert "Log follow-up" not in page and f'action="/leads/{lead.pk}/move/"' not in page
    response = client.post(
        f"/leads/{lead.pk}/follow-ups/", {"kind": "call", "outcome": "connected"}
    )
    assert "Only the lead&#x27;s owner or a sales manager" in response.content.decode()
    client.post(f"/leads/{lead.pk}/move/", {"to_stage": "sal"})
    client.post(f"/leads/{lead.pk}/accept/")
    lead.refresh_from_db()
    assert lead.stage == StageKey.MQL and lead.follow_ups.count() == 0


def test_a_manager_reassigns_in_the_page_and_a_rep_cannot(client, territory, team, sales_manager):
    rep, other = team
    lead = make_lead(email="a@acme.pl", stage=StageKey.MQL, owner=rep)
    client.force_login(rep)
    client.post(f"/leads/{lead.pk}/reassign/", {"owner": other.pk})
    assert Lead.objects.get(pk=lead.pk).owner == rep
    client.force_login(sales_manager)
    response = client.post(f"/leads/{lead.pk}/reassign/", {"owner": other.pk})
    assert response.status_code == 302
    assert Lead.objects.get(pk=lead.pk).owner == other


def test_a_refused_move_comes_back_as_a_form_error(client, territory, team):
    rep = team[0]
    lead = make_lead(email="a@acme.pl", stage=StageKey.SQL, owner=rep)
    client.force_login(rep)
    response = client.post(f"/leads/{lead.pk}/move/", {"to_stage": "lost", "confirmed": "yes"})
    assert response.status_code == 200
    assert "A reason is required" in response.content.decode()
    response = client.post(f"/leads/{lead.pk}/move/", {"to_stage": "won", "confirmed": "yes"})
    assert "Select a valid choice" in response.content.decode()
    assert Lead.objects.get(pk=lead.pk).stage == StageKey.SQL
    response = client.post(
        f"/leads/{lead.pk}/move/", {"to_stage": "lost", "reason_code": "price", "confirmed": "yes"}
    )
    assert response.status_code == 302
    assert Lead.objects.get(pk=lead.pk).stage == StageKey.LOST


def test_accepting_and_rejecting_an_mql_in_the_page(client, territory, team):
    rep = team[0]
    accepted = make_lead(email="a@acme.pl", stage=StageKey.MQL, owner=rep)
    rejected = make_lead(email="b@acme.pl", stage=StageKey.MQL, owner=rep)
    client.force_login(rep)
    assert "Accept or reject this MQL" in client.get(f"/leads/{accepted.pk}/").content.decode()
    client.post(f"/leads/{accepted.pk}/accept/")
    response = client.post(f"/leads/{rejected.pk}/reject/", {"reason_code": ""})
    assert "This field is required" in response.content.decode()
    client.post(
        f"/leads/{rejected.pk}/reject/",
        {"reason_code": "no-budget", "reason": "Q3", "confirmed": "yes"},
    )
    assert Lead.objects.get(pk=accepted.pk).stage == StageKey.SAL
    rejected.refresh_from_db()
    assert rejected.stage == StageKey.RECYCLED
    assert rejected.stage_events.latest("occurred_at").reason_code == "no-budget"


def test_opening_and_closing_a_deal_in_the_page(client, territory, team):
    rep = team[0]
    lead = make_lead(email="a@acme.pl", stage=StageKey.SQL, owner=rep)
    client.force_login(rep)
    response = client.post(f"/leads/{lead.pk}/deals/", {"amount": "-3"})
    assert response.status_code == 200 and Deal.objects.count() == 0
    client.post(
        f"/leads/{lead.pk}/deals/",
        {"name": "Pilot", "amount": "9000", "expected_close": "2026-12-31", "gross_margin": ""},
    )
    deal = Deal.objects.get()
    assert Lead.objects.get(pk=lead.pk).stage == StageKey.OPPORTUNITY
    close = f"/leads/{lead.pk}/deals/{deal.pk}/close/"
    response = client.post(close, {"outcome": "lost", "confirmed": "yes"})
    assert "A lost deal needs one of the agreed reasons" in response.content.decode()
    client.post(close, {"outcome": "won", "gross_margin": "3000", "confirmed": "yes"})
    deal.refresh_from_db()
    assert deal.outcome == DealOutcome.WON
    assert Lead.objects.get(pk=lead.pk).stage == StageKey.WON


def test_claiming_in_the_page_and_losing_the_race_shows_a_message(client, territory, team):
    lead = make_lead(email="a@acme.pl")  # inquiry: no owner yet
    rep, other = team
    client.force_login(rep)
    assert "Claim this lead" in client.get(f"/leads/{lead.pk}/").content.decode()
    client.post(f"/leads/{lead.pk}/claim/")
    client.force_login(other)
    response = client.post(f"/leads/{lead.pk}/claim/", follow=True)
    assert "claimed this lead first" in response.content.decode()
    assert Lead.objects.get(pk=lead.pk).owner == rep


def test_the_agenda_lists_next_follow_ups_by_day(client, territory, team):
    rep = team[0]
    lead = make_lead(email="a@acme.pl", stage=StageKey.SAL, owner=rep, company="Visitco")
    follow_up_log(
        lead=lead,
        author=rep,
        kind="visit",
        outcome="completed",
        next_step="Visit the plant in Gdańsk",
        next_follow_up_at=timezone.now() + timedelta(days=2),
    )
    client.force_login(rep)
    body = client.get("/leads/agenda/").content.decode()
    assert "Visit the plant in Gdańsk" in body and "Visitco" in body


def test_the_team_view_shows_who_is_behind_and_is_for_managers(
    client, territory, team, sales_manager
):
    rep, other = team
    make_lead(
        email="late@acme.pl",
        stage=StageKey.MQL,
        owner=other,
        at=timezone.now() - timedelta(hours=30),
    )
    ok = make_lead(email="ok@acme.pl", stage=StageKey.MQL, owner=rep)
    follow_up_log(lead=ok, author=rep, kind="call", outcome="connected")
    client.force_login(rep)
    assert client.get("/leads/team/").status_code == 302
    client.force_login(sales_manager)
    body = client.get("/leads/team/").content.decode()
    assert "1 rep is behind." in body
    assert body.index(other.get_full_name()) < body.index(rep.get_full_name())


def test_the_ledger_shows_a_rep_their_own_and_a_manager_the_team(
    client, territory, team, sales_manager
):
    rep, other = team
    ok = make_lead(email="ok@acme.pl", stage=StageKey.MQL, owner=rep)
    follow_up_log(lead=ok, author=rep, kind="call", outcome="connected")
    make_lead(
        email="late@acme.pl",
        stage=StageKey.MQL,
        owner=other,
        at=timezone.now() - timedelta(hours=30),
    )
    sla_breaches_check()
    assert SlaBreach.objects.count() == 1
    client.force_login(rep)
    mine = client.get("/leads/ledger/").content.decode()
    assert "My SLA ledger" in mine and rep.get_full_name() in mine
    assert other.get_full_name() not in mine
    assert "+1 / −0" in mine
    client.force_login(sales_manager)
    theirs = client.get("/leads/ledger/").content.decode()
    assert rep.get_full_name() in theirs and other.get_full_name() in theirs
    assert "+0 / −1" in theirs


def test_the_deal_created_by_the_service_shows_on_the_lead_page(client, territory, team):
    rep = team[0]
    lead = make_lead(email="a@acme.pl", stage=StageKey.SQL, owner=rep)
    deal_create(lead=lead, actor=rep, amount="1234", name="Big one")
    client.force_login(rep)
    body = client.get(f"/leads/{lead.pk}/").content.decode()
    assert "Big one" in body and "Close deal" in body


def test_every_page_showing_the_queue_table_loads_its_styles(client, territory, team):
    """The overdue badge and SLA colours live in leads.css: the home page's "most urgent"
    table showed a bare "Overdue" glued to the name without it."""
    rep = team[0]
    lead = make_lead(email="styled@acme.pl", stage=StageKey.MQL, owner=rep)
    client.force_login(rep)
    for path in ("/", "/leads/queue/"):
        body = client.get(path).content.decode()
        assert f'href="/leads/{lead.pk}/"' in body, path  # the queue table is on the page
        assert "css/leads.css" in body, path
