"""The demo company: users for every role, territories, campaigns and a slice of leads.

The leads live their history through the services under the active agreement (scored by
its rules, qualified by its criterion, worked by their reps), so the demo keeps the
agreement as real use would: `check_integrity` finds nothing, the backtest reads it.
Deterministic (fixed random seeds, times relative to now) and idempotent: users,
territories and campaigns are upserted; lead history is generated only once.

It builds one company through every app's services, so it lives in config, the composition
root (with the URLconf and Celery), not in an app: no app imports it.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from alignment.accounts.roles import Role
from alignment.agreement.scoring import score_compute
from alignment.agreement.selectors import Funnel, agreement_active, funnel_for
from alignment.agreement.services import (
    agreement_default_propose,
    agreement_draft_create,
    agreement_propose,
    agreement_sign,
)
from alignment.feedback.demo import feedback_demo_seed
from alignment.models import Agreement, StageKey, Team
from campaigns.demo import campaigns_demo_seed
from campaigns.models import Campaign, CampaignStatus, Channel, SpendEntry, TouchKind
from campaigns.services import touch_record
from config.stored_text import DEAL_OPENED, stored_text
from leads.models import (
    Deal,
    DealOutcome,
    FollowUpKind,
    FollowUpOutcome,
    Lead,
    SlaBreach,
    SourceChannel,
    StageEvent,
)
from leads.selectors import OPEN_STAGES
from leads.services import lead_create, lead_promote_if_qualified, lead_transition, lead_update
from leads.services.deals import deal_close
from leads.services.follow_ups import follow_up_log
from leads.services.rescoring import leads_rescore_sql
from leads.services.sla import sla_breaches_check
from metrics.demo import metrics_demo_seed
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


def _ensure_agreement(users: dict[str, Any]) -> Agreement:
    """The version in force, brought there as the rule asks: proposed, then signed by the
    sales manager for sales and the marketing manager for marketing (agreement_sign).

    A version in force that both teams signed is kept (a second run changes nothing). On
    an empty database the default agreement is proposed; over the one `migrate` installed,
    which nobody signed, the marketing manager proposes a copy of it for signing.
    """
    active = agreement_active()
    if active is not None and {s.team for s in active.signatures.all()} >= set(Team.values):
        return active
    salesmgr, mktmgr = users["salesmgr"], users["mktmgr"]
    if active is None:
        proposal = agreement_default_propose(user=mktmgr)
    else:
        draft = agreement_draft_create(user=mktmgr, base=active)
        proposal = agreement_propose(agreement=draft, user=mktmgr)
    agreement_sign(agreement=proposal, user=salesmgr)
    return agreement_sign(agreement=proposal, user=mktmgr).agreement


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


# --- the leads' history --------------------------------------------------------------------
#
# Every demo lead lives its history through the services, each step at the moment it
# happened: created with its form fill, rescored by the agreement's own rules at every
# touch (it becomes an MQL when its score reaches the threshold with every must rule
# passing, or on a marketing manager's recorded override), routed to its territory's rep,
# followed up, accepted or rejected by that rep, and won or lost with its deal. The demo's
# records are therefore the ones real use writes, and `check_integrity` holds on them.

# The touches a campaign of each channel brings (besides the form fill of a new lead).
_CHANNEL_TOUCHES: dict[str, tuple[str, ...]] = {
    Channel.PAID_SEARCH: (TouchKind.AD_CLICK, TouchKind.PRICING_VISIT, TouchKind.DEMO_REQUEST),
    Channel.WEBINAR: (TouchKind.WEBINAR, TouchKind.CONTENT_DOWNLOAD),
    Channel.SOCIAL: (TouchKind.AD_CLICK, TouchKind.CONTENT_DOWNLOAD, TouchKind.WEBINAR),
    Channel.EMAIL: (TouchKind.EMAIL_CLICK, TouchKind.CONTENT_DOWNLOAD, TouchKind.WEBINAR),
    Channel.EVENT: (TouchKind.EVENT, TouchKind.DEMO_REQUEST),
    Channel.CONTENT: (TouchKind.CONTENT_DOWNLOAD, TouchKind.PAGE_VISIT),
}
# Where a lead brought in by a campaign of each channel says it came from.
_CHANNEL_SOURCE = {
    Channel.PAID_SEARCH: SourceChannel.PAID_SEARCH,
    Channel.WEBINAR: SourceChannel.EMAIL,
    Channel.SOCIAL: SourceChannel.SOCIAL,
    Channel.EMAIL: SourceChannel.EMAIL,
    Channel.EVENT: SourceChannel.EVENT,
    Channel.CONTENT: SourceChannel.ORGANIC_SEARCH,
}
# Leads that found the website on their own.
_OWN_SOURCES = [
    SourceChannel.ORGANIC_SEARCH,
    SourceChannel.ORGANIC_SEARCH,
    SourceChannel.DIRECT,
    SourceChannel.DIRECT,
    SourceChannel.REFERRAL,
    SourceChannel.DISPLAY,
]

# A few buyers come through a person, not a form: a marketing manager hands them to sales
# at once, past the score (an override with its reason, which both teams see). They are
# the wins the criteria miss, so the backtest's recall is a real figure, not 100 %.
_INTRODUCED_SHARE = 0.04
_INTRODUCED_TITLES = ["CEO", "Head of Sales", "Director of Revenue", "Operations Manager"]
_INTRODUCTIONS = [
    "Introduced by a partner: the buyer asked for a call this week; no form activity yet.",
    "Met our CEO at a customer dinner and asked for a proposal; too new to have a score.",
    "Referred by an existing customer, who asked us to call them.",
]
# Some leads leave no company: the must rule keeps them from sales whatever they score.
_NO_COMPANY_SHARE = 0.08

# The contact that moves a lead on from each sales stage, logged as the rep's follow-up.
_MEETINGS = {
    StageKey.MQL: (FollowUpKind.CALL, FollowUpOutcome.CONNECTED, "First call after hand-off."),
    StageKey.SAL: (
        FollowUpKind.CALL,
        FollowUpOutcome.INTERESTED,
        "Discovery call: pains confirmed.",
    ),
    StageKey.SQL: (
        FollowUpKind.DEMO,
        FollowUpOutcome.COMPLETED,
        "Demo with the buying team: they want a proposal.",
    ),
    StageKey.OPPORTUNITY: (
        FollowUpKind.VISIT,
        FollowUpOutcome.COMPLETED,
        "On-site visit: proposal walked through.",
    ),
}
# A first call that does not reach the buyer: effort, but the SLA clock runs on.
_ATTEMPTS = [
    (FollowUpOutcome.NO_ANSWER, "No answer; trying again tomorrow."),
    (FollowUpOutcome.LEFT_MESSAGE, "Left a voicemail asking for a call back."),
]
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
        (StageKey.DISQUALIFIED, "spam", "Fake form fill."),
    ]),
    StageKey.SAL: (0.3, [
        (StageKey.RECYCLED, "", "Interested, but not before next quarter."),
        (StageKey.RECYCLED, "", "Budget frozen."),
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
# A lead stuck in a stage this long is closed out: queues hold this month's work.
_STALE = timedelta(days=35)
# The share of recycled leads that engage again once their rest period is over.
_RETURN_SHARE = 0.4
_RETURN_TOUCHES = [
    TouchKind.WEBINAR,
    TouchKind.DEMO_REQUEST,
    TouchKind.PRICING_VISIT,
    TouchKind.CONTENT_DOWNLOAD,
]


# The touches of a new lead's journey: before a demo request, while researching, at a glance.
_LOOKING_AROUND = [TouchKind.PRICING_VISIT, TouchKind.CONTENT_DOWNLOAD, TouchKind.PAGE_VISIT]
_RESEARCH = [
    TouchKind.CONTENT_DOWNLOAD,
    TouchKind.WEBINAR,
    TouchKind.PRICING_VISIT,
    TouchKind.EMAIL_CLICK,
    TouchKind.PAGE_VISIT,
]
_ONE_LOOK = [TouchKind.EMAIL_OPEN, TouchKind.PAGE_VISIT, TouchKind.CONTENT_DOWNLOAD]


def _ascii(text: str) -> str:
    """`text` without its accents, for the local part of an e-mail address."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def _hours(rng: random.Random, low: float, high: float) -> timedelta:
    return timedelta(hours=rng.uniform(low, high))


