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
    SlaBreach,
    SourceChannel,
    StageEvent,
)
from metrics.models import Territory, TerritoryCountry, TerritoryMember

DEMO_PASSWORD = "accord-demo"

DEMO_USERS: list[tuple[str, str, str, str | None]] = [
    ("rep", "Rina", "Wijaya", Role.SALES_REP),
    ("rep2", "Piotr", "Nowak", Role.SALES_REP),
    ("rep3", "Diego", "Alvarez", Role.SALES_REP),
    ("salesmgr", "Sam", "Okafor", Role.SALES_MANAGER),
    ("marketer", "Maya", "Lindqvist", Role.MARKETER),
    ("marketer2", "Ayu", "Lestari", Role.MARKETER),
    ("mktmgr", "Marta", "Kowalska", Role.MARKETING_MANAGER),
    ("exec", "Evelyn", "Hart", Role.EXECUTIVE),
    ("admin", "Ada", "Admin", None),
]

TERRITORIES = {
    "emea": ("EMEA", ["PL", "DE", "GB", "FR", "NL", "SE", "ES", "IT"], True, "rep"),
    "apac": ("APAC", ["ID", "SG", "MY", "AU", "PH", "TH", "VN"], False, "rep2"),
    "amer": ("Americas", ["US", "CA", "BR", "MX"], False, "rep3"),
}
# The demo company's history: leads arrive over the last 26 weeks.
HISTORY_DAYS = 26 * 7

