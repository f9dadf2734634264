"""The demo company: users for every role, territories, campaigns and a slice of leads.

Deterministic (a fixed random seed, dates relative to today) and idempotent: users,
territories and campaigns are upserted; lead history is generated only once.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from alignment.models import Agreement, StageKey
from alignment.roles import Role
from alignment.services import agreement_create_default
from campaigns.models import Campaign, CampaignStatus, Channel, SpendEntry, Touch, TouchKind
from leads.models import (
    Deal,
    DealOutcome,
    FollowUp,
    FollowUpKind,
    FollowUpOutcome,
    Lead,
    SourceChannel,
    StageEvent,
)
from metrics.models import Territory, TerritoryCountry, TerritoryMember

DEMO_PASSWORD = "accord-demo"

DEMO_USERS: list[tuple[str, str, str, str | None]] = [
    ("rep", "Rina", "Wijaya", Role.SALES_REP),
    ("rep2", "Piotr", "Nowak", Role.SALES_REP),
    ("salesmgr", "Sam", "Okafor", Role.SALES_MANAGER),
    ("marketer", "Maya", "Lindqvist", Role.MARKETER),
    ("mktmgr", "Marta", "Kowalska", Role.MARKETING_MANAGER),
    ("exec", "Evelyn", "Hart", Role.EXECUTIVE),
    ("admin", "Ada", "Admin", None),
]

TERRITORIES = {
    "emea": ("EMEA", ["PL", "DE", "GB", "FR", "NL", "SE", "ES", "IT"], True, "rep"),
    "apac": ("APAC", ["ID", "SG", "MY", "AU", "PH", "TH", "VN"], False, "rep2"),
}

CAMPAIGNS = [
    ("Q-Search: CRM alignment", Channel.PAID_SEARCH, "google", "cpc", "crm-alignment", 12000),
    (
        "Webinar: Ending the lead blame game",
        Channel.WEBINAR,
        "webinar",
        "event",
        "lead-blame",
        4000,
    ),
    ("LinkedIn: Revenue teams", Channel.SOCIAL, "linkedin", "paid-social", "revenue-teams", 8000),
    ("Nurture: Playbook e-mail series", Channel.EMAIL, "newsletter", "email", "playbook", 1500),
]

COMPANIES = [
    "Nordlicht GmbH",
    "Baltic Freight",
    "Kopi Nusantara",
    "Vistula Software",
    "Harbor Analytics",
    "Sakura Components",
    "Lumen Retail",
    "Garuda Logistics",
    "Orchid Health",
    "Tatra Energy",
    "Merlion Finance",
    "Atlas Tooling",
    "Java Textiles",
    "Danube Foods",
    "Kangaroo Media",
]
FIRST = [
    "Anna",
    "Budi",
    "Chloe",
    "Dewi",
    "Erik",
    "Fatima",
    "Grzegorz",
    "Hana",
    "Ivan",
    "Joanna",
    "Kevin",
    "Lestari",
    "Marek",
    "Nadia",
    "Oskar",
    "Putri",
    "Rafael",
    "Siti",
    "Tomasz",
    "Ursula",
]
LAST = [
    "Kowalski",
    "Santoso",
    "Müller",
    "Tan",
    "Smith",
    "Wiśniewska",
    "Halim",
    "Dubois",
    "Lee",
    "Novak",
]
TITLES = [
    "Head of Sales",
    "Marketing Director",
    "Operations Manager",
    "CEO",
    "Analyst",
    "Director of Revenue",
    "Sales Manager",
    "Student",
    "Head of Growth",
    "IT Lead",
]
INDUSTRIES = ["Software", "Logistics", "Retail", "Manufacturing", "Finance", "Healthcare"]


@dataclass
class DemoSummary:
    users: int
    leads_created: int


def _ensure_users() -> dict[str, object]:
    User = get_user_model()
    users: dict[str, object] = {}
    for username, first, last, role in DEMO_USERS:
        user, created = User.objects.get_or_create(
            username=username,
            defaults={
                "first_name": first,
                "last_name": last,
                "email": f"{username}@accord.example",
            },
        )
        if created:
            user.set_password(DEMO_PASSWORD)
        user.is_staff = user.is_superuser = role is None
        user.save()
        if role:
            user.groups.set([Group.objects.get(name=role)])
        users[username] = user
    return users


def _ensure_territories(users: dict[str, object]) -> dict[str, Territory]:
    territories = {}
    for code, (name, countries, is_default, rep) in TERRITORIES.items():
        territory, _ = Territory.objects.update_or_create(
            code=code,
            defaults={"name": name, "is_default": is_default, "manager": users["salesmgr"]},
        )
        for country in countries:
            TerritoryCountry.objects.update_or_create(
                country=country, defaults={"territory": territory}
            )
        TerritoryMember.objects.get_or_create(territory=territory, user=users[rep])
        territories[code] = territory
    return territories


def _ensure_campaigns(
    users: dict[str, object], territories: dict[str, Territory], today: date
) -> list[Campaign]:
    campaigns = []
    for index, (name, channel, source, medium, utm, budget) in enumerate(CAMPAIGNS):
        campaign, created = Campaign.objects.get_or_create(
            name=name,
            defaults={
                "channel": channel,
                "utm_source": source,
                "utm_medium": medium,
                "utm_campaign": utm,
                "starts_on": today - timedelta(weeks=8 - index),
                "ends_on": today + timedelta(weeks=4 + index),
                "budget": Decimal(budget),
                "owner": users["marketer"] if index % 2 == 0 else users["mktmgr"],
                "status": CampaignStatus.LIVE,
                "description": f"{name}: demand for the sales–marketing alignment story.",
            },
        )
        if created:
            campaign.target_territories.set(territories.values())
            weekly = Decimal(budget) / 12
            SpendEntry.objects.bulk_create(
                SpendEntry(
                    campaign=campaign,
                    date=campaign.starts_on + timedelta(weeks=w),
                    amount=weekly.quantize(Decimal("0.01")),
                    note="Weekly media spend",
                )
                for w in range(0, 8 - index)
            )
        campaigns.append(campaign)
    return campaigns


# The path a lead takes and the chance it moves on at each step (a realistic waterfall).
_PATH = [
    (StageKey.MQL, 0.45),
    (StageKey.SAL, 0.70),
    (StageKey.SQL, 0.55),
    (StageKey.OPPORTUNITY, 0.60),
    (StageKey.WON, 0.35),
]


def _generate_leads(
    *,
    rng: random.Random,
    users: dict[str, object],
    territories: dict[str, Territory],
    campaigns: list[Campaign],
    agreement: Agreement,
    now: datetime,
    count: int,
) -> int:
    country_territory = {
        c: t for t in territories.values() for c in t.countries.values_list("country", flat=True)
    }
    rep_of = {territories["emea"].pk: users["rep"], territories["apac"].pk: users["rep2"]}
    sla_hours = {s.key: s.sla_hours for s in agreement.stages.all()}
    created = 0
    for i in range(count):
        country = rng.choice(list(country_territory))
        territory = country_territory[country]
        campaign = rng.choice([*campaigns, None])
        created_at = now - timedelta(days=rng.uniform(0, 56))
        first, last = rng.choice(FIRST), rng.choice(LAST)
        lead = Lead.objects.create(
            email=f"{first.lower()}.{last.lower()}.{i}@demo-{rng.randint(1, 40)}.example",
            external_id=f"demo-{i}",
            first_name=first,
            last_name=last,
            company=rng.choice(COMPANIES),
            title=rng.choice(TITLES),
            country=country,
            industry=rng.choice(INDUSTRIES),
            company_size=rng.choice([5, 20, 60, 150, 400, 1200]),
            source=rng.choice([c.value for c in SourceChannel][:8]),
            campaign=campaign,
            territory=territory,
            created_at=created_at,
            inquiry_at=created_at,
            stage_entered_at=created_at,
        )
        events = [
            StageEvent(
                lead=lead, to_stage=StageKey.INQUIRY, occurred_at=created_at, source="import"
            )
        ]
        if campaign:
            Touch.objects.create(
                lead=lead, campaign=campaign, kind=TouchKind.FORM_FILL, occurred_at=created_at
            )
        stage, at = StageKey.INQUIRY, created_at
        rep = rep_of[territory.pk]
        for next_stage, chance in _PATH:
            step = timedelta(hours=rng.uniform(2, 24 * 6))
            if at + step > now or rng.random() > chance:
                # Some leads fall out along the way, with a reason.
                if stage == StageKey.MQL and at + step < now and rng.random() < 0.5:
                    reject_to = rng.choice([StageKey.RECYCLED, StageKey.DISQUALIFIED])
                    events.append(
                        StageEvent(
                            lead=lead,
                            from_stage=stage,
                            to_stage=reject_to,
                            occurred_at=at + step,
                            actor=rep,
                            reason_code="wrong-fit"
                            if reject_to == StageKey.RECYCLED
                            else "student",
                            reason="Not a fit for now",
                            agreement=agreement,
                        )
                    )
                    stage, at = reject_to, at + step
                elif stage == StageKey.OPPORTUNITY and at + step < now and rng.random() < 0.6:
                    events.append(
                        StageEvent(
                            lead=lead,
                            from_stage=stage,
                            to_stage=StageKey.LOST,
                            occurred_at=at + step,
                            actor=rep,
                            reason_code="price",
                            reason="Chose a cheaper tool",
                            agreement=agreement,
                        )
                    )
                    stage, at = StageKey.LOST, at + step
                break
            at += step
            events.append(
                StageEvent(
                    lead=lead,
                    from_stage=stage,
                    to_stage=next_stage,
                    occurred_at=at,
                    actor=None if next_stage == StageKey.MQL else rep,
                    source="automatic" if next_stage == StageKey.MQL else "manual",
                    agreement=agreement,
                )
            )
            setattr(lead, f"{next_stage}_at", at)
            if next_stage == StageKey.MQL:
                lead.owner, lead.assigned_at, lead.qualified_under = rep, at, agreement
                lead.score = rng.randint(agreement.mql_threshold, agreement.mql_threshold + 40)
                lead.score_breakdown = [{"rule": "Demo scoring", "points": lead.score}]
                # Most reps answer inside the SLA; some are late, which the scorecard shows.
                late = rng.random() < 0.2
                answered = at + timedelta(
                    hours=rng.uniform(25, 60) if late else rng.uniform(0.5, 20)
                )
                if answered < now:
                    FollowUp.objects.create(
                        lead=lead,
                        author=rep,
                        kind=FollowUpKind.CALL,
                        outcome=rng.choice(
                            [FollowUpOutcome.CONNECTED, FollowUpOutcome.LEFT_MESSAGE]
                        ),
                        notes="First call after hand-off.",
                        occurred_at=answered,
                        within_sla=not late,
                    )
                    lead.first_follow_up_at = lead.last_activity_at = answered
            stage = next_stage
        lead.stage, lead.stage_entered_at = stage, at
        if stage in (StageKey.RECYCLED, StageKey.DISQUALIFIED, StageKey.LOST):
            setattr(lead, f"{stage}_at", at)
        hours = sla_hours.get(stage)
        lead.sla_due_at = (
            at + timedelta(hours=hours)
            if hours and not (stage == StageKey.MQL and lead.first_follow_up_at)
            else None
        )
        if stage in (StageKey.OPPORTUNITY, StageKey.WON, StageKey.LOST):
            amount = Decimal(rng.randrange(4000, 60000, 500))
            outcome = {StageKey.WON: DealOutcome.WON, StageKey.LOST: DealOutcome.LOST}.get(
                stage, DealOutcome.OPEN
            )
            Deal.objects.create(
                lead=lead,
                owner=rep,
                name=f"{lead.company} – Accord rollout",
                amount=amount,
                expected_close=(at + timedelta(days=30)).date(),
                outcome=outcome,
                closed_at=at if outcome != DealOutcome.OPEN else None,
                lost_reason="price" if outcome == DealOutcome.LOST else "",
                created_at=lead.opportunity_at or at,
            )
        lead.save()
        StageEvent.objects.bulk_create(events)
        created += 1
    return created


@transaction.atomic
def demo_seed(
    *, lead_count: int = 240, today: date | None = None, scorecard_weeks: int = 12
) -> DemoSummary:
    """The demo company (idempotent); `scorecard_weeks` past weeks get their scorecards."""
    now = timezone.now()
    today = today or timezone.localdate()
    agreement = agreement_create_default()
    users = _ensure_users()
    territories = _ensure_territories(users)
    campaigns = _ensure_campaigns(users, territories, today)
    created = 0
    if not Lead.objects.filter(external_id__startswith="demo-").exists():
        created = _generate_leads(
            rng=random.Random(20261122),
            users=users,
            territories=territories,
            campaigns=campaigns,
            agreement=agreement,
            now=now,
            count=lead_count,
        )
    from alignment.demo_feedback import feedback_demo_seed

    demo_leads = Lead.objects.filter(external_id__startswith="demo-").order_by("pk")[:4]
    feedback_demo_seed(leads=list(demo_leads), now=now)
    from campaigns.demo import campaigns_demo_seed

    campaigns_demo_seed(campaigns=campaigns, now=now)
    from leads.services.sales import sla_breaches_check

    sla_breaches_check(now=now)  # the overdue demo leads' breaches, recorded once
    from metrics.demo import metrics_demo_seed

    metrics_demo_seed(today=today, manager=users["salesmgr"], weeks=max(scorecard_weeks - 1, 0))
    return DemoSummary(users=len(users), leads_created=created)
