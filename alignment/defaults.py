"""The default agreement: the demand waterfall with owners, SLAs and starter criteria."""

from __future__ import annotations

from alignment.models import ReasonKind, RuleKind, StageKey, Team

MQL_THRESHOLD = 50

NOTES = (
    "The starting contract between marketing and sales: marketing passes on only leads "
    "that meet these criteria; sales answers every MQL within the SLA and says why it "
    "rejects one."
)

STAGES: list[dict] = [
    {
        "key": StageKey.INQUIRY,
        "name": "Inquiry",
        "owner_team": Team.MARKETING,
        "sla_hours": None,
        "entry_criteria": "A person has raised a hand: form fill, event scan, inbound email.",
        "exit_criteria": "Score reaches the MQL threshold and every must rule passes.",
        "win_probability": "0",
    },
    {
        "key": StageKey.MQL,
        "name": "Marketing qualified lead",
        "owner_team": Team.MARKETING,
        "sla_hours": 24,
        "entry_criteria": "Meets the agreed qualification criteria; routed to a rep.",
        "exit_criteria": "The rep follows up and accepts or rejects it with a reason.",
        "win_probability": "0.02",
    },
    {
        "key": StageKey.SAL,
        "name": "Sales accepted lead",
        "owner_team": Team.SALES,
        "sla_hours": 72,
        "entry_criteria": "A rep has accepted the MQL and owns the next step.",
        "exit_criteria": "Discovery call held: need, budget and timing confirmed.",
        "win_probability": "0.05",
    },
    {
        "key": StageKey.SQL,
        "name": "Sales qualified lead",
        "owner_team": Team.SALES,
        "sla_hours": 168,
        "entry_criteria": "Need, budget, authority and timing confirmed.",
        "exit_criteria": "A proposal or quote is being prepared.",
        "win_probability": "0.15",
    },
    {
        "key": StageKey.OPPORTUNITY,
        "name": "Opportunity",
        "owner_team": Team.SALES,
        "sla_hours": 720,
        "entry_criteria": "A deal with an amount and expected close date exists.",
        "exit_criteria": "Contract signed (won) or the buyer says no (lost).",
        "win_probability": "0.40",
    },
    {
        "key": StageKey.WON,
        "name": "Won",
        "owner_team": Team.SALES,
        "sla_hours": None,
        "entry_criteria": "Contract signed.",
        "exit_criteria": "",
        "win_probability": "1",
    },
    {
        "key": StageKey.LOST,
        "name": "Lost",
        "owner_team": Team.SALES,
        "sla_hours": None,
        "entry_criteria": "The buyer chose not to buy; a reason is recorded.",
        "exit_criteria": "May be recycled to marketing nurture later.",
        "win_probability": "0",
    },
    {
        "key": StageKey.RECYCLED,
        "name": "Recycled to nurture",
        "owner_team": Team.MARKETING,
        "sla_hours": None,
        "entry_criteria": "Not ready now; sent back to marketing with a reason.",
        "exit_criteria": "Re-qualifies as an MQL.",
        "win_probability": "0",
    },
    {
        "key": StageKey.DISQUALIFIED,
        "name": "Disqualified",
        "owner_team": Team.SALES,
        "sla_hours": None,
        "entry_criteria": "Never a fit (student, competitor, spam); a reason is recorded.",
        "exit_criteria": "",
        "win_probability": "0",
    },
]

TRANSITIONS: dict[str, list[str]] = {
    StageKey.INQUIRY: [StageKey.MQL, StageKey.RECYCLED, StageKey.DISQUALIFIED],
    StageKey.MQL: [StageKey.SAL, StageKey.RECYCLED, StageKey.DISQUALIFIED],
    StageKey.SAL: [StageKey.SQL, StageKey.RECYCLED, StageKey.DISQUALIFIED],
    StageKey.SQL: [StageKey.OPPORTUNITY, StageKey.RECYCLED, StageKey.DISQUALIFIED, StageKey.LOST],
    StageKey.OPPORTUNITY: [StageKey.WON, StageKey.LOST],
    StageKey.WON: [],
    StageKey.LOST: [StageKey.RECYCLED],
    StageKey.RECYCLED: [StageKey.MQL, StageKey.DISQUALIFIED],
    StageKey.DISQUALIFIED: [],
}

REASON_CODES: dict[str, list[tuple[str, str]]] = {
    ReasonKind.REJECTION: [
        ("no-budget", "No budget"),
        ("no-authority", "Not a decision maker"),
        ("bad-timing", "Not buying in the next 6 months"),
        ("wrong-fit", "Outside our ideal customer profile"),
        ("bad-contact-data", "Contact data wrong or unreachable"),
        ("existing-customer", "Already a customer"),
    ],
    ReasonKind.LOST: [
        ("price", "Price"),
        ("competitor", "Chose a competitor"),
        ("no-decision", "No decision / stalled"),
        ("product-gap", "Missing capability"),
        ("timing", "Timing"),
    ],
    ReasonKind.DISQUALIFIED: [
        ("spam", "Spam or fake"),
        ("student", "Student or job seeker"),
        ("competitor", "Works for a competitor"),
        ("duplicate", "Duplicate person"),
    ],
}

RULES: list[dict] = [
    {
        "kind": RuleKind.FIT,
        "field": "company_size",
        "operator": "gte",
        "value": 50,
        "points": 20,
        "description": "Company of 50+ employees",
    },
    {
        "kind": RuleKind.FIT,
        "field": "title",
        "operator": "contains",
        "value": "head",
        "points": 15,
        "description": "Head-of title",
    },
    {
        "kind": RuleKind.FIT,
        "field": "title",
        "operator": "contains",
        "value": "director",
        "points": 15,
        "description": "Director title",
    },
    {
        "kind": RuleKind.FIT,
        "field": "source",
        "operator": "in",
        "value": ["referral", "event", "paid_search"],
        "points": 10,
        "description": "High-intent source",
    },
    {
        "kind": RuleKind.MUST,
        "field": "company",
        "operator": "exists",
        "value": None,
        "points": 0,
        "description": "Company is known",
    },
    {
        "kind": RuleKind.ENGAGEMENT,
        "touch_kind": "demo_request",
        "half_life_days": 30,
        "points": 40,
        "description": "Requested a demo",
    },
    {
        "kind": RuleKind.ENGAGEMENT,
        "touch_kind": "pricing_visit",
        "half_life_days": 14,
        "points": 10,
        "description": "Visited pricing",
    },
    {
        "kind": RuleKind.ENGAGEMENT,
        "touch_kind": "webinar",
        "half_life_days": 30,
        "points": 10,
        "description": "Attended a webinar",
    },
    {
        "kind": RuleKind.ENGAGEMENT,
        "touch_kind": "content_download",
        "half_life_days": 21,
        "points": 5,
        "description": "Downloaded content",
    },
]
