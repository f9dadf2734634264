"""One entry per workflow: the page and the API refuse and accept the same cases, because
both call the one service (lead_move, deal_update, touch_record, lead_import_start)."""

from __future__ import annotations

from datetime import datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

import campaigns.services
import leads.api.moves
import leads.api.records
import leads.api.sales
import leads.imports.views
import leads.views
from alignment.accounts.roles import Role
from alignment.models import ReasonKind, StageKey
from campaigns.models import Touch, TouchKind
from leads.imports import services as import_services
from leads.models import Deal, DealOutcome, Lead
from leads.services import deals, moves
from leads.services.deals import deal_create
from tests.factories import CampaignFactory, LeadFactory, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("active_agreement")]


def _page(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def team(db):
    return {
        "owner": UserFactory(username="owner", role=Role.SALES_REP),
        "other": UserFactory(username="other", role=Role.SALES_REP),
        "marketer": UserFactory(username="mk", role=Role.MARKETER),
    }


def _rejection_code(active_agreement) -> str:
    return active_agreement.reason_codes.filter(kind=ReasonKind.REJECTION).first().code


# --- lead_move ----------------------------------------------------------------------------

MOVE_CASES = [
    # (who, to, reason code?, accepted?)
    ("other", StageKey.SAL, False, False),  # not the owner: only sales' owner decides
    ("marketer", StageKey.SAL, False, False),  # marketing never decides on an MQL
    ("owner", StageKey.RECYCLED, False, False),  # a rejection needs an agreed reason
    ("owner", StageKey.SAL, False, True),
    ("owner", StageKey.RECYCLED, True, True),
]


@pytest.mark.parametrize(("who", "to", "with_code", "accepted"), MOVE_CASES)
def test_a_move_is_refused_or_made_alike_on_the_page_and_in_the_api(
    who, to, with_code, accepted, team, active_agreement, api_client
):
    calls = _spy_both(moves.lead_move, leads.views, leads.api.moves)
    code = _rejection_code(active_agreement) if with_code else ""
    on_page = LeadFactory(stage=StageKey.MQL, owner=team["owner"])
    in_api = LeadFactory(stage=StageKey.MQL, owner=team["owner"])

    page = _page(team[who]).post(
        f"/leads/{on_page.pk}/move/",
        {"to_stage": to, "reason_code": code, "reason": "", "confirmed": "yes"},
    )
    api = api_client(team[who]).post(
        f"/api/v1/leads/{in_api.pk}/transition/", {"to": to, "reason_code": code}, format="json"
    )

    assert len(calls) == 2  # both went through lead_move
    moved = [Lead.objects.get(pk=lead.pk).stage == to for lead in (on_page, in_api)]
    assert moved == [accepted, accepted]
    assert (api.status_code == 200) is accepted
    if not accepted:
        assert api.status_code in (400, 403)
        assert page.status_code in (200, 302)  # a form error, or a message on the lead page


# --- deal_update ----------------------------------------------------------------------------

CLOSE_CASES = [
    ("other", DealOutcome.WON, False, False),  # only the lead's owner or a manager
    ("owner", DealOutcome.LOST, False, False),  # a lost deal needs an agreed reason
    ("owner", DealOutcome.LOST, True, True),
    ("owner", DealOutcome.WON, False, True),
]


def _deal(owner) -> Deal:
    lead = LeadFactory(stage=StageKey.SQL, owner=owner)
    return deal_create(lead=lead, actor=owner, amount="1000")


@pytest.mark.parametrize(("who", "outcome", "with_reason", "accepted"), CLOSE_CASES)
def test_a_deal_closes_alike_on_the_page_and_in_the_api(
    who, outcome, with_reason, accepted, team, active_agreement, api_client
):
    calls = _spy_both(deals.deal_update, leads.views, leads.api.sales)
    lost_code = active_agreement.reason_codes.filter(kind=ReasonKind.LOST).first().code
    reason = lost_code if with_reason else ""
    on_page, in_api = _deal(team["owner"]), _deal(team["owner"])

    _page(team[who]).post(
        f"/leads/{on_page.lead_id}/deals/{on_page.pk}/close/",
        {"outcome": outcome, "lost_reason": reason, "amount": "1200", "confirmed": "yes"},
    )
    api = api_client(team[who]).patch(
        f"/api/v1/deals/{in_api.pk}/",
        {"outcome": outcome, "lost_reason": reason, "amount": "1200"},
        format="json",
    )

    assert len(calls) == 2
    closed = [Deal.objects.get(pk=deal.pk).outcome == outcome for deal in (on_page, in_api)]
    assert closed == [accepted, accepted]
    assert (api.status_code == 200) is accepted
    if accepted:
        stages = {Lead.objects.get(pk=deal.lead_id).stage for deal in (on_page, in_api)}
        assert stages == {StageKey.WON if outcome == DealOutcome.WON else StageKey.LOST}


# --- touch_record ---------------------------------------------------------------------------

TOUCH_CASES = [
    ("owner", "2026-01-05T10:00", False),  # sales does not record marketing's touches
    ("marketer", "1900-01-05T10:00", False),  # outside the history window
    ("marketer", "2026-01-05T10:00", True),
]


@pytest.mark.parametrize(("who", "when", "accepted"), TOUCH_CASES)
def test_a_touch_is_recorded_alike_on_the_page_and_in_the_api(
    who, when, accepted, team, api_client
):
    calls = _spy_both(campaigns.services.touch_record, campaigns.services)
    campaign = CampaignFactory()
    on_page, in_api = LeadFactory(campaign=None), LeadFactory(campaign=None)

    page = _page(team[who]).post(
        f"/campaigns/touches/lead/{on_page.pk}/",
        {"kind": TouchKind.WEBINAR, "occurred_at": when, "campaign": campaign.pk},
    )
    api = api_client(team[who]).post(
        "/api/v1/touches/",
        {
            "lead": in_api.pk,
            "kind": TouchKind.WEBINAR,
            "occurred_at": timezone.make_aware(datetime.fromisoformat(when)).isoformat()
            if not when.startswith("1900")
            else "1900-01-05T10:00:00Z",
            "campaign": campaign.pk,
        },
        format="json",
    )

    recorded = [Touch.objects.filter(lead=lead).exists() for lead in (on_page, in_api)]
    assert recorded == [accepted, accepted]
    assert (api.status_code == 201) is accepted
    if accepted:
        assert len(calls) == 2
        assert page.status_code == 302
        first_touch = {Lead.objects.get(pk=lead.pk).campaign_id for lead in (on_page, in_api)}
        assert first_touch == {campaign.pk}  # the service's rule, on both paths
    else:
        assert page.status_code in (200, 403) and api.status_code in (400, 403)


# --- lead_import_start ----------------------------------------------------------------------

CSV = b"email,first_name\nada@example.com,Ada\ngrace@example.com,Grace\n"


def _import_on_page(client: Client) -> None:
    upload = client.post("/leads/import/", {"file": SimpleUploadedFile("crm.csv", CSV)})
    if upload.status_code != 302:
        return  # refused before the mapping page
    client.post(upload["Location"], {"col_0": "email", "col_1": "first_name", "action": "import"})


@pytest.mark.parametrize(("who", "accepted"), [("owner", False), ("marketer", True)])
def test_an_import_starts_alike_on_the_page_and_in_the_api(who, accepted, team, api_client):
    calls = _spy_both(import_services.lead_import_start, leads.imports.views, leads.api.records)

    _import_on_page(_page(team[who]))
    on_page = set(Lead.objects.values_list("email", flat=True))
    Lead.objects.all().delete()
    api = api_client(team[who]).post(
        "/api/v1/leads/import/", {"file": SimpleUploadedFile("crm.csv", CSV)}, format="multipart"
    )
    in_api = set(Lead.objects.values_list("email", flat=True))

    expected = {"ada@example.com", "grace@example.com"} if accepted else set()
    assert on_page == in_api == expected
    assert (api.status_code == 200) is accepted
    assert len(calls) == (2 if accepted else 0)  # a refused role never reaches a file


_monkeypatch_stack: list = []


def _spy_both(function, *modules) -> list[dict]:
    mp = pytest.MonkeyPatch()
    _monkeypatch_stack.append(mp)
    calls: list[dict] = []

    def spy(**kwargs):
        calls.append(kwargs)
        return function(**kwargs)

    for module in modules:
        assert getattr(module, function.__name__) is function  # the one service, by name
        mp.setattr(module, function.__name__, spy)
    return calls


@pytest.fixture(autouse=True)
def _undo_spies():
    yield
    while _monkeypatch_stack:
        _monkeypatch_stack.pop().undo()