CAMPAIGNS = [
    ("Q-Search: CRM alignment", Channel.PAID_SEARCH, "google", "cpc", "crm-alignment", 48000),
    (
        "Webinar: Ending the lead blame game",
        Channel.WEBINAR,
        "webinar",
        "event",
        "lead-blame",
        16000,
    ),
    ("LinkedIn: Revenue teams", Channel.SOCIAL, "linkedin", "paid-social", "revenue-teams", 32000),
    ("Nurture: Playbook e-mail series", Channel.EMAIL, "newsletter", "email", "playbook", 6000),
    ("Event: Jakarta Sales Summit", Channel.EVENT, "summit", "event", "jakarta-summit", 36000),
    (
        "Content: Alignment benchmark report",
        Channel.CONTENT,
        "report",
        "content",
        "benchmark",
        12000,
    ),
]
# (first week, last week) of each campaign, counted back from today: some ran months ago
# and are completed, the rest are live now.
CAMPAIGN_WEEKS = [(24, -4), (12, -2), (20, -6), (26, -8), (22, 14), (9, -3)]

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
        first_week, last_week = CAMPAIGN_WEEKS[index]
        starts_on = today - timedelta(weeks=first_week)
        ends_on = today - timedelta(weeks=last_week)
        running = ends_on >= today
        campaign, created = Campaign.objects.get_or_create(
            name=name,
            defaults={
                "channel": channel,
                "utm_source": source,
                "utm_medium": medium,
                "utm_campaign": utm,
                "starts_on": starts_on,
                "ends_on": ends_on,
                "budget": Decimal(budget),
                "owner": users[("marketer", "mktmgr", "marketer2")[index % 3]],
                "status": CampaignStatus.LIVE if running else CampaignStatus.COMPLETED,
                "description": f"{name}: demand for the sales–marketing alignment story.",
            },
        )
        if created:
            campaign.target_territories.set(territories.values())
            weeks = max((min(ends_on, today) - starts_on).days // 7, 1)
            weekly = (Decimal(budget) / (first_week - last_week)).quantize(Decimal("0.01"))
            SpendEntry.objects.bulk_create(
                SpendEntry(
                    campaign=campaign,
                    date=starts_on + timedelta(weeks=w),
                    amount=weekly,
                    note="Weekly media spend",
                )
                for w in range(weeks)
            )
        campaigns.append(campaign)
    return campaigns


# The path a lead takes and the chance it moves on at each step (a realistic waterfall).
# MQL→won comes to about 13 %, near the Olist funnel's 10.5 % (842 deals of 8,000 MQLs).
_PATH = [
    (StageKey.MQL, 0.50),
    (StageKey.SAL, 0.75),
    (StageKey.SQL, 0.60),
    (StageKey.OPPORTUNITY, 0.65),
    (StageKey.WON, 0.45),
]


# The meeting that moves a lead on, logged as a follow-up at the transition.
_MEETINGS = {
    StageKey.SAL: (
        FollowUpKind.CALL,
        FollowUpOutcome.INTERESTED,
        "Discovery call: pains confirmed.",
    ),
    StageKey.SQL: (FollowUpKind.DEMO, FollowUpOutcome.MEETING_BOOKED, "Demo with the sales team."),
    StageKey.OPPORTUNITY: (
        FollowUpKind.VISIT,
        FollowUpOutcome.COMPLETED,
        "On-site visit: proposal walked through.",
    ),
}
_NEXT_STEPS = ["Send the proposal", "Call back after the budget meeting", "Book a demo",
               "Joint call with marketing", "Visit the head office"]  # fmt: skip


# Where a lead that stops moving ends up: (chance, [(to stage, reason code, note), ...]).
_EXITS = {
    StageKey.MQL: (0.35, [
        (StageKey.RECYCLED, "no-budget", "No budget this year."),
        (StageKey.RECYCLED, "no-authority", "Talked to an intern; no decision maker yet."),
        (StageKey.RECYCLED, "bad-timing", "Back in the autumn."),
        (StageKey.RECYCLED, "wrong-fit", "Too small for us."),
        (StageKey.RECYCLED, "bad-contact-data", "Phone number and e-mail bounce."),
        (StageKey.DISQUALIFIED, "student", "Writing a thesis on CRMs."),
        (StageKey.DISQUALIFIED, "spam", "Fake form fill."),
    ]),
    StageKey.SAL: (0.3, [
        (StageKey.RECYCLED, "bad-timing", "Interested, but not before next quarter."),
        (StageKey.RECYCLED, "no-budget", "Budget frozen."),
    ]),
    StageKey.SQL: (0.3, [
        (StageKey.LOST, "competitor", "Chose a competitor after the demo."),
        (StageKey.LOST, "no-decision", "Stalled: no decision."),
    ]),
    StageKey.OPPORTUNITY: (0.45, [
        (StageKey.LOST, "price", "Chose a cheaper tool."),
        (StageKey.LOST, "competitor", "Went with the incumbent."),
        (StageKey.LOST, "product-gap", "Needed an ERP connector we lack."),
        (StageKey.LOST, "timing", "Project postponed."),
    ]),
}  # fmt: skip


def _exit(rng: random.Random, stage: str, *, certain: bool) -> tuple[str, str, str] | None:
    chance, exits = _EXITS.get(stage, (0, []))
    return rng.choice(exits) if exits and (certain or rng.random() < chance) else None


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
    rep_of = {territories[code].pk: users[spec[3]] for code, spec in TERRITORIES.items()}
    sla_hours = {s.key: s.sla_hours for s in agreement.stages.all()}
    breaches: list[SlaBreach] = []
    created = 0
    for i in range(count):
        country = rng.choice(list(country_territory))
        territory = country_territory[country]
        created_at = now - timedelta(days=rng.uniform(0, HISTORY_DAYS))
        running = [
            c for c in campaigns if c.starts_on <= timezone.localdate(created_at) <= c.ends_on
        ]
        campaign = rng.choice([*running, None])
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
        last_follow_up = None
        lost_reason = ""
        for next_stage, chance in _PATH:
            step = timedelta(hours=rng.uniform(2, 24 * 6))
            if at + step > now or rng.random() > chance:
                # Some leads fall out along the way, with an agreed reason.
                # A lead stuck for weeks is closed out: queues hold this month's work.
                stale = now - at > timedelta(days=35)
                exit_ = _exit(rng, stage, certain=stale) if at + step < now else None
                if exit_:
                    to_stage, code, why = exit_
                    events.append(
                        StageEvent(
                            lead=lead,
                            from_stage=stage,
                            to_stage=to_stage,
                            occurred_at=at + step,
                            actor=rep,
                            reason_code=code,
                            reason=why,
                            agreement=agreement,
                        )
                    )
                    stage, at = to_stage, at + step
                    lost_reason = code if to_stage == StageKey.LOST else ""
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
                due = at + timedelta(hours=sla_hours.get(StageKey.MQL) or 24)
                if due < min(answered, now):
                    # What check_slas recorded when the deadline passed unanswered.
                    breaches.append(
                        SlaBreach(
                            lead=lead,
                            stage=StageKey.MQL,
                            due_at=due,
                            detected_at=due + timedelta(minutes=5),
                            owner=rep,
                            territory=territory,
                        )
                    )
                if answered < now:
                    last_follow_up = FollowUp.objects.create(
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
            elif (
                next_stage in _MEETINGS and lead.first_follow_up_at and at > lead.first_follow_up_at
            ):
                kind, outcome, notes = _MEETINGS[next_stage]
                last_follow_up = FollowUp.objects.create(
                    lead=lead, author=rep, kind=kind, outcome=outcome, notes=notes, occurred_at=at
                )
                lead.last_activity_at = at
            stage = next_stage
        lead.stage, lead.stage_entered_at = stage, at
        if last_follow_up and stage in (
            StageKey.MQL,
            StageKey.SAL,
            StageKey.SQL,
            StageKey.OPPORTUNITY,
        ):
            # The rep's agenda: a planned next step, a few of them already missed.
            last_follow_up.next_step = rng.choice(_NEXT_STEPS)
            last_follow_up.next_follow_up_at = now + timedelta(hours=rng.uniform(-48, 24 * 12))
            last_follow_up.save(update_fields=["next_step", "next_follow_up_at"])
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
                lost_reason=lost_reason if outcome == DealOutcome.LOST else "",
                created_at=lead.opportunity_at or at,
            )
        lead.save()
        StageEvent.objects.bulk_create(events)
        created += 1
    SlaBreach.objects.bulk_create(breaches, ignore_conflicts=True)
    return created


@transaction.atomic
def demo_seed(
    *, lead_count: int = 640, today: date | None = None, scorecard_weeks: int = 12
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
