"""Permissions matrix: every role against every object-bearing page and API endpoint.

The URL conf is walked (tests/urlwalk.py: pages and API, router routes included); RULES
names every URL: either why it bears no object of another user, or which roles may
read/write another user's (or team's) object through it, per shared/DESIGN.md's roles:

- everyone reads the shared records (leads, deals, campaigns, agreements, intel,
  disputes, battlecards); a rep works only their own leads, a sales manager the team's;
- marketing changes campaigns, battlecards, answers intel; managers sign; the executive
  resolves disputes;
- webhook subscriptions, notifications and uploads are their owner's alone; import runs
  their creator's, a marketing manager's and an executive's.

A refused request answers 403/404 (pages may also send the person back with a message:
302), changes nothing, and leaks none of the object's private fields. A URL added later
without a rule fails test_every_url_has_a_rule.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client
from rest_framework.authtoken.models import Token

from alignment.accounts.roles import Role
from alignment.models import (
    Agreement,
    Battlecard,
    Competitor,
    Dispute,
    FieldIntel,
    Notification,
    StageKey,
    WebhookSubscription,
)
from campaigns.models import Campaign
from leads.models import ChannelAlias, Deal, FollowUp, Lead, LeadImport, SavedView
from metrics.models import Territory, TerritoryChange, TerritoryCountry
from tests.factories import CampaignFactory, SpendEntryFactory, UserFactory
from tests.leads.conftest import make_lead
from tests.urlwalk import all_routes

pytestmark = pytest.mark.django_db

ROLES = [Role.SALES_REP, Role.SALES_MANAGER, Role.MARKETER, Role.MARKETING_MANAGER, Role.EXECUTIVE]
ALL = frozenset(ROLES)
NOBODY: frozenset[str] = frozenset()
SALES_MANAGER = frozenset({Role.SALES_MANAGER})
MARKETING = frozenset({Role.MARKETER, Role.MARKETING_MANAGER})
MANAGERS = frozenset({Role.SALES_MANAGER, Role.MARKETING_MANAGER})
AGREEMENT_EDITORS = MARKETING | SALES_MANAGER
EXECUTIVE = frozenset({Role.EXECUTIVE})


@dataclass(frozen=True)
class Check:
    """One request on another user's object: who may, and what it sends."""

    obj: str  # key of the world's object whose pk fills the URL
    method: str = "GET"
    allowed: frozenset[str] = ALL
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class NoObject:
    """A URL that bears no other user's object (lists scope themselves; see their tests)."""

    why: str


LIST = NoObject("a list or form of the user's own scope")
PUBLIC = NoObject("public or the user's own session")