def _journey(rng: random.Random, created_at: datetime) -> list[tuple[str, datetime]]:
    """The touches of a new lead after its first form fill: (kind, moment), in order.

    Two in five are ready to buy (they ask for a demo, often at once), two in five research
    (downloads, webinars, pricing), the rest look once and go quiet.
    """
    roll = rng.random()
    touches: list[tuple[str, datetime]] = []
    at = created_at
    if roll < 0.44:
        for _ in range(rng.choice([0, 0, 1, 2])):
            at += _hours(rng, 2, 24 * 4)
            kind = rng.choice(_LOOKING_AROUND)
            touches.append((kind, at))
        at += _hours(rng, 0.05, 0.2) if rng.random() < 0.4 else _hours(rng, 1, 24 * 5)
        touches.append((TouchKind.DEMO_REQUEST, at))
    elif roll < 0.84:
        for _ in range(rng.randint(1, 4)):
            at += timedelta(days=rng.uniform(1, 21))
            kind = rng.choice(_RESEARCH)
            touches.append((kind, at))
    elif rng.random() < 0.5:
        kind = rng.choice(_ONE_LOOK)
        touches.append((kind, at + timedelta(days=rng.uniform(1, 30))))
    return touches


class _History:
    """Lives the demo leads' histories through the services, each step at its moment."""

    def __init__(
        self,
        *,
        seed: int,
        now: datetime,
        funnel: Funnel,
        users: dict[str, Any],
        territories: dict[str, Territory],
        campaigns: list[Campaign],
    ) -> None:
        self.seed, self.now, self.funnel = seed, now, funnel
        self.rng = random.Random(seed)  # replaced by each lead's own stream in `live`
        self.agreement = funnel.agreement
        self.users = users
        self.by_pk = {user.pk: user for user in users.values()}
        self.campaigns = campaigns
        self.territories = territories
        self.countries = [
            country
            for territory in territories.values()
            for country in territory.countries.order_by("country").values_list("country", flat=True)
        ]
        self.breached: set[tuple[int, str, datetime]] = set()
        self.rules = list(self.agreement.rules.all())
        self.touches: dict[int, list[tuple[str, datetime]]] = {}

    # --- what the scoring, the SLA beat job and the services do, at a past moment -----

    def rescore(self, lead: Lead, at: datetime) -> None:
        """The lead's score as of `at` under the agreement's rules, stored as the touch
        rescoring and the nightly decay job keep it."""
        leads_rescore_sql(agreement=self.agreement, now=at, lead_ids=[lead.pk])
        lead.refresh_from_db(fields=["score", "score_breakdown", "scored_at"])

    def beat(self, lead: Lead, at: datetime) -> None:
        """What the SLA beat job had recorded by `at`: the breach of a clock that ran out.

        The record only: its notices would all be stamped today, months after the fact.
        """
        due = lead.sla_due_at
        if due is None or due >= at or lead.stage not in OPEN_STAGES:
            return
        if (lead.pk, lead.stage, due) in self.breached:
            return
        self.breached.add((lead.pk, lead.stage, due))
        SlaBreach.objects.create(
            lead=lead,
            stage=lead.stage,
            due_at=due,
            detected_at=min(due + timedelta(minutes=5), at),
            owner_id=lead.owner_id,
            territory_id=lead.territory_id,
        )

    def touch(self, lead: Lead, kind: str, at: datetime) -> None:
        """A touch arrives: recorded, the lead rescored, promoted if it now qualifies (what
        `touch_record` and `lead_score_refresh` do, at the touch's moment).

        Only a score that may reach the threshold is stored at once (the final rescore
        stores the others): the scoring formula sorts them out in memory, then the stored
        score, judged by the stage service's own criterion, decides.
        """
        campaign = self.campaign_for(lead, kind, at)
        touch_record(lead=lead, kind=kind, occurred_at=at, campaign=campaign, rescore=False)
        seen = self.touches.setdefault(lead.pk, [])
        seen.append((kind, at))
        if lead.stage not in (StageKey.INQUIRY, StageKey.RECYCLED):
            return
        if not self.funnel.allows(lead.stage, StageKey.MQL):
            return
        result = score_compute(lead=lead, rules=self.rules, touches=seen, now=at)
        # One point of slack: the database's arithmetic, not this one, has the last word.
        if result.score < self.agreement.mql_threshold - 1 or not result.passes_must_rules:
            return
        self.rescore(lead, at)
        lead_promote_if_qualified(lead=lead, funnel=self.funnel, at=at)

    def campaign_for(self, lead: Lead, kind: str, at: datetime) -> Campaign | None:
        """The running campaign a touch of `kind` came from: the lead's own if it brings
        such touches, else one that does; None for a visit of the website on its own."""
        day = timezone.localdate(at)
        running = [
            c
            for c in self.campaigns
            if c.starts_on <= day <= c.ends_on and kind in _CHANNEL_TOUCHES.get(c.channel, ())
        ]
        if lead.campaign in running:
            return lead.campaign
        return self.rng.choice(running) if running else None

    def move(self, lead: Lead, to_stage: str, *, actor: Any, at: datetime, **kwargs: Any) -> None:
        """The stage service's move at `at`, the event carrying the score of that moment."""
        self.beat(lead, at)
        self.rescore(lead, at)
        lead_transition(
            lead=lead, to_stage=to_stage, actor=actor, at=at, funnel=self.funnel, **kwargs
        )

    def follow_up(
        self, lead: Lead, *, at: datetime, kind: str, outcome: str, notes: str, plan: bool = False
    ) -> None:
        """The owner logs a follow-up; `plan`: with the next step of a lead that stays open
        (the rep's agenda, a few of its dates already missed)."""
        self.beat(lead, at)
        next_step, next_at = "", None
        if plan:
            next_step = self.rng.choice(_NEXT_STEPS)
            next_at = max(self.now + _hours(self.rng, -48, 24 * 12), at + timedelta(hours=2))
        follow_up_log(
            lead=lead,
            author=self.by_pk[lead.owner_id],
            kind=kind,
            outcome=outcome,
            notes=notes,
            occurred_at=at,
            next_step=next_step,
            next_follow_up_at=next_at,
            funnel=self.funnel,
        )

    def open_deal(self, lead: Lead, at: datetime) -> None:
        """`deal_create` at a past moment: the deal, then the lead's move to opportunity."""
        rep = self.by_pk[lead.owner_id]
        Deal.objects.create(
            lead=lead,
            owner=rep,
            name=f"{lead.company} – Accord rollout",
            amount=Decimal(self.rng.randrange(4000, 60000, 500)),
            expected_close=timezone.localdate(at + timedelta(days=30)),
            created_at=at,
        )
        self.move(
            lead, StageKey.OPPORTUNITY, actor=rep, at=at, reason=stored_text(sentence=DEAL_OPENED)
        )

    def close_deal(self, lead: Lead, at: datetime, outcome: str, lost_reason: str = "") -> None:
        """`deal_close` of the lead's open deal; the lead follows it to won or lost."""
        self.beat(lead, at)
        self.rescore(lead, at)
        deal_close(
            deal=lead.deals.get(outcome=DealOutcome.OPEN),
            actor=self.by_pk[lead.owner_id],
            outcome=outcome,
            lost_reason=lost_reason,
            closed_at=at,
            funnel=self.funnel,
        )
        lead.refresh_from_db()

    # --- one lead's life -----------------------------------------------------------------

    def arrive(self, count: int) -> list[tuple[Lead, random.Random]]:
        """`count` new leads with their inquiry events: the records `lead_create` writes
        (a website form through the API, or a marketing manager typing in an introduction),
        inserted in bulk. Scored at their first touch, or when they are handed over.

        Each lead draws from its own random stream, so a lead whose draws depend on the time
        of day (which campaigns ran on its date) changes no other lead's history.
        """
        now = self.now
        streams = []
        territory_of = {
            country: territory
            for territory in self.territories.values()
            for country in territory.countries.values_list("country", flat=True)
        }
        leads = []
        for index in range(count):
            rng = random.Random(f"{self.seed}:{index}")
            streams.append(rng)
            introduced = rng.random() < _INTRODUCED_SHARE
            created_at = now - timedelta(days=rng.uniform(0, HISTORY_DAYS))
            day = timezone.localdate(created_at)
            running = [c for c in self.campaigns if c.starts_on <= day <= c.ends_on]
            campaign = None if introduced else rng.choice([*running, None])
            if introduced:
                source = rng.choice([SourceChannel.REFERRAL, SourceChannel.PARTNER])
            elif campaign is not None:
                source = _CHANNEL_SOURCE.get(campaign.channel, SourceChannel.OTHER)
            else:
                source = rng.choice(_OWN_SOURCES)
            first, last = rng.choice(FIRST), rng.choice(LAST)
            known = introduced or rng.random() >= _NO_COMPANY_SHARE
            country = rng.choice(self.countries)
            leads.append(
                Lead(
                    email=(
                        f"{_ascii(first).lower()}.{_ascii(last).lower()}.{index}"
                        f"@demo-{rng.randint(1, 40)}.example"
                    ),
                    external_id=f"demo-{index}",
                    first_name=first,
                    last_name=last,
                    company=rng.choice(COMPANIES) if known else "",
                    title=rng.choice(_INTRODUCED_TITLES if introduced else TITLES),
                    country=country,
                    industry=rng.choice(INDUSTRIES),
                    company_size=rng.choice([5, 20, 60, 150, 400, 1200]),
                    source=source,
                    campaign=campaign,
                    territory=territory_of.get(country),
                    created_by=self.users["mktmgr"] if introduced else None,
                    created_at=created_at,
                    inquiry_at=created_at,
                    stage_entered_at=created_at,
                )
            )
        Lead.objects.bulk_create(leads)
        StageEvent.objects.bulk_create(
            StageEvent(
                lead=lead,
                to_stage=StageKey.INQUIRY,
                occurred_at=lead.created_at,
                actor=lead.created_by,
                source=StageEvent.Source.MANUAL if lead.created_by else StageEvent.Source.API,
            )
            for lead in leads
        )
        return list(zip(leads, streams, strict=True))

    def live(self, lead: Lead, rng: random.Random) -> None:
        """One lead's history from its arrival to today, drawn from its own stream."""
        self.rng = rng
        now = self.now
        introduced = lead.created_by_id is not None  # typed in by a marketing manager
        if introduced:
            at = lead.created_at + _hours(rng, 1, 8)
            if at < now:
                self.move(
                    lead,
                    StageKey.MQL,
                    actor=self.users["mktmgr"],
                    at=at,
                    override_reason=rng.choice(_INTRODUCTIONS),
                )
        else:
            self.touch(lead, TouchKind.FORM_FILL, lead.created_at)
            for kind, at in _journey(rng, lead.created_at):
                if at >= now or lead.stage != StageKey.INQUIRY:
                    break
                self.touch(lead, kind, at)
        if lead.stage == StageKey.INQUIRY:
            self.tidy(lead)
            return
        self.sell(lead, introduced=introduced)
        if lead.stage == StageKey.RECYCLED and rng.random() < _RETURN_SHARE:
            # Back from nurture: a touch after the rest period may qualify it again.
            at = max(lead.rest_until or lead.recycled_at, lead.recycled_at) + timedelta(
                days=rng.uniform(1, 45)
            )
            if at < now:
                self.touch(lead, rng.choice(_RETURN_TOUCHES), at)
                if lead.stage == StageKey.MQL:
                    self.sell(lead, introduced=False)

    def tidy(self, lead: Lead) -> None:
        """Marketing disqualifies half of the inquiries that gave no company."""
        if lead.company or self.rng.random() >= 0.5:
            return
        at = lead.created_at + timedelta(days=self.rng.uniform(1, 10))
        if at >= self.now:
            return
        student = "student" in lead.title.lower()
        self.move(
            lead,
            StageKey.DISQUALIFIED,
            actor=self.users["marketer2"],
            at=at,
            reason_code="student" if student else "spam",
            reason="A student's form fill." if student else "No company, made-up name.",
        )

    def sell(self, lead: Lead, *, introduced: bool) -> None:
        """Sales works an MQL stage by stage: a contact, then a decision (move on, drop out
        with an agreed reason, or not yet), until it is won, lost, recycled or waiting."""
        rng, now = self.rng, self.now
        # Better-fitting leads are accepted and won more often: the points the agreement's
        # fit rules gave (the same breakdown the lead page shows). An introduced buyer,
        # vouched for by someone, moves on more readily still.
        fit = sum(e["points"] for e in lead.score_breakdown if e.get("kind") == "fit")
        chances = {
            StageKey.MQL: 0.9 if introduced else 0.62 + fit / 150,
            StageKey.SAL: 0.8 if introduced else 0.6,
            StageKey.SQL: 0.8 if introduced else 0.65,
            StageKey.OPPORTUNITY: 0.6 if introduced else 0.28 + fit / 200,
        }
        while lead.stage in _MEETINGS:
            stage, entered = lead.stage, lead.stage_entered_at
            meet_at = entered + self.meeting_delay(stage)
            decide_at = meet_at + self.decision_delay(stage)
            advance = decide_at < now and rng.random() < chances[stage]
            exit_ = None
            if not advance and decide_at < now:
                exit_ = self.exit_for(lead, stage, certain=now - entered > _STALE)
            unreachable = exit_ is not None and exit_[1] == "bad-contact-data"
            staying = not advance and exit_ is None
            self.meet(lead, stage, entered, meet_at, unreachable=unreachable, plan=staying)
            if advance:
                self.step(lead, stage, decide_at)
                continue
            if exit_ is not None:
                to_stage, code, why = exit_
                if stage == StageKey.OPPORTUNITY:
                    self.close_deal(lead, decide_at, DealOutcome.LOST, lost_reason=code)
                else:
                    rep = self.by_pk[lead.owner_id]
                    self.move(lead, to_stage, actor=rep, at=decide_at, reason_code=code, reason=why)
            return

    def meeting_delay(self, stage: str) -> timedelta:
        """From entering a stage to the contact in it: most inside the stage's SLA."""
        rng = self.rng
        if stage == StageKey.MQL:  # the response: a fifth of the reps answer late
            return _hours(rng, 25, 60) if rng.random() < 0.2 else _hours(rng, 0.5, 20)
        if stage == StageKey.SAL:
            return _hours(rng, 73, 110) if rng.random() < 0.1 else _hours(rng, 2, 48)
        return _hours(rng, 12, 96)

    def decision_delay(self, stage: str) -> timedelta:
        """From the contact to the decision it leads to (a sales cycle of about two weeks)."""
        rng = self.rng
        if stage == StageKey.OPPORTUNITY:
            return _hours(rng, 12, 96)
        return _hours(rng, 1, 72) if stage == StageKey.MQL else _hours(rng, 2, 48)

    def exit_for(self, lead: Lead, stage: str, *, certain: bool) -> tuple[str, str, str] | None:
        """Where a lead that does not move on goes, if anywhere yet (`certain`: it is stale)."""
        chance, exits = _EXITS[stage]
        if not (certain or self.rng.random() < chance):
            return None
        if stage == StageKey.MQL:
            if "student" in lead.title.lower():
                return (StageKey.DISQUALIFIED, "student", "Writing a thesis on CRMs.")
            # Reps reject for the reasons that show: a small company, a junior title.
            weighted = list(exits)
            if (lead.company_size or 0) < 50:
                weighted += [e for e in exits if e[1] == "wrong-fit"] * 2
            if lead.title in ("Analyst", "IT Lead"):
                weighted += [e for e in exits if e[1] == "no-authority"] * 2
            exits = weighted
        return self.rng.choice(exits)

    def meet(
        self,
        lead: Lead,
        stage: str,
        entered: datetime,
        meet_at: datetime,
        *,
        unreachable: bool,
        plan: bool,
    ) -> None:
        """The stage's contact; an MQL's first call is often tried once before it connects,
        and an unreachable lead gets only attempts (the clock runs on)."""
        rng, now = self.rng, self.now
        if stage == StageKey.MQL and (unreachable or rng.random() < 0.35):
            attempt_at = entered + (meet_at - entered) * rng.uniform(0.2, 0.7)
            if attempt_at < now:
                outcome, notes = rng.choice(_ATTEMPTS)
                self.follow_up(
                    lead, at=attempt_at, kind=FollowUpKind.CALL, outcome=outcome, notes=notes
                )
        if meet_at >= now:
            return
        if unreachable:
            self.follow_up(
                lead,
                at=meet_at,
                kind=FollowUpKind.EMAIL,
                outcome=FollowUpOutcome.NO_ANSWER,
                notes="The e-mail bounced; the phone number is wrong.",
            )
            return
        kind, outcome, notes = _MEETINGS[stage]
        self.follow_up(lead, at=meet_at, kind=kind, outcome=outcome, notes=notes, plan=plan)

    def step(self, lead: Lead, stage: str, at: datetime) -> None:
        """The move on from `stage`: accepted, qualified, a deal opened, the deal won."""
        rep = self.by_pk[lead.owner_id]
        if stage == StageKey.MQL:
            self.move(lead, StageKey.SAL, actor=rep, at=at)
        elif stage == StageKey.SAL:
            self.move(lead, StageKey.SQL, actor=rep, at=at)
        elif stage == StageKey.SQL:
            self.open_deal(lead, at)
        else:
            self.close_deal(lead, at, DealOutcome.WON)


