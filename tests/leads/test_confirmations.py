"""Confirming what matters on the lead page (issue #17, item 4): won, lost, disqualify,
recycle, reject and closing a deal ask first, naming the consequence. Without the
confirmation nothing changes; with it the action happens once. The API never asks."""

from __future__ import annotations

import re
from html import unescape

import pytest

from alignment.models import StageKey
from leads.models import Deal, DealOutcome, Lead, StageEvent
from leads.services.deals import deal_create
from tests.leads.conftest import make_lead

pytestmark = pytest.mark.django_db


def _text(response) -> str:
    return unescape(response.content.decode())


def _snapshot(lead: Lead) -> tuple:
    """Everything a refused or unconfirmed action could have changed on the lead."""
    lead.refresh_from_db()
    return (
        lead.stage,
        lead.stage_entered_at,
        lead.sla_due_at,
        list(lead.stage_events.values_list("pk", flat=True)),
        list(lead.deals.values_list("pk", "outcome", "amount")),
    )


def _asks(response, *words: str) -> None:
    """The answer is the confirmation page, naming the consequence, that posts again."""
    assert response.status_code == 200
    body = _text(response)
    assert 'class="card confirm-page"' in body
    assert 'name="confirmed" value="yes"' in body
    for word in words:
        assert word in body, word


@pytest.fixture
def sql_lead(team):
    return make_lead(
        email="ana@acme.pl",
        stage=StageKey.SQL,
        owner=team[0],
        first_name="Ana",
        last_name="Lopez",
    )


# --- moving the stage ---------------------------------------------------------------------


def test_the_move_form_has_no_stage_chosen_and_marks_the_moves_that_ask(client, sql_lead):
    client.force_login(sql_lead.owner)
    body = _text(client.get(f"/leads/{sql_lead.pk}/"))
    move = re.search(r'<form[^>]*id="move".*?</form>', body, re.S).group(0)
    assert "data-confirm-options" in move
    select = re.search(r'<select name="to_stage".*?</select>', move, re.S).group(0)
    options = re.findall(r"<option[^>]*>[^<]*</option>", select)
    assert options[0].startswith('<option value=""') and "Choose a stage…" in options[0]
    assert "selected" not in select.replace('<option value="" selected>', "")
    by_value = {re.search(r'value="(\w*)"', o).group(1): o for o in options}
    assert set(by_value) == {"", "opportunity", "recycled", "disqualified", "lost"}
    assert "data-confirm=" not in by_value["opportunity"]
    assert 'data-confirm="Marks Ana Lopez · Acme as lost' in by_value["lost"]
    assert 'data-confirm-label="Mark as lost"' in by_value["lost"]
    assert 'data-confirm="Disqualifies Ana Lopez · Acme' in by_value["disqualified"]
    assert 'data-confirm="Sends Ana Lopez · Acme back to marketing' in by_value["recycled"]


def test_a_move_sent_without_a_stage_is_refused_and_moves_nothing(client, sql_lead):
    client.force_login(sql_lead.owner)
    before = _snapshot(sql_lead)
    response = client.post(f"/leads/{sql_lead.pk}/move/", {"to_stage": "", "confirmed": "yes"})
    assert response.status_code == 200 and "Choose a stage." in _text(response)
    assert _snapshot(sql_lead) == before


