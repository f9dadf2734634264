"""Mass assignment: read-only fields sent in POST/PATCH are ignored or refused, never stored.

For leads, follow-ups, deals, campaigns, intel, disputes and webhooks, hypothesis sends
valid required fields plus a random subset of fields the server decides (owner, score,
stage, created_by, is_staff, agreement version, id, created_at, ...). Afterwards the
stored values are the server's, and the answer is 2xx or a 400 with field errors.
"""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from alignment.accounts.roles import Role
from alignment.models import (
    Dispute,
    DisputeStatus,
    FieldIntel,
    IntelStatus,
    StageKey,
    WebhookSubscription,
)
from campaigns.models import Campaign, CampaignStatus
from leads.models import Deal, DealOutcome, FollowUp, Lead
from tests.factories import CampaignFactory, UserFactory
from tests.leads.conftest import make_lead

pytestmark = pytest.mark.django_db

BOUNDED = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
_seq = itertools.count()

# Values an attacker would like to plant. Ids point at real other rows (set in the fixture)
# or at rows that do not exist; times are far in the past.
HOSTILE_ID = st.sampled_from([1, 2, 999_999, -1, "1", None])
ANY_SCALAR = st.one_of(st.none(), st.booleans(), st.integers(-(10**6), 10**6), st.text(max_size=12))
OLD_TIME = st.sampled_from(["2000-01-01T00:00:00Z", "1999-12-31", "not a date"])


def _read_only(**extra: st.SearchStrategy) -> st.SearchStrategy[dict[str, Any]]:
    """A random subset of read-only fields with hostile values."""
    common = {
        "id": HOSTILE_ID,
        "owner": HOSTILE_ID,
        "created_by": HOSTILE_ID,
        "author": HOSTILE_ID,
        "is_staff": st.booleans(),
        "is_superuser": st.booleans(),
        "agreement": HOSTILE_ID,
        "agreement_version": HOSTILE_ID,
        "qualified_under": HOSTILE_ID,
        "created_at": OLD_TIME,
        "updated_at": OLD_TIME,
    }
    return st.fixed_dictionaries({}, optional={**common, **extra})


@pytest.fixture
def world(db, rep, sales_manager, marketer, executive, active_agreement):

    other_rep = UserFactory(username="rep-other", role=Role.SALES_REP)
    return {
        "lead": make_lead(email="world@example.com", stage=StageKey.SAL, owner=rep),
        "rep": rep,
        "other_rep": other_rep,
        "manager": sales_manager,
        "marketer": marketer,
        "executive": executive,
    }