RULES: dict[str, NoObject | list[Check]] = {
    "home": LIST,
    "healthz": PUBLIC,
    "login": PUBLIC,
    "logout": PUBLIC,
    # leads (pages)
    "leads:list": LIST,
    "leads:queue": LIST,
    "leads:agenda": LIST,
    "leads:calendar-reset": LIST,
    # Opened by a secret token, not a session: tests/leads/test_agenda_plan.py.
    "leads:calendar-feed": NoObject("the user's own feed, opened by its secret token"),
    "leads:team": LIST,
    "leads:ledger": LIST,
    "leads:ledger-csv": LIST,
    "leads:import": LIST,
    "leads:import-run": [Check("run", allowed=frozenset({Role.MARKETING_MANAGER, Role.EXECUTIVE}))],
    "leads:import-report": [
        Check("run", allowed=frozenset({Role.MARKETING_MANAGER, Role.EXECUTIVE}))
    ],
    "leads:import-map": [Check("upload", allowed=NOBODY)],
    # Channel aliases are shared: the list is read by whoever sees imports, edited by
    # marketing (tests/leads/imports/test_channel_aliases.py).
    "leads:import-aliases": LIST,
    "leads:import-alias-delete": [Check("alias", "POST", MARKETING)],
    "leads:detail": [Check("lead")],
    "leads:create": LIST,
    "leads:export": LIST,
    # Bulk actions act on leads every role reads; reassigning is checked per role in
    # tests/leads/test_lead_list.py (a rep's bulk reassign changes nothing).
    "leads:bulk": NoObject("bulk actions on leads every role reads; reassign: see its test"),
    "leads:view-save": LIST,
    "leads:view-delete": [Check("saved_view", "POST", NOBODY)],
    "search": LIST,
    "leads:edit": [
        Check("lead", "GET", SALES_MANAGER | MARKETING),
        Check(
            "lead",
            "POST",
            SALES_MANAGER | MARKETING,
            {"email": "edited@example.com", "company": "Changed", "country": "PL"},
        ),
    ],
    "leads:merge": [
        Check("lead", "GET", MANAGERS),
        Check("lead", "POST", MANAGERS, {"duplicate": "@mql_lead", "reason": "Same person"}),
    ],
    "leads:follow-up-create": [
        Check("lead", "POST", SALES_MANAGER, {"kind": "call", "outcome": "connected"})
    ],
    "leads:claim": [Check("lead", "POST", NOBODY)],
    "leads:reassign": [Check("lead", "POST", SALES_MANAGER, {"owner": "@rep"})],
    "leads:move": [Check("lead", "POST", SALES_MANAGER, {"to_stage": "sql"})],
    "leads:accept": [Check("mql_lead", "POST", SALES_MANAGER)],
    "leads:reject": [Check("mql_lead", "POST", SALES_MANAGER, {"reason_code": "@reject"})],
    "leads:deal-create": [Check("sql_lead", "POST", SALES_MANAGER, {"amount": "100"})],
    "leads:deal-close": [Check("deal", "POST", SALES_MANAGER, {"outcome": "won"})],
    # Only a sales manager reverts a move (the allowed one is asked to confirm first).
    "leads:revert": [Check("stage_event", "POST", SALES_MANAGER, {"reason": "A slip"})],
    # campaigns (pages)
    "campaigns:list": LIST,
    "campaigns:list-csv": LIST,
    "campaigns:create": LIST,
    "campaigns:detail": [Check("campaign")],
    "campaigns:edit": [
        Check(
            "campaign",
            "POST",
            MARKETING,
            {
                "name": "Renamed",
                "channel": "paid_search",
                "status": "planned",
                "starts_on": "2026-01-05",
                "budget": "10",
            },
        ),
    ],
    "campaigns:spend-add": [
        Check("campaign", "POST", MARKETING, {"date": "2026-01-06", "amount": "5"})
    ],
    "campaigns:spend-entry": [
        Check("spend", "GET", MARKETING),
        Check("spend", "POST", MARKETING, {"date": "2026-01-06", "amount": "7", "reason": "Typo"}),
    ],
    "campaigns:spend-remove": [
        Check("spend", "POST", MARKETING, {"reason": "Entered twice", "confirmed": "yes"})
    ],
    "campaigns:collateral-add": [
        Check("campaign", "POST", MARKETING, {"title": "Deck", "url": "https://x.test/d"})
    ],
    "campaigns:collateral-delete": [Check("campaign", "POST", MARKETING, {"collateral": "@col"})],
    "campaigns:collateral-download": [Check("col_file")],
    "campaigns:briefing": [Check("campaign", "POST", MARKETING, {"body": "Call them"})],
    "campaigns:acknowledge": [
        Check("campaign", "POST", frozenset({Role.SALES_REP, Role.SALES_MANAGER}))
    ],
    "campaigns:launch": [Check("campaign", "POST", MARKETING, {"confirm": "on"})],
    "campaigns:touch-record": [
        Check("lead", "POST", MARKETING, {"kind": "webinar", "occurred_at": "2026-01-05T10:00"})
    ],
    # agreement (pages)
    "alignment:agreement": LIST,
    "alignment:draft-new": LIST,
    "alignment:edit": [Check("draft"), Check("draft", "POST", AGREEMENT_EDITORS)],
    "alignment:backtest": [Check("draft", "POST", AGREEMENT_EDITORS)],
    "alignment:propose": [Check("draft", "POST", AGREEMENT_EDITORS)],
    "alignment:sign": [Check("proposed", "POST", MANAGERS)],
    # metrics and account (pages)
    "metrics:dashboard": LIST,
    "metrics:records": LIST,
    "metrics:records-csv": LIST,
    "metrics:targets": LIST,
    "metrics:pack": LIST,
    "metrics:pack-csv": LIST,
    "metrics:scorecards-csv": LIST,
    "metrics:scorecards-recompute": LIST,
    "account:profile": PUBLIC,
    "account:language": PUBLIC,
    # feedback (pages)
    "feedback:intel": LIST,
    "feedback:intel-csv": LIST,
    "feedback:intel-new": LIST,
    "feedback:intel-detail": [Check("intel")],
    "feedback:intel-respond": [
        Check("intel", "POST", MARKETING, {"status": "acknowledged", "response": "ok"})
    ],
    "feedback:battlecards": LIST,
    "feedback:battlecard-new": LIST,
    "feedback:battlecard-detail": [Check("battlecard")],
    "feedback:battlecard-edit": [
        Check("battlecard", "POST", MARKETING, {"competitor_name": "Rival", "summary": "x"})
    ],
    "feedback:disputes": LIST,
    "feedback:disputes-csv": LIST,
    "feedback:dispute-new": LIST,
    "feedback:dispute-detail": [Check("dispute")],
    "feedback:dispute-resolve": [
        Check("dispute", "POST", EXECUTIVE, {"decision": "shared", "resolution_note": "ok"})
    ],
    "feedback:notifications": LIST,
    "handoffs:list": LIST,
    "feedback:notifications-read-all": LIST,
    "feedback:notification-read": [Check("notification", "POST", NOBODY)],
    "feedback:notification-preferences": PUBLIC,
    # API
    "api-token": PUBLIC,
    "api-schema": PUBLIC,
    "api-docs": PUBLIC,
    "api-stages": LIST,
    "api-agreements": LIST,
    "api-agreement-active": LIST,
    "api-agreement": [Check("draft")],
    "api-agreement-propose": [Check("draft", "POST", AGREEMENT_EDITORS)],
    "api-agreement-sign": [Check("proposed", "POST", MANAGERS)],
    # A read through POST (the backtest's window): every role reads the agreement and its
    # backtest, as on the draft editor's page.
    "api-agreement-backtest": [
        Check("draft", "POST", ALL, {"start": "2026-01-01", "end": "2026-02-01"})
    ],
    "api-leads": LIST,
    "api-lead-import": LIST,
    "api-lead-import-run": [
        Check("run", allowed=frozenset({Role.MARKETING_MANAGER, Role.EXECUTIVE}))
    ],
    "api-lead": [
        Check("lead"),
        Check("lead", "PATCH", SALES_MANAGER | MARKETING, {"company": "Changed"}),
        Check("lead", "DELETE", NOBODY),
    ],
    "api-search": LIST,
    "api-lead-merge": [
        Check("lead", "POST", MANAGERS, {"duplicate": "@mql_lead", "reason": "Same person"})
    ],
    "api-lead-transition": [Check("lead", "POST", SALES_MANAGER, {"to": "sql"})],
    "api-lead-follow-ups": [
        Check("lead"),
        Check("lead", "POST", SALES_MANAGER, {"kind": "call", "outcome": "connected"}),
    ],
    "api-lead-claim": [Check("lead", "POST", frozenset({Role.SALES_REP, Role.SALES_MANAGER}))],
    "api-lead-reassign": [Check("lead", "POST", SALES_MANAGER, {"owner": "@rep"})],
    "api-deals": LIST,
    "api-deal": [Check("deal"), Check("deal", "PATCH", SALES_MANAGER, {"name": "Changed"})],
    "api-campaigns": LIST,
    "api-campaign-kpis": LIST,
    "api-campaign": [
        Check("campaign"),
        Check("campaign", "PATCH", MARKETING, {"description": "Changed"}),
    ],
    "api-campaign-spend": [
        Check("campaign"),
        Check("campaign", "POST", MARKETING, {"date": "2026-01-06", "amount": "5"}),
    ],
    "api-campaign-spend-entry": [
        Check("spend"),
        Check("spend", "PATCH", MARKETING, {"amount": "7", "reason": "Invoice"}),
    ],
    "api-touches": LIST,
    "api-intel": LIST,
    "api-intel-detail": [
        Check("intel"),
        Check("intel", "PATCH", MARKETING, {"status": "acknowledged"}),
    ],
    "api-disputes": LIST,
    "api-dispute": [
        Check("dispute"),
        Check("dispute", "PATCH", EXECUTIVE, {"decision": "shared", "resolution_note": "ok"}),
    ],
    "api-dispute-resolve": [
        Check("dispute", "POST", EXECUTIVE, {"decision": "shared", "resolution_note": "ok"})
    ],
    "api-webhooks": LIST,
    "api-webhook": [Check("webhook", allowed=NOBODY), Check("webhook", "DELETE", NOBODY)],
    "api-webhook-deliveries": [Check("webhook", allowed=NOBODY)],
    "api-metrics": LIST,
    "api-scorecards": LIST,
    # territories (pages): every role reads them, only a sales manager changes one
    "territories:list": LIST,
    "territories:detail": [Check("territory")],
    "territories:edit": [
        Check("territory", "GET", SALES_MANAGER),
        Check("territory", "POST", SALES_MANAGER, {"name": "Renamed", "countries": "PL, DE"}),
    ],
}

