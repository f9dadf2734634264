"""A rep claims only the leads of a territory they work, on the page and over the API alike;
a sales manager claims any lead. A rep's own new lead goes where the rep works."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from alignment.accounts.roles import lead_claim_refusal
from leads.models import Lead
from leads.services import lead_create
from leads.services.assignment import lead_claim
from tests.leads.conftest import make_lead

pytestmark = pytest.mark.django_db

REFUSAL = "which you do not work"


def _free_lead(email: str = "free@acme.pl") -> Lead:
    lead = make_lead(email=email)  # Poland: EMEA's, nobody's yet
    assert lead.owner_id is None and lead.territory.code == "emea"
    return lead


def test_a_rep_outside_the_leads_territory_is_refused_on_the_page_and_nothing_changes(
    client, emea_reps, outsider
):
    lead = _free_lead()
    client.force_login(outsider)
    page = client.get(f"/leads/{lead.pk}/")
    assert page.status_code == 200 and f"/leads/{lead.pk}/claim/" not in page.content.decode()
    response = client.post(f"/leads/{lead.pk}/claim/", follow=True)
    assert response.status_code == 200
    assert REFUSAL in response.content.decode() and "EMEA" in response.content.decode()
    lead.refresh_from_db()
    assert lead.owner_id is None and lead.assigned_at is None


def test_a_rep_outside_the_leads_territory_is_refused_over_the_api_and_nothing_changes(
    api_client, emea_reps, outsider
):
    lead = _free_lead()
    response = api_client(outsider, token=True).post(f"/api/v1/leads/{lead.pk}/claim/")
    assert response.status_code == 403
    assert REFUSAL in response.json()["detail"] and "EMEA" in response.json()["detail"]
    lead.refresh_from_db()
    assert lead.owner_id is None and lead.assigned_at is None


def test_a_rep_of_the_territory_claims_its_lead_on_the_page(client, emea_reps, outsider):
    lead = _free_lead()
    client.force_login(emea_reps[1])
    page = client.get(f"/leads/{lead.pk}/")
    assert f"/leads/{lead.pk}/claim/" in page.content.decode()
    response = client.post(f"/leads/{lead.pk}/claim/", follow=True)
    assert "The lead is yours." in response.content.decode()
    lead.refresh_from_db()
    assert lead.owner == emea_reps[1]


def test_a_rep_of_the_territory_claims_over_the_api(api_client, emea_reps):
    lead = _free_lead()
    response = api_client(emea_reps[2], token=True).post(f"/api/v1/leads/{lead.pk}/claim/")
    assert response.status_code == 200 and response.json()["owner"] == emea_reps[2].pk


def test_a_sales_manager_claims_a_lead_of_any_territory(api_client, emea_reps, sales_manager):
    lead = _free_lead()
    response = api_client(sales_manager, token=True).post(f"/api/v1/leads/{lead.pk}/claim/")
    assert response.status_code == 200 and response.json()["owner"] == sales_manager.pk


def test_a_rep_who_left_the_territory_may_no_longer_claim_its_leads(emea_reps):
    lead = _free_lead()
    emea_reps[0].territory_memberships.update(is_active=False)
    with pytest.raises(PermissionDenied, match=REFUSAL):
        lead_claim(lead_id=lead.pk, user=emea_reps[0])
    assert lead_claim_refusal(user=emea_reps[1], lead=lead) is None


def test_a_taken_lead_says_who_took_it_rather_than_whose_territory_it_is(emea_reps, outsider):
    lead = _free_lead()
    lead_claim(lead_id=lead.pk, user=emea_reps[0])
    with pytest.raises(Exception, match="claimed this lead first"):
        lead_claim(lead_id=lead.pk, user=outsider)


def test_a_rep_creating_a_lead_from_an_unmapped_country_claims_it_into_their_territory(
    outsider, emea
):
    lead = lead_create(
        data={"email": "met@fair.fr", "country": "fr"}, actor=outsider, claim=True, score=False
    )
    assert lead.country == "FR"
    assert (lead.owner, lead.territory.code) == (outsider, "apac")


def test_a_rep_creating_a_lead_of_another_territory_may_not_claim_it_and_nothing_is_written(
    outsider, emea
):
    with pytest.raises(ValidationError) as refused:
        lead_create(
            data={"email": "met@fair.pl", "country": "PL"}, actor=outsider, claim=True, score=False
        )
    assert REFUSAL in refused.value.message_dict["claim"][0]
    assert not Lead.objects.filter(email="met@fair.pl").exists()
    lead = lead_create(data={"email": "met@fair.pl", "country": "PL"}, actor=outsider, score=False)
    assert (lead.owner, lead.territory) == (None, emea)  # without the claim: for EMEA's reps


def test_the_new_lead_page_shows_the_refused_claim_on_its_tick_box(client, outsider, emea):
    client.force_login(outsider)
    response = client.post(
        "/leads/new/",
        {"email": "met@fair.pl", "first_name": "Ola", "last_name": "Nowak", "country": "PL",
         "source": "event", "claim": "on"},
    )  # fmt: skip
    assert response.status_code == 200
    assert REFUSAL in response.content.decode()
    assert not Lead.objects.filter(email="met@fair.pl").exists()


@pytest.mark.parametrize("code", ["ZZ", "zz", "XX", "Poland", "QM"])
def test_lead_create_refuses_a_country_that_is_no_iso_3166_code(code, emea):
    with pytest.raises(ValidationError) as refused:
        lead_create(data={"email": "zz@acme.pl", "country": code}, actor=None, score=False)
    assert "ISO 3166" in refused.value.message_dict["country"][0]
    assert not Lead.objects.filter(email="zz@acme.pl").exists()


def test_lead_update_refuses_zz_and_keeps_the_country(emea, sales_manager):
    from leads.services import lead_update

    lead = _free_lead()
    with pytest.raises(ValidationError) as refused:
        lead_update(lead=lead, data={"country": "ZZ"}, actor=sales_manager)
    assert "ISO 3166" in refused.value.message_dict["country"][0]
    lead.refresh_from_db()
    assert lead.country == "PL"


def test_the_api_answers_zz_with_a_400_on_the_country(api_client, emea, marketer):
    response = api_client(marketer, token=True).post(
        "/api/v1/leads/", {"email": "zz@acme.pl", "country": "ZZ"}, format="json"
    )
    assert response.status_code == 400
    assert "ISO 3166" in str(response.json())
    assert not Lead.objects.filter(email="zz@acme.pl").exists()


def test_the_importer_refuses_zz_on_its_row(emea, marketer):
    from leads.imports.importer import lead_import

    result = lead_import(
        rows=[{"email": "zz@acme.pl", "country": "ZZ"}, {"email": "pl@acme.pl", "country": "pl"}],
        user=marketer,
        filename="countries.csv",
    )
    assert (result.created, result.errors) == (1, 1)
    refused = next(r for r in result.results if r.status == "error")
    assert [e["field"] for e in refused.errors] == ["country"]
    assert "ISO 3166" in refused.errors[0]["message"]
    assert not Lead.objects.filter(email="zz@acme.pl").exists()
    assert Lead.objects.get(email="pl@acme.pl").country == "PL"