@pytest.mark.parametrize(
    ("to", "code", "words"),
    [
        (
            StageKey.LOST,
            "price",
            ["Marks Ana Lopez · Acme as lost", "Reason: Price.", "Mark as lost"],
        ),
        (StageKey.DISQUALIFIED, "spam", ["Disqualifies Ana Lopez · Acme", "Reason: Spam or fake."]),
        (StageKey.RECYCLED, "", ["Sends Ana Lopez · Acme back to marketing to nurture"]),
    ],
)
def test_a_move_out_of_the_funnel_asks_first_and_then_happens_once(
    client, sql_lead, to, code, words
):
    client.force_login(sql_lead.owner)
    url = f"/leads/{sql_lead.pk}/move/"
    data = {"to_stage": to, "reason_code": code, "reason": "Budget went to another project"}
    before = _snapshot(sql_lead)

    asked = client.post(url, data)

    _asks(asked, *words)
    assert _snapshot(sql_lead) == before
    # The page repeats every field, so its button posts the very same move.
    body = _text(asked)
    assert f'name="to_stage" value="{to}"' in body
    assert 'name="reason" value="Budget went to another project"' in body
    assert f'href="/leads/{sql_lead.pk}/#sales"' in body  # Cancel: back, nothing sent

    for _ in range(2):  # confirmed, then the same confirmed post again (a double submit)
        client.post(url, {**data, "confirmed": "yes"})
    sql_lead.refresh_from_db()
    assert sql_lead.stage == to
    assert StageEvent.objects.filter(lead=sql_lead, to_stage=to).count() == 1


def test_a_move_within_the_funnel_asks_nothing(client, team):
    lead = make_lead(email="cy@acme.pl", stage=StageKey.SAL, owner=team[0])
    client.force_login(team[0])
    response = client.post(f"/leads/{lead.pk}/move/", {"to_stage": "sql"})
    assert response.status_code == 302
    assert Lead.objects.get(pk=lead.pk).stage == StageKey.SQL


def test_a_move_to_won_with_an_open_deal_asks_at_the_deal_instead(client, sql_lead):
    deal = deal_create(lead=sql_lead, actor=sql_lead.owner, amount=5000, name="Rollout")
    client.force_login(sql_lead.owner)
    body = _text(client.get(f"/leads/{sql_lead.pk}/"))
    won = re.search(r'<option value="won"[^>]*>', body).group(0)
    assert "data-confirm" not in won  # the move opens the close form, which asks
    response = client.post(f"/leads/{sql_lead.pk}/move/", {"to_stage": "won"})
    assert response.status_code == 200
    body = _text(response)
    assert "confirm-page" not in body
    close = re.search(
        rf'<form[^>]*action="/leads/{sql_lead.pk}/deals/{deal.pk}/close/".*?</form>', body, re.S
    ).group(0)
    # The person chose won: the close form keeps that choice, and asks before closing.
    assert re.search(r'<option value="won"[^>]*selected', close)
    assert 'data-confirm="Closes the deal “Rollout” as won' in close
    assert Lead.objects.get(pk=sql_lead.pk).stage == StageKey.OPPORTUNITY


def test_someone_who_may_not_move_the_lead_is_refused_without_being_asked(client, sql_lead, team):
    client.force_login(team[1])  # another rep
    before = _snapshot(sql_lead)
    response = client.post(
        f"/leads/{sql_lead.pk}/move/", {"to_stage": "lost", "reason_code": "price"}, follow=True
    )
    body = _text(response)
    assert "confirm-page" not in body
    assert "Only the lead's owner or a sales manager may move this lead." in body
    assert _snapshot(sql_lead) == before


# --- rejecting an MQL ---------------------------------------------------------------------


def test_rejecting_an_mql_asks_first_and_then_happens_once(client, team):
    lead = make_lead(
        email="bo@acme.pl", stage=StageKey.MQL, owner=team[0], first_name="Bo", last_name="Li"
    )
    client.force_login(team[0])
    page = _text(client.get(f"/leads/{lead.pk}/"))
    reject = re.search(r'<form[^>]*action="/leads/\d+/reject/"[^>]*>', page).group(0)
    assert 'data-confirm="Rejects Bo Li · Acme and sends it back to marketing' in reject
    url = f"/leads/{lead.pk}/reject/"
    before = _snapshot(lead)

    _asks(client.post(url, {"reason_code": "no-budget"}), "Rejects Bo Li · Acme", "No budget")
    assert _snapshot(lead) == before

    for _ in range(2):
        client.post(url, {"reason_code": "no-budget", "confirmed": "yes"})
    lead.refresh_from_db()
    assert lead.stage == StageKey.RECYCLED
    assert StageEvent.objects.filter(lead=lead, to_stage=StageKey.RECYCLED).count() == 1