# What only the owner may see: none of it may show up in a refused answer.
SECRETS = {
    "webhook": ["https://secret-hook.example/receive", "s3cr3t-signing-key"],
    "notification": ["Private note for the owner"],
    "run": ["owners-private-file.csv"],
    "upload": ["uploaded-by-someone-else.csv"],
}


def test_every_url_has_a_rule():
    names = {name for name, _route in all_routes()}
    assert names, "the URL walk found nothing"
    missing = sorted(names - RULES.keys())
    assert not missing, f"URLs without a permissions rule in RULES: {missing}"
    stale = sorted(RULES.keys() - names)
    assert not stale, f"RULES for URLs that no longer exist: {stale}"


def test_every_api_route_is_walked_router_routes_included():
    routes = dict(all_routes())
    assert routes["api-lead"] == "api/v1/leads/<int:pk>/"
    assert all(isinstance(RULES[n], (NoObject, list)) for n in routes)


# --- the world: every role, and objects owned by someone else -------------------------------


@pytest.fixture
def world(db, tmp_path, settings):
    from alignment.agreement.services import agreement_create_default
    from alignment.feedback.services import dispute_raise, intel_submit
    from campaigns.services import collateral_add

    settings.MEDIA_ROOT = tmp_path
    agreement = agreement_create_default()
    users = {role: UserFactory(username=f"who-{role}", role=role) for role in ROLES}
    owner_rep = UserFactory(username="owner-rep", role=Role.SALES_REP)
    owner_marketer = UserFactory(username="owner-mkt", role=Role.MARKETER)

    lead = make_lead(email="shared-lead@example.com", stage=StageKey.SAL, owner=owner_rep)
    mql_lead = make_lead(email="mql-lead@example.com", stage=StageKey.MQL, owner=owner_rep)
    sql_lead = make_lead(email="sql-lead@example.com", stage=StageKey.SQL, owner=owner_rep)
    deal_lead = make_lead(email="deal-lead@example.com", stage=StageKey.OPPORTUNITY,
                          owner=owner_rep)  # fmt: skip
    deal = Deal.objects.create(lead=deal_lead, owner=owner_rep, amount=Decimal("500.00"))
    stage_event = lead.stage_events.order_by("-occurred_at", "-id").first()  # mql → sal
    campaign = CampaignFactory(owner=owner_marketer, name="Owned campaign")
    spend = SpendEntryFactory(campaign=campaign, created_by=owner_marketer)
    collateral = collateral_add(
        actor=owner_marketer, title="Deck", url="https://x.test/deck", campaign=campaign
    )
    prices = SimpleUploadedFile("prices.csv", b"plan,price\nStarter,290\n")
    col_file = collateral_add(actor=owner_marketer, title="Prices", file=prices, stage_key="sql")
    from alignment.agreement.services import agreement_draft_create, agreement_propose

    draft = agreement_draft_create(user=owner_marketer, title="Someone's draft")
    proposed = agreement_propose(
        agreement=agreement_draft_create(user=owner_marketer, title="Proposed"),
        user=owner_marketer,
    )
    intel = intel_submit(author=owner_rep, kind="competitor", text="Rival is cheaper", lead=lead)
    dispute = dispute_raise(
        user=owner_marketer, lead=mql_lead, kind="lead_quality", reason="good lead"
    )
    battlecard = Battlecard.objects.create(
        competitor=Competitor.objects.create(name="Rival Inc"), summary="s"
    )
    webhook = WebhookSubscription.objects.create(
        owner=owner_marketer,
        url=SECRETS["webhook"][0],
        events=["lead.created"],
        secret=SECRETS["webhook"][1],
    )
    notification = Notification.objects.create(
        recipient=owner_marketer, event="x", dedupe_key="x", title=SECRETS["notification"][0]
    )
    run = LeadImport.objects.create(created_by=owner_marketer, filename=SECRETS["run"][0])
    saved_view = SavedView.objects.create(
        user=owner_rep, list_key="leads", name="Mine", query="state=open"
    )
    return {
        "users": users,
        "rep": owner_rep,
        "agreement": agreement,
        "lead": lead,
        "mql_lead": mql_lead,
        "sql_lead": sql_lead,
        "deal": deal,
        "stage_event": stage_event,
        "campaign": campaign,
        "col": collateral,
        "spend": spend,
        "col_file": col_file,
        "draft": draft,
        "proposed": proposed,
        "intel": intel,
        "dispute": dispute,
        "battlecard": battlecard,
        "webhook": webhook,
        "notification": notification,
        "run": run,
        "saved_view": saved_view,
        "upload": type("Upload", (), {"pk": "0123456789abcdef0123456789abcdef"})(),
        "alias": ChannelAlias.objects.create(alias="walk-alias", channel="other"),
        "territory": Territory.objects.create(name="A manager's territory", code="theirs"),
    }


