"""One search box: leads (name, e-mail, company, phone), campaigns, deals, battlecards and
intel, grouped by kind, only what the reader's role may read; the page and the API."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.urls import reverse

from alignment.models import Battlecard, Competitor
from alignment.search.selectors import leads_matching, search
from leads.models import Deal
from tests.conftest import need, pg_plan
from tests.factories import CampaignFactory, FieldIntelFactory, LeadFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def borealis(marketer):
    """One name shared by a lead's company, a campaign, a deal and a battlecard."""
    lead = LeadFactory(
        first_name="Jan",
        last_name="Kowalski",
        email="jan@kowalski-trans.pl",
        company="Borealis Logistics",
        phone="+48 601 200 300",
    )
    other = LeadFactory(first_name="Ana", last_name="Putri", company="Garuda", email="ana@g.id")
    campaign = CampaignFactory(name="Borealis webinar", owner=marketer)
    deal = Deal.objects.create(lead=lead, name="Borealis rollout", amount=100)
    card = Battlecard.objects.create(
        competitor=Competitor.objects.create(name="Borealis CRM"), summary="Cheaper, slower"
    )
    intel = FieldIntelFactory(text="Borealis CRM offered 30% off", lead=other)
    return {
        "lead": lead,
        "other": other,
        "campaign": campaign,
        "deal": deal,
        "card": card,
        "intel": intel,
    }


def _ids(results, kind):
    return [hit.id for hit in results.groups.get(kind, [])]


def test_a_shared_name_finds_each_kind_grouped(borealis, sales_manager):
    results = search(user=sales_manager, query="borealis")
    assert _ids(results, "leads") == [borealis["lead"].pk]
    assert _ids(results, "campaigns") == [borealis["campaign"].pk]
    assert _ids(results, "deals") == [borealis["deal"].pk]
    assert _ids(results, "battlecards") == [borealis["card"].pk]
    assert _ids(results, "intel") == [borealis["intel"].pk]


@pytest.mark.parametrize(
    "query", ["kowalski", "Jan Kowal", "jan@kowalski-trans.pl", "601", "BOREALIS log"]
)
def test_a_lead_is_found_by_name_email_company_phone_and_word_prefixes(borealis, query):
    assert list(leads_matching(query).values_list("pk", flat=True)) == [borealis["lead"].pk]


@pytest.mark.parametrize("query", ["", "   ", "\x00", "'\"&|!():*", "a" * 500, "<script>"])
def test_odd_queries_find_nothing_and_never_fail(borealis, sales_manager, query):
    assert search(user=sales_manager, query=query).total == 0


def test_a_role_sees_only_the_kinds_it_may_read(borealis):
    nobody = UserFactory(username="no-role")
    assert search(user=nobody, query="borealis").groups == {}
    nobody.user_permissions.add(Permission.objects.get(codename="view_campaign"))
    nobody = type(nobody).objects.get(pk=nobody.pk)  # fresh permission cache
    assert set(search(user=nobody, query="borealis").groups) == {"campaigns"}


def test_the_page_groups_results_and_the_header_has_the_box(borealis, rep):
    client = Client()
    client.force_login(rep)
    page = client.get(reverse("search"), {"q": "borealis"}).content.decode()
    assert 'role="search"' in page and 'name="q"' in page
    for text in ("Leads", "Campaigns", "Deals", "Battlecards", "Borealis webinar", "Kowalski"):
        assert text in page
    assert "Nothing found" in client.get(reverse("search"), {"q": "zzzz"}).content.decode()


def test_the_api_answers_by_kind_and_refuses_an_empty_query(borealis, api_client, rep):
    response = api_client(rep).get("/api/v1/search/", {"q": "borealis"})
    assert response.status_code == 200
    body = response.json()
    assert body["leads"][0]["id"] == borealis["lead"].pk
    assert body["campaigns"][0]["label"] == "Borealis webinar"
    assert api_client(rep).get("/api/v1/search/").status_code == 400
    assert api_client(rep).get("/api/v1/search/", {"q": "x" * 201}).status_code == 400
    assert api_client().get("/api/v1/search/", {"q": "borealis"}).status_code in (401, 403)


def test_on_postgresql_the_lead_search_uses_the_gin_index(borealis):
    need(connection.vendor == "postgresql", "the GIN index exists on PostgreSQL only")
    # The match alone (a lead list's order could be read from a btree and filtered, on a
    # table whose statistics say it is tiny), and no plan but a bitmap scan allowed: the
    # search expression must be the index's own for it to be usable at all.
    plan = pg_plan(leads_matching("kowal").order_by(), without=("seqscan", "indexscan"))
    assert "lead_search_idx" in plan, plan
