"""Campaign pages: KPIs without N+1, marketers edit and reps cannot, readiness, launch."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from alignment.accounts.roles import Role
from alignment.models import StageKey
from campaigns.models import BriefingAcknowledgment, Campaign, Collateral, SpendEntry
from campaigns.services import briefing_save, collateral_add
from leads.models import DealOutcome
from metrics.models import TerritoryMember
from tests.factories import (
    CampaignFactory,
    DealFactory,
    LeadFactory,
    TerritoryFactory,
    UserFactory,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("active_agreement")]


def login(client: Client, user) -> Client:
    client.force_login(user)
    return client


def _campaigns(n: int, owner) -> list[Campaign]:
    today = timezone.localdate()
    made = []
    for _i in range(n):
        campaign = CampaignFactory(owner=owner, starts_on=today - timedelta(days=30))
        SpendEntry.objects.create(campaign=campaign, date=today, amount=Decimal("100.00"))
        lead = LeadFactory(campaign=campaign, company=f"Co {campaign.pk}")
        DealFactory(
            lead=lead,
            amount=Decimal("300.00"),
            outcome=DealOutcome.WON,
            closed_at=timezone.now(),
        )
        made.append(campaign)
    return made


def test_the_list_shows_each_campaigns_kpis(client, marketer):
    (campaign,) = _campaigns(1, marketer)
    body = login(client, marketer).get(reverse("campaigns:list")).content.decode()
    assert campaign.name in body
    assert "$100" in body and "$300" in body  # spend, won revenue
    assert "+200%" in body  # ROI (300 − 100) / 100
    assert "First touch" in body  # the model the revenue is credited by


def test_the_list_query_count_does_not_grow_with_campaigns(client, marketer):
    login(client, marketer)
    _campaigns(2, marketer)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(reverse("campaigns:list"))  # warm: the reader's preferences are cached
    with CaptureQueriesContext(connection) as few:
        assert client.get(reverse("campaigns:list")).status_code == 200
    _campaigns(8, marketer)
    client.get(reverse("campaigns:list"))  # after writes, cached reads refill once
    with CaptureQueriesContext(connection) as many:
        assert client.get(reverse("campaigns:list")).status_code == 200
    assert len(many) == len(few)


def test_bad_period_input_is_a_form_error_not_a_crash(client, marketer):
    response = login(client, marketer).get(
        reverse("campaigns:list"), {"start": "2026-13-01", "end": "x", "model": "magic"}
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "Enter a valid date" in body
    assert "Select a valid choice" in body


def test_the_campaign_page_shows_funnel_chart_rejections_collateral_and_readiness(
    client, marketer, rep
):
    (campaign,) = _campaigns(1, marketer)
    collateral_add(actor=marketer, title="Battle deck", url="https://x.test/d", campaign=campaign)
    briefing_save(campaign=campaign, actor=marketer, body="Expect SMB leads.")
    body = login(client, rep).get(reverse("campaigns:detail", args=[campaign.pk])).content.decode()
    assert 'id="funnel"' in body and "MQLs" in body
    svg = body.split('id="spend-vs-revenue"')[1].split("</svg>")[0]
    assert "pygal" in svg and "<script" not in svg and "//kozea" not in svg
    assert "Why sales rejected its leads" in body
    assert "Battle deck" in body
    assert "Expect SMB leads." in body
    assert "I have read the briefing" in body
    assert "Launch campaign" not in body and "Edit" not in body.split("<h1>")[1][:400]


def test_a_marketer_creates_and_edits_a_campaign_through_the_pages(client, marketer):
    login(client, marketer)
    response = client.post(
        reverse("campaigns:create"),
        {
            "name": "Autumn",
            "channel": "email",
            "status": "planned",
            "starts_on": "2026-09-01",
            "budget": "2500.00",
        },
    )
    campaign = Campaign.objects.get(name="Autumn")
    assert response.status_code == 302 and campaign.owner == marketer
    response = client.post(
        reverse("campaigns:edit", args=[campaign.pk]),
        {
            "name": "Autumn push",
            "channel": "email",
            "status": "planned",
            "starts_on": "2026-09-01",
            "budget": "3000",
        },
    )
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert (campaign.name, campaign.budget) == ("Autumn push", Decimal("3000.00"))


def test_campaign_form_errors_are_shown_and_nothing_is_stored(client, marketer):
    login(client, marketer)
    response = client.post(
        reverse("campaigns:create"),
        {
            "name": "",
            "channel": "email",
            "status": "planned",
            "starts_on": "2026-09-01",
            "ends_on": "2026-08-01",
            "budget": "-5",
        },
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "This field is required" in body
    assert "greater than or equal to 0" in body
    assert not Campaign.objects.exists()


def test_a_rep_cannot_edit_a_campaign_through_the_pages(client, rep, marketer):
    campaign = CampaignFactory(owner=marketer, name="Keep me")
    login(client, rep)
    response = client.get(reverse("campaigns:edit", args=[campaign.pk]))
    assert response.status_code == 302
    assert client.get(reverse("campaigns:create")).status_code == 302
    response = client.post(
        reverse("campaigns:edit", args=[campaign.pk]),
        {
            "name": "Taken",
            "channel": "email",
            "status": "planned",
            "starts_on": "2026-09-01",
            "budget": "1",
        },
    )
    assert response.status_code == 403
    assert client.post(reverse("campaigns:create"), {"name": "X"}).status_code == 403
    assert (
        client.post(
            reverse("campaigns:spend-add", args=[campaign.pk]),
            {"date": "2026-01-01", "amount": "1"},
        ).status_code
        == 403
    )
    campaign.refresh_from_db()
    assert campaign.name == "Keep me"
    assert not SpendEntry.objects.exists() and Campaign.objects.count() == 1


def test_a_marketer_records_spend_and_sees_field_errors(client, marketer):
    campaign = CampaignFactory(owner=marketer)
    login(client, marketer)
    url = reverse("campaigns:spend-add", args=[campaign.pk])
    assert client.post(url, {"date": "2026-02-01", "amount": "40.00"}).status_code == 302
    response = client.post(url, {"date": "nope", "amount": "-3"})
    assert response.status_code == 400
    assert "Enter a valid date" in response.content.decode()
    assert list(campaign.spend_entries.values_list("amount", flat=True)) == [Decimal("40.00")]


def test_a_rep_acknowledges_the_briefing_and_readiness_moves(client, marketer):
    emea = TerritoryFactory(code="emea")
    rep = UserFactory(username="rep-emea", role=Role.SALES_REP)
    other = UserFactory(username="rep-other", role=Role.SALES_REP)
    TerritoryMember.objects.create(territory=emea, user=rep)
    TerritoryMember.objects.create(territory=emea, user=other)
    campaign = CampaignFactory(owner=marketer)
    campaign.target_territories.set([emea])
    briefing_save(campaign=campaign, actor=marketer, body="Read me")
    login(client, rep)
    assert client.post(reverse("campaigns:acknowledge", args=[campaign.pk])).status_code == 302
    assert BriefingAcknowledgment.objects.filter(user=rep).count() == 1
    body = client.get(reverse("campaigns:detail", args=[campaign.pk])).content.decode()
    assert "<strong>1 / 2</strong>" in body
    assert "You acknowledged this briefing." in body


def test_launch_below_readiness_needs_the_confirmation_box_and_is_recorded(client, marketer):
    emea = TerritoryFactory(code="emea")
    TerritoryMember.objects.create(
        territory=emea, user=UserFactory(username="rep-e", role=Role.SALES_REP)
    )
    campaign = CampaignFactory(owner=marketer)
    campaign.target_territories.set([emea])
    briefing_save(campaign=campaign, actor=marketer, body="Read me")
    login(client, marketer)
    url = reverse("campaigns:launch", args=[campaign.pk])
    response = client.post(url, {})
    assert response.status_code == 400
    assert "Confirm to launch anyway" in response.content.decode()
    campaign.refresh_from_db()
    assert campaign.launched_at is None
    assert client.post(url, {"confirm": "on"}).status_code == 302
    campaign.refresh_from_db()
    assert campaign.launched_below_readiness and campaign.readiness_at_launch == Decimal("0")
    body = client.get(reverse("campaigns:detail", args=[campaign.pk])).content.decode()
    assert "launched below the agreed readiness" in body


def test_the_lead_page_shows_the_collateral_of_its_campaign_and_stage(client, marketer, rep):
    campaign = CampaignFactory(owner=marketer)
    lead = LeadFactory(campaign=campaign, stage=StageKey.SAL)
    collateral_add(actor=marketer, title="Campaign deck", url="https://x.test/1", campaign=campaign)
    collateral_add(actor=marketer, title="SAL call script", url="https://x.test/2", stage_key="sal")
    collateral_add(actor=marketer, title="Won onboarding", url="https://x.test/3", stage_key="won")
    body = login(client, rep).get(reverse("leads:detail", args=[lead.pk])).content.decode()
    panel = body.split('id="lead-collateral"')[1].split("</section>")[0]
    assert "Campaign deck" in panel and "SAL call script" in panel
    assert "Won onboarding" not in panel
    assert Collateral.objects.count() == 3


def test_every_campaign_page_answers_for_every_role(client, marketer, rep, executive):
    (campaign,) = _campaigns(1, marketer)
    for user in (marketer, rep, executive):
        login(client, user)
        assert client.get(reverse("campaigns:list")).status_code == 200
        assert client.get(reverse("campaigns:detail", args=[campaign.pk])).status_code == 200
        assert (
            client.get(
                reverse("campaigns:detail", args=[campaign.pk]),
                {"start": date(2026, 1, 1).isoformat(), "model": "linear"},
            ).status_code
            == 200
        )


@pytest.mark.parametrize(
    ("top", "ticks"),
    [(16000, [0, 5000, 10000, 15000, 20000]), (7, [0, 2, 4, 6, 8]), (0, [0, 1])],
)
def test_chart_ticks_are_round_numbers_past_the_top(top, ticks):
    from campaigns.charts import nice_ticks

    assert nice_ticks(top, at_most=5) == ticks


def test_a_marketer_uploads_a_collateral_file_for_a_stage(client, marketer, settings, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.MEDIA_ROOT = tmp_path
    campaign = CampaignFactory(owner=marketer)
    login(client, marketer)
    url = reverse("campaigns:collateral-add", args=[campaign.pk])
    pdf = SimpleUploadedFile("pricing.pdf", b"%PDF-1.4 pricing", content_type="application/pdf")
    response = client.post(url, {"title": "Pricing sheet", "file": pdf, "stage_key": "sql"})
    assert response.status_code == 302
    item = Collateral.objects.get()
    assert (item.campaign, item.stage_key) == (campaign, "sql")
    assert item.file.name.endswith(".pdf") and (tmp_path / item.file.name).exists()
    response = client.post(url, {"title": "Nothing in it"})
    assert response.status_code == 400
    assert "Give a link or upload a file." in response.content.decode()
    assert Collateral.objects.count() == 1