# --- the matrix -------------------------------------------------------------------------------


def _fingerprint(world: dict[str, Any]) -> tuple:
    """Everything a refused write could have changed."""
    from alignment.models import AgreementSignature
    from campaigns.models import BriefingAcknowledgment, Collateral, SpendEntry

    return (
        list(Lead.objects.order_by("pk").values_list("pk", "owner", "stage", "company")),
        FollowUp.objects.count(),
        list(Deal.objects.order_by("pk").values_list("pk", "name", "outcome", "amount")),
        list(
            Campaign.objects.order_by("pk").values_list(
                "pk", "name", "description", "status", "launched_at"
            )
        ),
        list(SpendEntry.objects.order_by("pk").values_list("pk", "date", "amount")),
        Collateral.objects.count(),
        BriefingAcknowledgment.objects.count(),
        list(Agreement.objects.order_by("pk").values_list("pk", "status", "title")),
        AgreementSignature.objects.count(),
        list(FieldIntel.objects.values_list("pk", "status", "response")),
        list(Dispute.objects.values_list("pk", "status", "decision")),
        list(Battlecard.objects.values_list("pk", "summary")),
        list(WebhookSubscription.objects.values_list("pk", "is_active")),
        list(Notification.objects.values_list("pk", "read_at")),
        LeadImport.objects.count(),
        SavedView.objects.count(),
        list(Territory.objects.order_by("pk").values_list("pk", "name")),
        list(TerritoryCountry.objects.order_by("pk").values_list("pk", "territory", "country")),
        TerritoryChange.objects.count(),
        ChannelAlias.objects.count(),
    )