def test_a_reject_without_a_reason_is_a_form_error_not_a_question(client, team):
    lead = make_lead(email="bo@acme.pl", stage=StageKey.MQL, owner=team[0])
    client.force_login(team[0])
    response = client.post(f"/leads/{lead.pk}/reject/", {"reason_code": ""})
    assert response.status_code == 200 and "confirm-page" not in _text(response)
    assert Lead.objects.get(pk=lead.pk).stage == StageKey.MQL


# --- closing a deal -----------------------------------------------------------------------


def test_the_close_form_has_no_outcome_chosen(client, sql_lead):
    deal = deal_create(lead=sql_lead, actor=sql_lead.owner, amount=100, name="Pilot")
    client.force_login(sql_lead.owner)
    body = _text(client.get(f"/leads/{sql_lead.pk}/"))
    close = re.search(r'<form[^>]*class="deal-close".*?</form>', body, re.S).group(0)
    assert "data-confirm-options" in close
    outcome = re.search(r'<select name="outcome".*?</select>', close, re.S).group(0)
    options = re.findall(r"<option[^>]*>", outcome)
    assert options[0].startswith('<option value=""')
    assert not any("selected" in o for o in options[1:])
    assert 'data-confirm="Closes the deal “Pilot” as won and marks Ana Lopez · Acme as won.' in (
        outcome
    )
    assert 'data-confirm-label="Close as lost"' in outcome
    response = client.post(
        f"/leads/{sql_lead.pk}/deals/{deal.pk}/close/", {"outcome": "", "confirmed": "yes"}
    )
    assert "Choose won or lost." in _text(response)
    assert Deal.objects.get(pk=deal.pk).outcome == DealOutcome.OPEN


@pytest.mark.parametrize(
    ("outcome", "extra", "stage", "words"),
    [
        (DealOutcome.WON, {}, StageKey.WON, ["Closes the deal “Pilot” as won", "Close as won"]),
        (
            DealOutcome.LOST,
            {"lost_reason": "price"},
            StageKey.LOST,
            ["Closes the deal “Pilot” as lost", "Close as lost"],
        ),
    ],
)
def test_closing_a_deal_asks_first_and_then_happens_once(
    client, sql_lead, outcome, extra, stage, words
):
    deal = deal_create(lead=sql_lead, actor=sql_lead.owner, amount=100, name="Pilot")
    client.force_login(sql_lead.owner)
    url = f"/leads/{sql_lead.pk}/deals/{deal.pk}/close/"
    data = {"outcome": outcome, "amount": "120", **extra}
    before = _snapshot(sql_lead)

    _asks(client.post(url, data), *words)
    assert _snapshot(sql_lead) == before

    first = client.post(url, {**data, "confirmed": "yes"})
    again = client.post(url, {**data, "confirmed": "yes"})
    assert first.status_code == 302
    assert "A closed deal cannot change." in _text(again)  # refused, not closed twice
    assert "confirm-page" not in _text(again)  # nor asked again
    deal.refresh_from_db()
    sql_lead.refresh_from_db()
    assert deal.outcome == outcome and sql_lead.stage == stage
    assert StageEvent.objects.filter(lead=sql_lead, to_stage=stage).count() == 1


# --- the API never asks ---------------------------------------------------------------------


def test_the_api_moves_and_closes_without_any_confirmation(api_client, sql_lead, team):
    api = api_client(sql_lead.owner)
    response = api.post(
        f"/api/v1/leads/{sql_lead.pk}/transition/",
        {"to": "lost", "reason_code": "price"},
        format="json",
    )
    assert response.status_code == 200
    assert Lead.objects.get(pk=sql_lead.pk).stage == StageKey.LOST
    other = make_lead(email="cy@acme.pl", stage=StageKey.SQL, owner=team[0])
    deal = deal_create(lead=other, actor=team[0], amount=100)
    response = api.patch(f"/api/v1/deals/{deal.pk}/", {"outcome": "won"}, format="json")
    assert response.status_code == 200
    assert Deal.objects.get(pk=deal.pk).outcome == DealOutcome.WON