def _generate_leads(
    *,
    seed: int,
    users: dict[str, Any],
    territories: dict[str, Territory],
    campaigns: list[Campaign],
    agreement: Agreement,
    now: datetime,
    count: int,
) -> int:
    history = _History(
        seed=seed,
        now=now,
        funnel=funnel_for(agreement=agreement),
        users=users,
        territories=territories,
        campaigns=campaigns,
    )
    for lead, rng in history.arrive(count):
        history.live(lead, rng)
    # Today's scores, engagement decayed since the last touch: what the nightly job keeps.
    leads_rescore_sql(agreement=agreement, now=now)
    return count


def _feedback_leads(*, users: dict[str, Any], now: datetime) -> list[Lead]:
    """The demo leads whose histories fit the feedback stories (alignment/demo_feedback.py),
    in their order; where the demo is too small for a story, the next lead stands in."""
    demo = Lead.objects.filter(external_id__startswith="demo-")
    rep, rep2 = users["rep"], users["rep2"]
    rejected = {  # an MQL its rep turned away before the stories begin
        "stage_events__from_stage": StageKey.MQL,
        "stage_events__occurred_at__lt": now - timedelta(days=6),
    }
    stories = [
        # Rivalix came up 9 days ago: a lead of rep's that was in sales by then.
        demo.filter(owner=rep, sql_at__lt=now - timedelta(days=9)).order_by("-sql_at"),
        # Marketing contests a rejection for no budget (still in nurture).
        demo.filter(
            stage=StageKey.RECYCLED, stage_events__reason_code="no-budget", **rejected
        ).order_by("-recycled_at"),
        # rep2 asks for a one-pager for a lead in sales.
        demo.filter(
            owner=rep2,
            stage__in=[StageKey.SAL, StageKey.SQL, StageKey.OPPORTUNITY],
            stage_entered_at__lt=now - timedelta(days=4),
        ).order_by("-stage_entered_at"),
        # A pricing question on an open opportunity.
        demo.filter(
            owner=rep, stage=StageKey.OPPORTUNITY, opportunity_at__lt=now - timedelta(days=1)
        ).order_by("-opportunity_at"),
        # Sales says a lead it turned away came from a list without buyers.
        demo.filter(
            stage__in=[StageKey.RECYCLED, StageKey.DISQUALIFIED],
            stage_events__reason_code__in=["no-authority", "student"],
            owner=rep,
            **rejected,
        ).order_by("-stage_entered_at"),
    ]
    chosen: list[Lead] = []
    for story in stories:
        taken = [lead.pk for lead in chosen]
        lead = (
            story.exclude(pk__in=taken).first() or demo.exclude(pk__in=taken).order_by("pk").first()
        )
        if lead is None:
            break
        chosen.append(lead)
    return chosen


