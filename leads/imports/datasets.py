"""Public CRM data sets as Accord's ordinary import CSV (docs/recipes.md shows the commands).

Each converter reads the raw rows (dicts, as `csv.DictReader` gives them) and yields rows
in the importer's columns, so the leads then arrive through `lead_import` like any other
file: the converters decide nothing the importer would decide again. Only the small side
files (closed deals, teams, accounts, products) are held in memory; the main file streams.

- Olist marketing funnel (CC BY-NC-SA 4.0): one lead per MQL, won when it has a closed deal.
- Maven CRM sales opportunities (licence unverified): one lead per opportunity, owned by
  its sales agent; `maven_team_ensure` creates those agents, their managers and the three
  regional offices as users and territories first, because the importer only links an
  `owner_email` to an existing active user (an unknown one is a row error).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from alignment.accounts.roles import Role
from metrics.models import Territory, TerritoryMember

# --- Olist -------------------------------------------------------------------------------

# Olist's `origin` as Accord's SourceChannel values (blank: unknown).
OLIST_ORIGIN_TO_SOURCE = {
    "organic_search": "organic_search",
    "paid_search": "paid_search",
    "social": "social",
    "email": "email",
    "referral": "referral",
    "display": "display",
    "direct_traffic": "direct",
    "other": "other",
    "other_publicities": "other",
    "unknown": "unknown",
    "": "unknown",
}
# Closed-deal columns kept as custom fields of the lead (blank values are not stored).
OLIST_DEAL_CUSTOM = [
    "seller_id",
    "sdr_id",
    "sr_id",
    "business_segment",
    "lead_type",
    "lead_behaviour_profile",
    "business_type",
]
OLIST_COLUMNS = [
    "external_id",
    "email",
    "source",
    "created_at",
    "mql_at",
    "won_at",
    "stage",
    "deal_amount",
    "custom:origin",
    "custom:landing_page_id",
    *[f"custom:{name}" for name in OLIST_DEAL_CUSTOM],
]
OLIST_EMAIL_DOMAIN = "olist.invalid"  # RFC 2606: never routable


def olist_rows_convert(
    *, mqls: Iterable[dict[str, str]], deals: Iterable[dict[str, str]]
) -> Iterator[dict[str, str]]:
    """One import row per MQL: an MQL at its first contact, won at its closed deal's date.

    The deal amount is the seller's `declared_monthly_revenue` (0.00 when blank): the only
    money in the data set. Dates pass as the data set gives them: a deal won before its
    first contact (one row in the data set) is the importer's to put in order, and its
    report shows that row as a warning.
    """
    by_mql = {row["mql_id"]: row for row in deals}
    for mql in mqls:
        mql_id = mql["mql_id"].strip()
        first_contact = mql["first_contact_date"].strip()
        origin = (mql.get("origin") or "").strip()
        row = {
            "external_id": mql_id,
            "email": f"{mql_id}@{OLIST_EMAIL_DOMAIN}",
            "source": OLIST_ORIGIN_TO_SOURCE.get(origin, "other"),
            "created_at": first_contact,
            "mql_at": first_contact,
            "won_at": "",
            "stage": "mql",
            "deal_amount": "",
            "custom:origin": origin,
            "custom:landing_page_id": (mql.get("landing_page_id") or "").strip(),
        }
        deal = by_mql.get(mql_id)
        for name in OLIST_DEAL_CUSTOM:
            row[f"custom:{name}"] = (deal.get(name) or "").strip() if deal else ""
        if deal is not None:
            row["won_at"] = deal["won_date"].strip()
            row["stage"] = "won"
            row["deal_amount"] = _amount(deal.get("declared_monthly_revenue"))
        yield row


def _amount(value: str | None) -> str:
    text = (value or "").strip()
    return f"{float(text):.2f}" if text else "0.00"


# --- Maven -------------------------------------------------------------------------------

# deal_stage → the agreed funnel (alignment/agreement/defaults.py). Prospecting is an SQL:
# sales owns it and its next agreed step, SQL → opportunity, is Maven's Prospecting →
# Engaging. Engaging is an opportunity (engage_date is when it began); Won and Lost close it
# on close_date.
MAVEN_STAGE = {"Prospecting": "sql", "Engaging": "opportunity", "Won": "won", "Lost": "lost"}
MAVEN_EMAIL_DOMAIN = "maven.invalid"
# accounts.csv office_location (the account's head office) as ISO 3166 codes.
MAVEN_COUNTRIES = {
    "Belgium": "BE",
    "Brazil": "BR",
    "China": "CN",
    "Germany": "DE",
    "Italy": "IT",
    "Japan": "JP",
    "Jordan": "JO",
    "Kenya": "KE",
    "Korea": "KR",
    "Norway": "NO",
    "Panama": "PA",
    "Philipines": "PH",  # sic in accounts.csv
    "Philippines": "PH",
    "Poland": "PL",
    "Romania": "RO",
    "United States": "US",
}
MAVEN_SECTORS = {"technolgy": "technology"}  # sic in accounts.csv
MAVEN_COLUMNS = [
    "external_id",
    "email",
    "company",
    "industry",
    "company_size",
    "country",
    "source",
    "owner_email",
    "created_at",
    "stage",
    "opportunity_at",
    "won_at",
    "lost_at",
    "deal_amount",
    "custom:product",
    "custom:series",
    "custom:regional_office",
    "custom:manager",
]


def maven_person_email(name: str) -> str:
    """'Moses Frase' → moses.frase@maven.invalid (the data set has names only)."""
    local = ".".join("".join(c for c in part if c.isalnum()) for part in name.lower().split())
    return f"{local}@{MAVEN_EMAIL_DOMAIN}"


def _product_key(name: str) -> str:
    return name.replace(" ", "").lower()  # the pipeline's GTXPro is products.csv's GTX Pro


def maven_rows_convert(
    *,
    pipeline: Iterable[dict[str, str]],
    teams: Iterable[dict[str, str]],
    accounts: Iterable[dict[str, str]],
    products: Iterable[dict[str, str]] = (),
) -> Iterator[dict[str, str]]:
    """One import row per opportunity, owned by its sales agent.

    Won and lost deals carry close_value (0 for every lost one); an open opportunity
    (Engaging) carries its product's list price from products.csv when given, else no
    amount. Prospecting rows have no date at all, so they arrive at import time.
    A blank account stays a blank company.
    """
    team = {row["sales_agent"].strip(): row for row in teams}
    account_rows = {row["account"].strip(): row for row in accounts}
    prices = {_product_key(row["product"]): row for row in products}
    for opportunity in pipeline:
        stage_name = opportunity["deal_stage"].strip()
        stage = MAVEN_STAGE[stage_name]
        agent = opportunity["sales_agent"].strip()
        member = team.get(agent, {})
        account_name = (opportunity.get("account") or "").strip()
        account = account_rows.get(account_name, {})
        product = opportunity["product"].strip()
        listed = prices.get(_product_key(product), {})
        engaged = (opportunity.get("engage_date") or "").strip()
        closed = (opportunity.get("close_date") or "").strip()
        amount = (opportunity.get("close_value") or "").strip()
        if stage == "opportunity" and not amount:
            amount = (listed.get("sales_price") or "").strip()
        sector = (account.get("sector") or "").strip()
        office = (account.get("office_location") or "").strip()
        yield {
            "external_id": opportunity["opportunity_id"].strip(),
            "email": f"{opportunity['opportunity_id'].strip().lower()}@opportunities."
            f"{MAVEN_EMAIL_DOMAIN}",
            "company": account_name,
            "industry": MAVEN_SECTORS.get(sector, sector),
            "company_size": (account.get("employees") or "").strip(),
            "country": MAVEN_COUNTRIES.get(office, ""),
            "source": "outbound",
            "owner_email": maven_person_email(agent),
            "created_at": engaged,
            "stage": stage,
            "opportunity_at": engaged,
            "won_at": closed if stage == "won" else "",
            "lost_at": closed if stage == "lost" else "",
            "deal_amount": amount,
            "custom:product": product,
            "custom:series": (listed.get("series") or "").strip(),
            "custom:regional_office": (member.get("regional_office") or "").strip(),
            "custom:manager": (member.get("manager") or "").strip(),
        }


@dataclass
class TeamResult:
    reps: int
    managers: int
    territories: int


def maven_team_ensure(*, teams: Iterable[dict[str, str]]) -> TeamResult:
    """Users for the agents (sales reps) and managers, a territory per regional office.

    Each agent is an active member of their office's territory (code `maven-<office>`);
    the territory's manager is the first of its managers by name. Running it twice
    changes nothing; it never touches a password or a user it did not name.
    """

    User = get_user_model()
    rows = [row for row in teams if (row.get("sales_agent") or "").strip()]
    groups = {
        role: Group.objects.get_or_create(name=role)[0]
        for role in (Role.SALES_REP, Role.SALES_MANAGER)
    }

    def person(name: str, role: str) -> object:
        email = maven_person_email(name)
        first, _space, last = name.strip().partition(" ")
        user, created = User.objects.get_or_create(
            username=email.split("@")[0],
            defaults={"email": email, "first_name": first, "last_name": last},
        )
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        user.groups.add(groups[role])
        return user

    with transaction.atomic():
        managers: dict[str, object] = {}
        for row in sorted(rows, key=lambda r: r["manager"].strip()):
            name = row["manager"].strip()
            if name and name not in managers:
                managers[name] = person(name, Role.SALES_MANAGER)
        offices: dict[str, Territory] = {}
        for row in sorted(rows, key=lambda r: r["manager"].strip()):
            office = row["regional_office"].strip()
            if office and office not in offices:
                offices[office], _created = Territory.objects.update_or_create(
                    code=f"maven-{office.lower()}",
                    defaults={"name": office, "manager": managers.get(row["manager"].strip())},
                )
        for row in rows:
            rep = person(row["sales_agent"], Role.SALES_REP)
            office = row["regional_office"].strip()
            if office:
                TerritoryMember.objects.update_or_create(
                    territory=offices[office], user=rep, defaults={"is_active": True}
                )
    return TeamResult(reps=len(rows), managers=len(managers), territories=len(offices))


# --- files --------------------------------------------------------------------------------


def dataset_rows_read(path: str) -> Iterator[dict[str, str]]:
    """Stream a raw CSV file's rows (UTF-8, BOM and CRLF tolerated)."""
    with open(path, newline="", encoding="utf-8-sig") as handle:
        yield from csv.DictReader(handle)


def dataset_csv_write(*, rows: Iterable[dict[str, str]], columns: list[str], out: IO[str]) -> int:
    """Write the import CSV; returns the number of rows written."""
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    count = 0
    for row in rows:
        writer.writerow(row)
        count += 1
    return count