def _client(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _answer_is_clear(response) -> None:
    """2xx, or 400/403/404/409 with a JSON body naming fields or a detail: never a 500."""
    assert response.status_code < 500, response.content[:500]
    if response.status_code >= 400:
        body = response.json()
        assert isinstance(body, dict) and body, body


def _plain_payload_succeeds(extra: dict[str, Any], response) -> None:
    """Without read-only extras the payload is valid: the test is not vacuous."""
    if not extra:
        assert response.status_code in (200, 201), response.content[:500]


def _no_privilege_gained(*users) -> None:
    for user in users:
        user.refresh_from_db()
        assert not user.is_staff and not user.is_superuser


# --- leads ----------------------------------------------------------------------------------


@BOUNDED
@example(extra={})
@given(
    extra=_read_only(
        score=ANY_SCALAR, stage=st.sampled_from([*StageKey.values, "x"]), territory=HOSTILE_ID
    )
)
def test_lead_create_ignores_or_refuses_read_only_fields(world, extra):
    marketer = world["marketer"]
    email = f"ma{next(_seq)}@example.com"
    response = _client(marketer).post(
        "/api/v1/leads/", {**extra, "email": email, "company": "Acme"}, format="json"
    )
    _answer_is_clear(response)
    _plain_payload_succeeds(extra, response)
    _no_privilege_gained(marketer)
    lead = Lead.objects.filter(email=email).first()
    if response.status_code != 201:
        assert response.status_code == 400 and lead is None
        return
    assert lead.stage == StageKey.INQUIRY
    assert (lead.owner_id is None and lead.territory_id is None) or lead.owner_id != extra.get(
        "owner"
    )
    assert lead.created_by_id == marketer.pk
    assert lead.pk == response.json()["id"] and lead.created_at.year > 2000
    assert str(lead.score) != str(extra.get("score")) or lead.score == 0


@BOUNDED
@example(extra={})
@given(
    extra=_read_only(
        score=ANY_SCALAR, stage=st.sampled_from([*StageKey.values, "x"]), territory=HOSTILE_ID
    )
)
def test_lead_patch_ignores_or_refuses_read_only_fields(world, extra):
    lead = make_lead(email=f"mp{next(_seq)}@example.com", stage=StageKey.SAL, owner=world["rep"])
    before = Lead.objects.values(
        "owner", "territory", "stage", "score", "created_by", "qualified_under", "created_at"
    ).get(pk=lead.pk)
    response = _client(world["manager"]).patch(
        f"/api/v1/leads/{lead.pk}/", {**extra, "company": "Renamed"}, format="json"
    )
    _answer_is_clear(response)
    _plain_payload_succeeds(extra, response)
    _no_privilege_gained(world["manager"])
    after = Lead.objects.values(*before).get(pk=lead.pk)
    assert after == before


# --- follow-ups -----------------------------------------------------------------------------


@BOUNDED
@example(extra={})
@given(
    extra=_read_only(
        lead=HOSTILE_ID, within_sla=st.sampled_from([True, False, None]), next_step=st.just("x")
    )
)
def test_follow_up_create_keeps_author_lead_and_sla_credit_server_decided(world, extra):
    rep = world["rep"]
    lead = make_lead(email=f"mf{next(_seq)}@example.com", stage=StageKey.SAL, owner=rep)
    response = _client(rep).post(
        f"/api/v1/leads/{lead.pk}/follow-ups/",
        {**extra, "kind": "call", "outcome": "connected"},
        format="json",
    )
    _answer_is_clear(response)
    _plain_payload_succeeds(extra, response)
    _no_privilege_gained(rep)
    if response.status_code == 201:
        follow_up = FollowUp.objects.get(pk=response.json()["id"])
        assert follow_up.author_id == rep.pk and follow_up.lead_id == lead.pk
        assert follow_up.created_at.year > 2000
        if extra.get("within_sla") is not None:
            assert follow_up.within_sla is None or isinstance(follow_up.within_sla, bool)
    else:
        assert not FollowUp.objects.filter(lead=lead).exists()


# --- deals ----------------------------------------------------------------------------------


@BOUNDED
@example(extra={})
@given(
    extra=_read_only(
        outcome=st.sampled_from(DealOutcome.values),
        closed_at=OLD_TIME,
        lost_reason=st.just("price"),
        updated_at=OLD_TIME,
    )
)
def test_deal_create_keeps_owner_and_outcome_server_decided(world, extra):
    rep = world["rep"]
    lead = make_lead(email=f"md{next(_seq)}@example.com", stage=StageKey.SQL, owner=rep)
    response = _client(rep).post(
        "/api/v1/deals/", {**extra, "lead": lead.pk, "amount": "100.00"}, format="json"
    )
    _answer_is_clear(response)
    _plain_payload_succeeds(extra, response)
    _no_privilege_gained(rep)
    assert response.status_code in (201, 400)
    if response.status_code == 201:
        deal = Deal.objects.get(pk=response.json()["id"])
        assert deal.outcome == DealOutcome.OPEN and deal.closed_at is None
        assert deal.owner_id == rep.pk and deal.lead_id == lead.pk
        assert deal.created_at.year > 2000


@BOUNDED
@example(extra={})
@given(extra=_read_only(lead=HOSTILE_ID))
def test_deal_patch_keeps_owner_and_lead(world, extra):
    rep = world["rep"]
    lead = make_lead(email=f"mdp{next(_seq)}@example.com", stage=StageKey.SQL, owner=rep)
    deal = Deal.objects.create(lead=lead, owner=rep, amount=Decimal("10.00"))
    before = Deal.objects.values("owner", "lead", "created_at", "outcome").get(pk=deal.pk)
    response = _client(rep).patch(
        f"/api/v1/deals/{deal.pk}/", {**extra, "name": "Renamed"}, format="json"
    )
    _answer_is_clear(response)
    _plain_payload_succeeds(extra, response)
    _no_privilege_gained(rep)
    assert Deal.objects.values(*before).get(pk=deal.pk) == before


# --- campaigns ------------------------------------------------------------------------------

CAMPAIGN_READ_ONLY = {
    "status": st.sampled_from(CampaignStatus.values),
    "launched_at": OLD_TIME,
    "launched_below_readiness": st.booleans(),
    "readiness_at_launch": st.sampled_from(["0.5", 1, None]),
}


@BOUNDED
@example(extra={})
@given(extra=_read_only(**CAMPAIGN_READ_ONLY))
def test_campaign_create_cannot_launch_or_hand_itself_to_sales(world, extra):
    marketer = world["marketer"]
    if extra.get("owner") in (1, 2, "1"):
        extra["owner"] = world["rep"].pk  # a sales rep may not own a campaign
    name = f"MA {next(_seq)}"
    response = _client(marketer).post(
        "/api/v1/campaigns/",
        {**extra, "name": name, "channel": "paid_search", "starts_on": "2026-01-05"},
        format="json",
    )
    _answer_is_clear(response)
    _plain_payload_succeeds(extra, response)
    _no_privilege_gained(marketer)
    campaign = Campaign.objects.filter(name=name).first()
    if response.status_code != 201:
        assert response.status_code == 400 and campaign is None
        return
    assert campaign.launched_at is None and campaign.status != CampaignStatus.LIVE
    assert campaign.readiness_at_launch is None and not campaign.launched_below_readiness
    assert campaign.owner.has_perm("campaigns.add_campaign")
    assert campaign.created_at.year > 2000


@BOUNDED
@example(extra={})
@given(extra=_read_only(**CAMPAIGN_READ_ONLY))
def test_campaign_patch_cannot_launch_it(world, extra):
    marketer = world["marketer"]
    campaign = CampaignFactory(owner=marketer)
    before = Campaign.objects.values(
        "launched_at", "launched_below_readiness", "readiness_at_launch", "created_at"
    ).get(pk=campaign.pk)
    response = _client(marketer).patch(
        f"/api/v1/campaigns/{campaign.pk}/", {**extra, "description": "x"}, format="json"
    )
    _answer_is_clear(response)
    _plain_payload_succeeds(extra, response)
    _no_privilege_gained(marketer)
    assert Campaign.objects.values(*before).get(pk=campaign.pk) == before
    assert Campaign.objects.get(pk=campaign.pk).status != CampaignStatus.LIVE


# --- intel ----------------------------------------------------------------------------------

INTEL_READ_ONLY = {
    "status": st.sampled_from(IntelStatus.values),
    "acknowledged_at": OLD_TIME,
    "acknowledged_by": HOSTILE_ID,
    "actioned_at": OLD_TIME,
    "response": st.just("we did it"),
}


@BOUNDED
@example(extra={})
@given(extra=_read_only(**INTEL_READ_ONLY))
def test_intel_create_keeps_author_and_status_server_decided(world, extra):
    rep = world["rep"]
    text = f"Competitor X undercuts us {next(_seq)}"
    response = _client(rep).post(
        "/api/v1/intel/",
        {**extra, "kind": "competitor", "text": text, "lead": world["lead"].pk},
        format="json",
    )
    _answer_is_clear(response)
    _plain_payload_succeeds(extra, response)
    _no_privilege_gained(rep)
    intel = FieldIntel.objects.filter(text=text).first()
    if response.status_code != 201:
        assert response.status_code == 400 and intel is None
        return
    assert intel.author_id == rep.pk and intel.status == IntelStatus.NEW
    assert intel.acknowledged_by_id is None and intel.acknowledged_at is None
    assert intel.actioned_at is None and intel.response == ""


@BOUNDED
@example(extra={})
@given(
    extra=_read_only(
        kind=st.just("pricing"),
        text=st.just("rewritten"),
        lead=HOSTILE_ID,
        acknowledged_by=HOSTILE_ID,
    )
)
def test_intel_patch_keeps_what_sales_wrote(world, extra):
    from alignment.feedback.services import intel_submit

    intel = intel_submit(
        author=world["rep"], kind="competitor", text=f"orig {next(_seq)}", lead=world["lead"]
    )
    before = FieldIntel.objects.values("author", "kind", "text", "lead", "created_at").get(
        pk=intel.pk
    )
    response = _client(world["marketer"]).patch(
        f"/api/v1/intel/{intel.pk}/", {**extra, "status": "acknowledged"}, format="json"
    )
    _answer_is_clear(response)
    _plain_payload_succeeds(extra, response)
    _no_privilege_gained(world["marketer"])
    assert FieldIntel.objects.values(*before).get(pk=intel.pk) == before
    intel.refresh_from_db()
    if intel.acknowledged_by_id is not None:
        assert intel.acknowledged_by_id == world["marketer"].pk


# --- disputes -------------------------------------------------------------------------------

DISPUTE_READ_ONLY = {
    "raised_by": HOSTILE_ID,
    "raised_by_team": st.sampled_from(["sales", "marketing", "executive"]),
    "status": st.sampled_from(DisputeStatus.values),
    "decision": st.sampled_from(["for_sales", "for_marketing", "shared"]),
    "resolution_note": st.just("decided"),
    "resolved_by": HOSTILE_ID,
    "resolved_at": OLD_TIME,
}


@BOUNDED
@example(extra={})
@given(extra=_read_only(**DISPUTE_READ_ONLY))
def test_dispute_create_cannot_resolve_itself(world, extra):
    marketer = world["marketer"]
    lead = make_lead(email=f"mdi{next(_seq)}@example.com", stage=StageKey.MQL)
    response = _client(marketer).post(
        "/api/v1/disputes/",
        {**extra, "lead": lead.pk, "kind": "lead_quality", "reason": "good lead"},
        format="json",
    )
    _answer_is_clear(response)
    _plain_payload_succeeds(extra, response)
    _no_privilege_gained(marketer)
    dispute = Dispute.objects.filter(lead=lead).first()
    if response.status_code != 201:
        assert response.status_code == 400 and dispute is None
        return
    assert dispute.raised_by_id == marketer.pk and dispute.raised_by_team == "marketing"
    assert dispute.status == DisputeStatus.OPEN and not dispute.decision
    assert dispute.resolved_by_id is None and dispute.resolved_at is None
    assert not dispute.resolution_note


# --- webhooks -------------------------------------------------------------------------------


@BOUNDED
@example(extra={})
@given(
    extra=_read_only(
        is_active=st.booleans(),
        consecutive_failures=st.integers(-5, 10**6),
        disabled_at=OLD_TIME,
    )
)
def test_webhook_subscribe_keeps_owner_and_health_server_decided(world, extra):
    rep = world["rep"]
    # Each example starts below the per-user cap on subscriptions, so a 400 is the payload's.
    WebhookSubscription.objects.filter(owner=rep).delete()
    url = f"https://hooks.example.com/{next(_seq)}"
    response = _client(rep).post(
        "/api/v1/webhooks/", {**extra, "url": url, "events": ["lead.created"]}, format="json"
    )
    _answer_is_clear(response)
    _plain_payload_succeeds(extra, response)
    _no_privilege_gained(rep)
    subscription = WebhookSubscription.objects.filter(url=url).first()
    if response.status_code != 201:
        assert response.status_code == 400 and subscription is None
        return
    assert subscription.owner_id == rep.pk and subscription.is_active
    assert subscription.consecutive_failures == 0 and subscription.disabled_at is None
    assert subscription.created_at.year > 2000