def _resolve(value: Any, world: dict[str, Any]) -> Any:
    if value == "@rep":
        return world["users"][Role.SALES_REP].pk
    if value == "@mql_lead":
        return world["mql_lead"].pk
    if value == "@col":
        return world["col"].pk
    if value == "@reject":
        from alignment.models import ReasonCode

        code = ReasonCode.objects.filter(agreement=world["agreement"]).first()
        return code.code if code is not None else "x"
    return value


def _url(name: str, world: dict[str, Any], check: Check) -> str:
    from django.urls import reverse

    route = dict(all_routes())[name]
    params = re.findall(r"<(?:\w+:)?(\w+)>", route)
    obj = world[check.obj]
    kwargs = {params[0]: obj.pk}
    if "deal_pk" in params:
        kwargs = {"pk": obj.lead_id, "deal_pk": obj.pk}
    if "event_pk" in params:
        kwargs = {"pk": obj.lead_id, "event_pk": obj.pk}
    if "entry_pk" in params:
        kwargs = {"pk": obj.campaign_id, "entry_pk": obj.pk}
    if "token" in params:
        kwargs = {"token": obj.pk}
    return reverse(name, kwargs=kwargs)


def _request(name: str, check: Check, role: str, world: dict[str, Any]) -> str | None:
    """Send one request; None when the answer is right, else what is wrong."""
    user = world["users"][role]
    url = _url(name, world, check)
    data = {k: _resolve(v, world) for k, v in check.data.items()}
    is_api = url.startswith("/api/")
    client = Client()
    if is_api:
        token, _created = Token.objects.get_or_create(user=user)
        client.defaults["HTTP_AUTHORIZATION"] = f"Token {token.key}"
    else:
        client.force_login(user)
    before = _fingerprint(world)
    method = check.method.lower()
    if is_api and method != "get":
        response = getattr(client, method)(url, json.dumps(data), content_type="application/json")
    elif method in ("get", "delete"):
        response = getattr(client, method)(url)
    else:
        response = client.post(url, data)
    body = b"".join(response.streaming_content) if response.streaming else response.content
    text = body.decode(errors="replace")
    status = response.status_code
    where = f"{role} {check.method} {url} ({name}) -> {status}"

    if status >= 500:
        return f"{where}: server error"
    if role in check.allowed:
        if status in (401, 403, 404, 405):
            return f"{where}: refused, but the role may: {text[:200]}"
        if check.method == "GET" and status != 200:
            return f"{where}: a read the role may do did not answer 200"
        return None
    if is_api:
        if status not in (403, 404):
            return f"{where}: expected 403/404: {text[:200]}"
        if not set(json.loads(body)) <= {"detail"}:
            return f"{where}: the refusal carries fields: {text[:200]}"
    elif check.method == "GET" and status not in (302, 403, 404):
        return f"{where}: expected 403/404 (or a redirect away)"
    for secret in SECRETS.get(check.obj, []):
        if secret in text:
            return f"{where}: leaks {secret!r}"
    if check.method != "GET" and _fingerprint(world) != before:
        return f"{where}: a refused write changed the object"
    return None