# --- reverting a move -----------------------------------------------------------------------


@pytest.fixture
def accepted(team):
    return make_lead(
        email="ana@acme.pl", stage=StageKey.SAL, owner=team[0], first_name="Ana", last_name="Lopez"
    )


def _revert_url(lead: Lead) -> str:
    event = lead.stage_events.order_by("-occurred_at", "-id").first()
    return f"/leads/{lead.pk}/revert/{event.pk}/"


def test_a_sales_manager_is_offered_the_revert_of_the_latest_move_and_a_rep_is_not(
    client, accepted, sales_manager, team
):
    client.force_login(sales_manager)
    body = _text(client.get(f"/leads/{accepted.pk}/"))
    form = re.search(r'<form[^>]*id="revert"[^>]*>', body).group(0)
    assert f'action="{_revert_url(accepted)}"' in form
    assert (
        'data-confirm="Takes Ana Lopez · Acme back from Sales accepted (SAL) to Marketing '
        "qualified (MQL)." in form
    )
    client.force_login(team[0])
    assert 'id="revert"' not in _text(client.get(f"/leads/{accepted.pk}/"))


def test_reverting_on_the_page_asks_first_and_then_happens_once(client, accepted, sales_manager):
    client.force_login(sales_manager)
    url = _revert_url(accepted)
    before = _snapshot(accepted)

    _asks(
        client.post(url, {"reason": "Accepted the wrong Ana"}),
        "Takes Ana Lopez · Acme back from Sales accepted (SAL) to Marketing qualified (MQL).",
        "Revert this move",
    )
    assert _snapshot(accepted) == before

    first = client.post(url, {"reason": "Accepted the wrong Ana", "confirmed": "yes"})
    again = client.post(url, {"reason": "Accepted the wrong Ana", "confirmed": "yes"}, follow=True)
    assert first.status_code == 302
    assert "This move has already been reverted." in _text(again)
    accepted.refresh_from_db()
    assert accepted.stage == StageKey.MQL
    assert StageEvent.objects.filter(lead=accepted, source=StageEvent.Source.REVERT).count() == 1
    assert set(before[3]) <= set(accepted.stage_events.values_list("pk", flat=True))


def test_a_revert_without_a_reason_is_a_form_error_not_a_question(client, accepted, sales_manager):
    client.force_login(sales_manager)
    response = client.post(_revert_url(accepted), {"reason": "", "confirmed": "yes"})
    body = _text(response)
    assert response.status_code == 200 and "confirm-page" not in body
    assert "Say why this move is reverted." in body
    assert Lead.objects.get(pk=accepted.pk).stage == StageKey.SAL


def test_a_rep_posting_a_revert_is_refused_without_being_asked(client, accepted):
    client.force_login(accepted.owner)
    before = _snapshot(accepted)
    response = client.post(_revert_url(accepted), {"reason": "Mine"}, follow=True)
    body = _text(response)
    assert "confirm-page" not in body and "Only a sales manager may revert" in body
    assert _snapshot(accepted) == before


def test_a_won_lead_is_not_reverted_on_the_page_the_deal_decides(client, sql_lead, sales_manager):
    deal = deal_create(lead=sql_lead, actor=sql_lead.owner, amount=100)
    client.force_login(sql_lead.owner)
    client.post(
        f"/leads/{sql_lead.pk}/deals/{deal.pk}/close/", {"outcome": "won", "confirmed": "yes"}
    )
    before = _snapshot(sql_lead)
    assert before[0] == StageKey.WON
    client.force_login(sales_manager)
    response = client.post(
        _revert_url(sql_lead), {"reason": "Too early", "confirmed": "yes"}, follow=True
    )
    assert "Close or correct the deal instead." in _text(response)
    assert _snapshot(sql_lead) == before