def _records_demo_seed(*, users: dict[str, Any]) -> None:
    """A corrected phone number on one of rep's leads (its timeline shows the edit), and a
    likely duplicate of another, typed in again from a trade-fair badge scan with a private
    e-mail: the managers' merge page finds it by name and company."""
    rep, marketer = users["rep"], users["marketer"]
    demo = Lead.objects.filter(external_id__startswith="demo-", owner=rep).exclude(company="")
    edited = demo.filter(stage=StageKey.SAL).order_by("pk").first()
    if edited is not None:
        lead_update(
            lead=edited, data={"phone": "+48 601 442 118", "title": edited.title}, actor=rep
        )
    original = demo.filter(stage=StageKey.SQL).order_by("pk").first()
    if original is not None and original.first_name:
        lead_create(
            data={
                "email": f"{_ascii(original.first_name).lower()}.private@example.net",
                "external_id": "demo-duplicate-1",
                "first_name": original.first_name,
                "last_name": original.last_name,
                "company": original.company,
                "country": original.country,
                "source": "event",
            },
            actor=marketer,
        )


@transaction.atomic
def demo_seed(
    *, lead_count: int = 640, today: date | None = None, scorecard_weeks: int = 12
) -> DemoSummary:
    """The demo company (idempotent); `scorecard_weeks` past weeks get their scorecards."""
    now = timezone.now()
    today = today or timezone.localdate()
    users = _ensure_users()
    agreement = _ensure_agreement(users)
    territories = _ensure_territories(users)
    campaigns = _ensure_campaigns(users, territories, today)
    created = 0
    if not Lead.objects.filter(external_id__startswith="demo-").exists():
        created = _generate_leads(
            seed=20261122,
            users=users,
            territories=territories,
            campaigns=campaigns,
            agreement=agreement,
            now=now,
            count=lead_count,
        )
        _records_demo_seed(users=users)
    feedback_demo_seed(leads=_feedback_leads(users=users, now=now), now=now)
    campaigns_demo_seed(campaigns=campaigns, now=now)
    sla_breaches_check(now=now)  # the overdue demo leads' breaches, recorded once
    metrics_demo_seed(today=today, manager=users["salesmgr"], weeks=max(scorecard_weeks - 1, 0))
    return DemoSummary(users=len(users), leads_created=created)