def test_each_role_reaches_another_users_object_only_where_its_role_allows(world):
    """The whole matrix in one world; every request runs in a savepoint rolled back after."""
    problems = []
    count = 0
    for name, rule in RULES.items():
        if not isinstance(rule, list):
            continue
        for check in rule:
            for role in ROLES:
                count += 1
                with transaction.atomic():
                    problem = _request(name, check, role, world)
                    transaction.set_rollback(True)
                if problem:
                    problems.append(problem)
    assert count > 250
    assert not problems, "\n".join(problems)


def test_lists_show_only_the_users_own_private_objects(world):
    """Webhooks, notifications and import runs of another user never show in a list."""
    for role, user in world["users"].items():
        client = Client()
        client.force_login(user)
        token = Token.objects.create(user=user)
        hooks = client.get("/api/v1/webhooks/", HTTP_AUTHORIZATION=f"Token {token.key}")
        assert hooks.status_code == 200 and hooks.json()["results"] == [], role
        page = client.get("/feedback/notifications/").content.decode()
        assert SECRETS["notification"][0] not in page, role
        imports = client.get("/leads/import/").content.decode()
        sees_runs = role in (Role.MARKETING_MANAGER, Role.EXECUTIVE)
        assert (SECRETS["run"][0] in imports) == sees_runs, role
