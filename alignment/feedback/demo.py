"""Demo data of the feedback loop: competitors with battlecards, intelligence, disputes.

Idempotent: it runs once (when no battlecard exists yet) and goes through the services,
so times, notifications and webhooks are recorded as in real use.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib.auth import get_user_model

from alignment.feedback.services import (
    battlecard_save,
    dispute_raise,
    dispute_resolve,
    intel_acknowledge,
    intel_action,
    intel_submit,
)
from alignment.models import Battlecard, Competitor

CARDS = [
    {
        "competitor_name": "Rivalix",
        "website": "https://rivalix.example",
        "summary": "A sales-only CRM that sells on price; strong in mid-market logistics.",
        "differentiators": (
            "One agreed funnel both teams signed\n"
            "Explainable lead scores\n"
            "Weekly alignment scorecard"
        ),
        "table_stakes": "Pipeline views, email sync, mobile app",
        "objections": [
            (
                "Rivalix is 30% cheaper",
                "Count the hours lost to lead blame: the scorecard shows it.",
            ),
            (
                "We already use Rivalix for sales",
                "Import keeps history; both teams see one record.",
            ),
        ],
    },
    {
        "competitor_name": "PipeLane",
        "website": "https://pipelane.example",
        "summary": "A marketing-automation suite with a CRM bolted on.",
        "differentiators": "SLA clock on every MQL; disputes with an arbiter",
        "table_stakes": "Email campaigns, landing pages",
        "objections": [
            ("PipeLane scores leads too", "Ours are agreed by both teams and backtested.")
        ],
    },
]


def feedback_demo_seed(*, leads: list, now: datetime) -> int:
    """Seed a few cards, intel items and disputes; 0 if already done.

    `leads`, in the order of the stories told about them: a lead of rep's in sales for
    over a week (a competitor came up), an MQL rep rejected for no budget (marketing
    disputes it), a lead of rep2's in sales (a content request), an open opportunity of
    rep's (a pricing question), an MQL rep turned away for lack of authority (sales
    disputes the list it came from).
    """
    if Battlecard.objects.exists() or len(leads) < 5:
        return 0
    users = {
        u.username: u
        for u in get_user_model().objects.filter(
            username__in=["rep", "rep2", "salesmgr", "marketer", "mktmgr", "exec"]
        )
    }
    if len(users) < 6:
        return 0
    for card in CARDS:
        battlecard_save(user=users["marketer"], **card)
    rivalix = Competitor.objects.get(name="Rivalix")
    pipelane = Competitor.objects.get(name="PipeLane")
    items = [
        (
            "rep",
            leads[0],
            "competitor",
            "They are also talking to Rivalix; price came up twice.",
            rivalix,
            9,
        ),
        ("rep", leads[1], "objection", "Worried that scoring rules are a black box.", pipelane, 6),
        (
            "rep2",
            leads[2],
            "content_request",
            "A one-pager on the SLA clock for their COO would help.",
            None,
            4,
        ),
        ("rep", leads[3], "pricing", "Asked for a per-team price instead of per seat.", None, 1),
    ]
    created = []
    for username, lead, kind, text, competitor, days in items:
        created.append(
            intel_submit(
                author=users[username],
                lead=lead,
                kind=kind,
                text=text,
                competitor=competitor,
                now=now - timedelta(days=days),
            )
        )
    intel_action(
        intel=created[0],
        user=users["marketer"],
        response="Rivalix battlecard updated with the price objection.",
        now=now - timedelta(days=8),
    )
    intel_acknowledge(
        intel=created[1],
        user=users["mktmgr"],
        response="Good point: we are writing a 'how scores work' page.",
        now=now - timedelta(days=5, hours=20),
    )
    dispute_raise(
        user=users["marketer"],
        lead=leads[1],
        kind="rejection",
        reason="Rejected as 'no budget', but the lead booked a pricing call the week before.",
        now=now - timedelta(days=2),
    )
    resolved = dispute_raise(
        user=users["rep"],
        lead=leads[4],
        kind="lead_quality",
        reason="Came from a student webinar list; nobody with buying power.",
        now=now - timedelta(days=6),
    )
    dispute_resolve(
        dispute=resolved,
        user=users["exec"],
        decision="for_sales",
        note="Agreed: the webinar list needs a title filter before it feeds MQLs.",
        now=now - timedelta(days=4),
    )
    return len(created) + 2
