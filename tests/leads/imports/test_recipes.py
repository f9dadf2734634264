"""The real-data recipes of docs/recipes.md, on small samples of the raw files.

Each test runs `convert_dataset` on raw rows, imports its CSV with the ordinary
`import_leads` command and checks the figures against the raw rows, counted here
independently. tests/fixtures/recipes/README.md says where the samples come from.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from alignment.accounts.roles import Role
from leads.imports.datasets import OLIST_ORIGIN_TO_SOURCE, dataset_rows_read, maven_team_ensure
from leads.imports.importer import lead_import
from leads.models import Deal, DealOutcome, Lead
from metrics.definitions import MetricFilter, metric_value, metric_values_grouped
from metrics.models import Territory, TerritoryMember

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("active_agreement")]

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "recipes"
OLIST_MQLS = FIXTURES / "olist_mqls.csv"
OLIST_DEALS = FIXTURES / "olist_deals.csv"
MAVEN = {
    "pipeline": FIXTURES / "maven_sales_pipeline.csv",
    "teams": FIXTURES / "maven_sales_teams.csv",
    "accounts": FIXTURES / "maven_accounts.csv",
    "products": FIXTURES / "maven_products.csv",
}
OLIST_PERIOD = MetricFilter(start=date(2017, 6, 1), end=date(2018, 6, 2))
OLIST_WINS = MetricFilter(start=date(2017, 6, 1), end=date(2018, 12, 1))
MAVEN_PERIOD = MetricFilter(start=date(2016, 10, 1), end=date(2018, 1, 1))
# The MQL whose deal was won two days before its first contact (Olist's SOURCE.md).
WON_BEFORE_CONTACT = "b91cf8812365f50ff4bda4bcd6206b05"


def _raw(path: Path) -> list[dict[str, str]]:
    return list(dataset_rows_read(str(path)))


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _import(path: Path) -> str:
    out = io.StringIO()
    call_command("import_leads", str(path), "--no-progress", stdout=out, stderr=io.StringIO())
    return out.getvalue()


# --- Olist ----------------------------------------------------------------------------------


@pytest.fixture
def olist_csv(tmp_path) -> Path:
    out = tmp_path / "accord_olist.csv"
    call_command("convert_dataset", "olist", "--mqls", str(OLIST_MQLS), "--deals",
                 str(OLIST_DEALS), "--out", str(out), stdout=io.StringIO())  # fmt: skip
    return out


def test_the_olist_converter_writes_one_row_per_mql_won_when_it_has_a_closed_deal(olist_csv):
    mqls, deals = _raw(OLIST_MQLS), _raw(OLIST_DEALS)
    rows = _read(olist_csv)
    assert [row["external_id"] for row in rows] == [mql["mql_id"] for mql in mqls]
    assert len(rows) == 42
    won = {row["external_id"] for row in rows if row["stage"] == "won"}
    assert won == {deal["mql_id"] for deal in deals} and len(won) == 17
    assert all(row["email"] == f"{row['external_id']}@olist.invalid" for row in rows)
    assert all(row["deal_amount"] == "" for row in rows if row["stage"] == "mql")
    odd = next(row for row in rows if row["external_id"] == WON_BEFORE_CONTACT)
    deal = next(deal for deal in deals if deal["mql_id"] == WON_BEFORE_CONTACT)
    assert odd["won_at"] == deal["won_date"] < odd["mql_at"]  # as the data set has it


def test_the_imported_olist_sample_converts_as_the_raw_rows_say(settings, olist_csv):
    settings.TIME_ZONE = "America/Sao_Paulo"
    mqls, deals = _raw(OLIST_MQLS), _raw(OLIST_DEALS)
    summary = _import(olist_csv)
    assert "42 rows: 42 created, 0 updated, 0 unchanged, 0 with errors" in summary
    assert "; 1 of the created with warnings" in summary  # the deal won before first contact
    odd = Lead.objects.get(external_id=WON_BEFORE_CONTACT)
    assert odd.stage == "won" and odd.won_at == odd.mql_at  # put in funnel order

    won = {deal["mql_id"] for deal in deals}
    assert metric_value(name="mqls", f=OLIST_PERIOD) == len(mqls)
    assert metric_value(name="stage_entries[won]", f=OLIST_WINS) == len(won)
    assert metric_value(name="stage_conversion[mql→won]", f=OLIST_PERIOD) == round(
        len(won) / len(mqls), 4
    )
    assert metric_value(name="revenue", f=OLIST_WINS) == sum(
        Decimal(deal["declared_monthly_revenue"] or "0") for deal in deals
    ).quantize(Decimal("0.01"))

    totals: dict[str, int] = defaultdict(int)
    wins: dict[str, int] = defaultdict(int)
    for mql in mqls:
        source = OLIST_ORIGIN_TO_SOURCE[mql["origin"]]
        totals[source] += 1
        wins[source] += mql["mql_id"] in won
    conversion = "stage_conversion[mql→won]"
    grouped = metric_values_grouped(f=OLIST_PERIOD, by="source", names=[conversion])
    assert {source: values[conversion] for source, values in grouped.items()} == {
        source: round(wins[source] / totals[source], 4) for source in totals
    }

    deal = next(d for d in deals if d["business_segment"])
    lead = Lead.objects.get(external_id=deal["mql_id"])
    assert lead.custom_fields["business_segment"] == deal["business_segment"]
    assert lead.custom_fields["landing_page_id"]
    assert Lead.objects.count() == len(mqls)


def test_the_existing_olist_funnel_sample_converts_the_same_way(tmp_path):
    # tests/fixtures/olist_funnel_sample.csv was made by hand from the same files: its rows,
    # as MQL and deal files, give the same leads through the converter.
    sample = _read(Path(__file__).resolve().parents[2] / "fixtures" / "olist_funnel_sample.csv")
    mqls, deals = tmp_path / "mqls.csv", tmp_path / "deals.csv"
    with mqls.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["mql_id", "first_contact_date", "landing_page_id", "origin"])
        writer.writerows([r["mql_id"], r["first_contact_date"], "", r["origin"]] for r in sample)
    with deals.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["mql_id", "won_date", "declared_monthly_revenue"])
        writer.writerows([r["mql_id"], r["won_date"], ""] for r in sample if r["won_date"])
    out = tmp_path / "accord.csv"
    call_command("convert_dataset", "olist", "--mqls", str(mqls), "--deals", str(deals),
                 "--out", str(out), stdout=io.StringIO())  # fmt: skip
    result = lead_import(rows=_read(out), user=None)
    assert (result.created, result.errors) == (200, 0)
    assert Lead.objects.filter(stage="won").count() == 50


# --- Maven ----------------------------------------------------------------------------------


@pytest.fixture
def maven_csv(tmp_path) -> Path:
    out = tmp_path / "accord_maven.csv"
    call_command(
        "convert_dataset", "maven",
        *[arg for name, path in MAVEN.items() for arg in (f"--{name}", str(path))],
        "--ensure-team", "--out", str(out), stdout=io.StringIO(),
    )  # fmt: skip
    return out


def test_the_maven_team_becomes_reps_and_managers_in_one_territory_per_office():
    teams = _raw(MAVEN["teams"])
    for _run in range(2):  # the second run changes nothing
        result = maven_team_ensure(teams=teams)
    assert result.reps == len(teams) == 21
    assert result.managers == len({row["manager"] for row in teams})
    offices = {row["regional_office"] for row in teams}
    assert set(Territory.objects.values_list("name", flat=True)) == offices
    assert TerritoryMember.objects.count() == len(teams)
    for row in teams:
        member = TerritoryMember.objects.select_related("user", "territory").get(
            user__first_name=row["sales_agent"].split(" ")[0],
            user__last_name=row["sales_agent"].split(" ", 1)[1],
        )
        assert member.territory.name == row["regional_office"]
        assert member.user.groups.filter(name=Role.SALES_REP).exists()
        assert not member.user.has_usable_password()
    managers = get_user_model().objects.filter(groups__name=Role.SALES_MANAGER)
    assert managers.count() == result.managers
    assert all(t.manager in managers for t in Territory.objects.all())


def test_the_imported_maven_sample_wins_and_earns_as_the_raw_rows_say(maven_csv):
    pipeline, teams = _raw(MAVEN["pipeline"]), _raw(MAVEN["teams"])
    report = _import(maven_csv)
    assert f"{len(pipeline)} rows: {len(pipeline)} created, 0 updated" in report
    assert "0 with errors" in report

    won = [row for row in pipeline if row["deal_stage"] == "Won"]
    lost = [row for row in pipeline if row["deal_stage"] == "Lost"]
    assert metric_value(name="stage_entries[won]", f=MAVEN_PERIOD) == len(won) == 12
    assert metric_value(name="revenue", f=MAVEN_PERIOD) == sum(
        Decimal(row["close_value"]) for row in won
    )
    assert metric_value(name="win_rate", f=MAVEN_PERIOD) == round(
        len(won) / (len(won) + len(lost)), 4
    )
    stages = {"Prospecting": "sql", "Engaging": "opportunity", "Won": "won", "Lost": "lost"}
    for row in pipeline:
        lead = Lead.objects.get(external_id=row["opportunity_id"])
        assert lead.stage == stages[row["deal_stage"]]
        assert lead.company == row["account"]  # a blank account stays blank
        assert lead.owner.get_full_name() == row["sales_agent"]

    # Win rate and revenue per regional office: the owners' breakdown, summed per office.
    office = {row["sales_agent"]: row["regional_office"] for row in teams}
    expected: dict[str, list] = defaultdict(lambda: [0, 0, Decimal(0)])
    for row in won + lost:
        counts = expected[office[row["sales_agent"]]]
        counts[0 if row in won else 1] += 1
        counts[2] += Decimal(row["close_value"])
    measured: dict[str, list] = defaultdict(lambda: [0, 0, Decimal(0)])
    for deal in Deal.objects.exclude(outcome=DealOutcome.OPEN).select_related("owner"):
        counts = measured[deal.owner.territory_memberships.get().territory.name]
        counts[0 if deal.outcome == DealOutcome.WON else 1] += 1
        counts[2] += deal.amount if deal.outcome == DealOutcome.WON else 0
    assert dict(measured) == dict(expected)
    for territory in Territory.objects.all():  # the leads are in their owners' territories
        f = MetricFilter(start=MAVEN_PERIOD.start, end=MAVEN_PERIOD.end, territory=territory.pk)
        won_count, lost_count, revenue = expected[territory.name]
        assert metric_value(name="revenue", f=f) == revenue
        assert metric_value(name="win_rate", f=f) == round(won_count / (won_count + lost_count), 4)
    by_owner = metric_values_grouped(f=MAVEN_PERIOD, by="owner", names=["revenue"])
    assert sum(values["revenue"] for values in by_owner.values()) == sum(
        Decimal(row["close_value"]) for row in won
    )


def test_maven_open_opportunities_carry_their_products_list_price(maven_csv):
    _import(maven_csv)
    prices = {row["product"].replace(" ", ""): row for row in _raw(MAVEN["products"])}
    engaging = [row for row in _raw(MAVEN["pipeline"]) if row["deal_stage"] == "Engaging"]
    for row in engaging:
        deal = Deal.objects.get(lead__external_id=row["opportunity_id"])
        assert deal.outcome == DealOutcome.OPEN
        assert deal.amount == Decimal(prices[row["product"].replace(" ", "")]["sales_price"])
    gtx_pro = Lead.objects.filter(custom_fields__product="GTXPro")
    assert gtx_pro.exists()
    assert {lead.custom_fields["series"] for lead in gtx_pro} == {"GTX"}
    assert not Deal.objects.filter(lead__stage="sql").exists()  # Prospecting: no amount yet


def test_importing_the_maven_file_again_changes_nothing(maven_csv):
    _import(maven_csv)
    again = _import(maven_csv)
    assert "48 rows: 0 created, 0 updated, 48 unchanged, 0 with errors" in again


# --- the importer's custom columns ------------------------------------------------------------


def test_a_column_named_custom_colon_name_fills_that_custom_field(tmp_path):
    path = tmp_path / "leads.csv"
    path.write_text("email,custom:Landing Page,custom:\nada@example.com,lp-1,x\n")
    assert "1 created" in _import(path)
    assert Lead.objects.get().custom_fields == {"landing_page": "lp-1"}


def test_an_imported_lead_from_an_unmapped_country_takes_its_owners_territory(rep):
    from metrics.models import TerritoryCountry

    west = Territory.objects.create(name="West", code="west")
    germany = Territory.objects.create(name="DACH", code="dach")
    TerritoryCountry.objects.create(territory=germany, country="DE")
    Territory.objects.create(name="Rest", code="rest", is_default=True)
    TerritoryMember.objects.create(territory=west, user=rep)
    rows = [
        {"email": "a@example.com", "country": "US", "owner_email": rep.email},
        {"email": "b@example.com", "country": "DE", "owner_email": rep.email},
        {"email": "c@example.com", "country": "US"},
    ]
    assert lead_import(rows=rows, user=None).created == 3
    territories = dict(Lead.objects.values_list("email", "territory__code"))
    assert territories == {
        "a@example.com": "west",  # the owner's
        "b@example.com": "dach",  # the country's comes first
        "c@example.com": "rest",  # no owner: the default
    }


def test_the_import_page_offers_a_custom_colon_name_column_as_that_custom_field():
    from leads.imports.views import MappingForm

    form = MappingForm(columns=["email", "custom:Landing Page"])
    field = form.fields["col_1"]
    assert field.initial == "custom:landing_page"
    assert "custom:landing_page" in [value for value, _label in field.choices]
