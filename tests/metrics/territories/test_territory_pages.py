"""Sales managers keep territories on their page (name, countries, reps, the round-robin
order, who is away); round-robin follows what they set; every change is recorded and
shown; nobody else changes a territory."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from alignment.models import StageKey
from config.dates import deployment_date
from metrics.models import Territory, TerritoryChange, TerritoryCountry, TerritoryMember
from tests.factories import TerritoryFactory
from tests.leads.conftest import make_lead

pytestmark = pytest.mark.django_db


def _form(territory: Territory, **overrides: str) -> dict[str, str]:
    """The edit form as the page sends it unchanged, with `overrides`."""
    today = deployment_date()
    data = {
        "name": territory.name,
        "countries": ", ".join(territory.countries.values_list("country", flat=True)),
        "add_rep": "",
    }
    members = territory.members.filter(is_active=True).order_by("position", "user_id")
    for turn, member in enumerate(members, 1):
        prefix = f"m{member.user_id}"
        away = member.is_away_on(today)
        data[f"{prefix}_position"] = str(turn)
        data[f"{prefix}_availability"] = "away" if away else "available"
        until = member.away_until if away else None
        data[f"{prefix}_away_until"] = until.isoformat() if until else ""
    data.update(overrides)
    return data


def _next_owners(count: int, start: int = 0) -> list[str]:
    """The owners the next `count` new MQLs from Poland get, in turn."""
    owners = []
    for index in range(start, start + count):
        lead = make_lead(email=f"mql{index}@acme.pl", stage=StageKey.MQL)
        lead.refresh_from_db()
        owners.append(lead.owner.first_name if lead.owner else None)
    return owners


def _state(territory: Territory) -> tuple:
    territory.refresh_from_db()
    return (
        territory.name,
        sorted(territory.countries.values_list("country", flat=True)),
        list(
            territory.members.order_by("user_id").values_list(
                "user_id", "is_active", "position", "is_away", "away_until"
            )
        ),
        TerritoryChange.objects.count(),
    )


def test_round_robin_goes_in_the_territorys_order(emea, emea_reps):
    assert _next_owners(4) == ["Ana", "Ben", "Cid", "Ana"]


def test_a_manager_reorders_the_reps_and_marks_one_away_and_round_robin_follows(
    client, emea, emea_reps, sales_manager
):
    ana, ben, cid = emea_reps
    assert _next_owners(1) == ["Ana"]
    client.force_login(sales_manager)
    assert client.get(f"/territories/{emea.pk}/edit/").status_code == 200
    back = (deployment_date() + timedelta(days=14)).isoformat()
    response = client.post(
        f"/territories/{emea.pk}/edit/",
        _form(
            emea,
            **{
                f"m{cid.pk}_position": "1",
                f"m{ana.pk}_position": "2",
                f"m{ben.pk}_position": "3",
                f"m{ana.pk}_availability": "away",
                f"m{ana.pk}_away_until": back,
            },
        ),
    )
    assert response.status_code == 302 and response["Location"] == f"/territories/{emea.pk}/"
    # The new order starts at its top; Ana, away, is skipped until she is back.
    assert _next_owners(4, start=1) == ["Cid", "Ben", "Cid", "Ben"]
    change = TerritoryChange.objects.get(territory=emea)
    assert change.actor == sales_manager
    assert change.changes["members"] == [
        ["Ana Rep", "Ben Rep", "Cid Rep"],
        ["Cid Rep", "Ana Rep", "Ben Rep"],
    ]
    assert change.changes["availability"] == [{"Ana Rep": "available"}, {"Ana Rep": back}]
    page = client.get(f"/territories/{emea.pk}/").content.decode()
    assert "Away until" in page and "Cid Rep, Ana Rep, Ben Rep" in page
    assert page.index("Cid Rep") < page.index("Ana Rep") < page.index("Ben Rep")


def test_a_rep_away_until_a_day_gets_leads_again_the_day_after(emea, emea_reps):
    from leads.services import lead_create
    from leads.services.assignment import lead_assign_round_robin

    ana, ben, cid = emea_reps
    today = deployment_date()
    TerritoryMember.objects.filter(user__in=[ben, cid]).update(is_away=True)
    TerritoryMember.objects.filter(user=ana).update(is_away=True, away_until=today)
    lead = lead_create(data={"email": "a@acme.pl", "country": "PL"}, actor=None, score=False)
    assert lead_assign_round_robin(lead=lead) is None  # everyone away today
    tomorrow = timezone.now() + timedelta(days=1)
    assert lead_assign_round_robin(lead=lead, at=tomorrow) == ana


def test_saving_the_form_unchanged_records_nothing(client, emea, emea_reps, sales_manager):
    client.force_login(sales_manager)
    response = client.post(f"/territories/{emea.pk}/edit/", _form(emea), follow=True)
    assert "Nothing changed." in response.content.decode()
    assert not TerritoryChange.objects.exists()


def test_a_manager_renames_adds_countries_and_a_rep_and_removes_another(
    client, emea, emea_reps, outsider, sales_manager
):
    ben = emea_reps[1]
    client.force_login(sales_manager)
    response = client.post(
        f"/territories/{emea.pk}/edit/",
        _form(
            emea,
            name="Europe",
            countries="pl de, gb",
            add_rep=str(outsider.pk),
            **{f"m{ben.pk}_remove": "on"},
        ),
    )
    assert response.status_code == 302
    emea.refresh_from_db()
    assert emea.name == "Europe"
    assert sorted(emea.countries.values_list("country", flat=True)) == ["DE", "GB", "PL"]
    active = emea.members.filter(is_active=True).order_by("position")
    assert [m.user.first_name for m in active] == ["Ana", "Cid", "Dewi"]
    change = TerritoryChange.objects.get()
    assert change.changes["name"] == ["EMEA", "Europe"]
    assert change.changes["countries"] == [["PL"], ["DE", "GB", "PL"]]
    # Ben left: he no longer claims Europe's leads; Dewi joined and does.
    lead = make_lead(email="de@acme.de", country="DE")
    assert lead.territory == emea
    from alignment.accounts.roles import lead_claim_refusal

    assert lead_claim_refusal(user=ben, lead=lead) is not None
    assert lead_claim_refusal(user=outsider, lead=lead) is None


def test_zz_is_refused_on_the_territory_page_and_nothing_changes(
    client, emea, emea_reps, sales_manager
):
    before = _state(emea)
    client.force_login(sales_manager)
    response = client.post(
        f"/territories/{emea.pk}/edit/", _form(emea, name="Europe", countries="PL, ZZ")
    )
    assert response.status_code == 200
    assert "“ZZ” is not an ISO 3166 country code" in response.content.decode()
    assert _state(emea) == before


def test_a_country_of_another_territory_is_refused(client, emea, apac, sales_manager):
    before = _state(emea)
    client.force_login(sales_manager)
    response = client.post(f"/territories/{emea.pk}/edit/", _form(emea, countries="PL, ID"))
    assert "ID belongs to APAC: remove it there first." in response.content.decode()
    assert _state(emea) == before


def test_a_last_day_away_in_the_past_is_refused(client, emea, emea_reps, sales_manager):
    ana = emea_reps[0]
    before = _state(emea)
    client.force_login(sales_manager)
    yesterday = (deployment_date() - timedelta(days=1)).isoformat()
    response = client.post(
        f"/territories/{emea.pk}/edit/",
        _form(emea, **{f"m{ana.pk}_availability": "away", f"m{ana.pk}_away_until": yesterday}),
    )
    assert response.status_code == 200
    assert "The last day away has passed" in response.content.decode()
    assert _state(emea) == before


@pytest.mark.parametrize("who", ["rep", "marketer", "marketing_manager", "executive"])
def test_nobody_but_a_sales_manager_changes_a_territory(request, client, emea, emea_reps, who):
    user = request.getfixturevalue(who)
    before = _state(emea)
    client.force_login(user)
    page = client.get(f"/territories/{emea.pk}/edit/", follow=True)
    assert page.redirect_chain == [(f"/territories/{emea.pk}/", 302)]
    assert "Only a sales manager may change territories." in page.content.decode()
    response = client.post(
        f"/territories/{emea.pk}/edit/", _form(emea, name="Taken over", countries="PL, DE")
    )
    assert response.status_code == 302
    assert _state(emea) == before
    detail = client.get(f"/territories/{emea.pk}/").content.decode()
    assert f"/territories/{emea.pk}/edit/" not in detail


def test_the_service_refuses_a_non_manager_too(emea, emea_reps):
    from django.core.exceptions import PermissionDenied

    from metrics.territories.services import territory_update

    with pytest.raises(PermissionDenied):
        territory_update(territory=emea, actor=emea_reps[0], name="Mine", countries=[], members=[])
    assert _state(emea)[0] == "EMEA"


def test_every_role_reads_the_territories_and_only_managers_see_the_link(
    emea, emea_reps, rep, sales_manager, marketer, executive
):
    for user in (rep, sales_manager, marketer, executive):
        client = Client()
        client.force_login(user)
        listing = client.get("/territories/")
        assert listing.status_code == 200 and "EMEA" in listing.content.decode()
        assert ('href="/territories/"' in listing.content.decode()) == (user == sales_manager)
        assert client.get(f"/territories/{emea.pk}/").status_code == 200


def test_countries_are_named_in_the_readers_language(client, emea, rep):
    TerritoryCountry.objects.create(territory=emea, country="DE")
    client.force_login(rep)
    polish = client.get(f"/territories/{emea.pk}/", HTTP_ACCEPT_LANGUAGE="pl").content.decode()
    assert "Niemcy" in polish and "Polska" in polish
    indonesian = client.get("/territories/", HTTP_ACCEPT_LANGUAGE="id").content.decode()
    assert "Jerman" in indonesian


def test_the_list_takes_the_same_queries_for_more_territories(
    client, emea, emea_reps, sales_manager
):
    client.force_login(sales_manager)
    client.get("/territories/")  # warm: sessions, permissions
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        client.get("/territories/")
    for n in range(4):
        other = TerritoryFactory(name=f"Other {n}")
        TerritoryCountry.objects.create(territory=other, country=["FR", "ES", "IT", "SE"][n])
        TerritoryMember.objects.create(territory=other, user=emea_reps[n % 3])
    with CaptureQueriesContext(connection) as many:
        client.get("/territories/")
    assert len(many) == len(few)
