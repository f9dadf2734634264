"""factory_boy factories: one per concrete model of the project apps (tests/test_factories.py
fails for a model without one). Each builds a valid row: it saves and passes full_clean()."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from alignment.models import (
    Agreement,
    AgreementSignature,
    AgreementStatus,
    Battlecard,
    BattlecardObjection,
    Competitor,
    Dispute,
    DisputeKind,
    DisputeStatus,
    FieldIntel,
    FollowUpKind,
    FollowUpOutcome,
    FunnelStage,
    HandoffAlert,
    HandoffKind,
    HandoffStep,
    IdempotencyKey,
    IntelKind,
    IntelStatus,
    Notification,
    QualificationRule,
    ReasonCode,
    ReasonKind,
    RuleKind,
    RuleOperator,
    StageKey,
    Team,
    UserProfile,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEvent,
    WebhookSubscription,
)
from campaigns.models import (
    Briefing,
    BriefingAcknowledgment,
    Campaign,
    Channel,
    Collateral,
    SpendCorrection,
    SpendEntry,
    Touch,
    TouchKind,
)
from leads.models import (
    CalendarFeed,
    ChannelAlias,
    Correction,
    Deal,
    FollowUp,
    ImportedLead,
    ImportedRange,
    Lead,
    LeadAssignment,
    LeadEdit,
    LeadImport,
    LeadMerge,
    SavedView,
    SlaBreach,
    StageEvent,
)
from metrics.models import (
    LeadDayRollup,
    ResponseDayRollup,
    RollupDirty,
    RollupState,
    Scorecard,
    StageDayRollup,
    Target,
    Territory,
    TerritoryChange,
    TerritoryCountry,
    TerritoryMember,
)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@accord.test")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    password = factory.PostGenerationMethodCall("set_password", "pw-for-tests")

    @factory.post_generation
    def role(self, create: bool, extracted: str | None, **kwargs) -> None:
        if create and extracted:
            self.groups.add(Group.objects.get(name=extracted))
        if create:
            self.save()


class TerritoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Territory
        django_get_or_create = ["code"]

    name = factory.Sequence(lambda n: f"Territory {n}")
    code = factory.Sequence(lambda n: f"t{n}")


class CampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Campaign

    name = factory.Sequence(lambda n: f"Campaign {n}")
    channel = Channel.PAID_SEARCH
    starts_on = factory.LazyFunction(lambda: date(2026, 1, 5))
    budget = Decimal("1000.00")
    owner = factory.SubFactory(UserFactory)


class LeadFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Lead

    email = factory.Sequence(lambda n: f"lead{n}@example.com")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    company = factory.Faker("company")
    created_at = factory.LazyFunction(timezone.now)


class DealFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Deal

    lead = factory.SubFactory(LeadFactory)
    amount = Decimal("1000.00")


def _next_agreement_version() -> int:
    from django.db.models import Max

    return (Agreement.objects.aggregate(top=Max("version"))["top"] or 0) + 1


# The agreement side: a draft version and what hangs off one.


class AgreementFactory(factory.django.DjangoModelFactory):
    """A draft version (the next free number); the signed default comes from the
    `active_agreement` fixture (agreement_create_default), not from here."""

    class Meta:
        model = Agreement

    version = factory.LazyFunction(_next_agreement_version)
    title = factory.Sequence(lambda n: f"Agreement draft {n}")
    status = AgreementStatus.DRAFT


class AgreementSignatureFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AgreementSignature

    agreement = factory.SubFactory(AgreementFactory)
    team = Team.SALES
    signed_by = factory.SubFactory(UserFactory)
    signed_at = factory.LazyFunction(timezone.now)


class FunnelStageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FunnelStage

    agreement = factory.SubFactory(AgreementFactory)
    key = StageKey.INQUIRY
    name = factory.LazyAttribute(lambda stage: StageKey(stage.key).label)
    order = factory.Sequence(lambda n: n % 30000)
    owner_team = Team.MARKETING
    sla_hours = 24
    win_probability = Decimal("0.100")


class ReasonCodeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ReasonCode

    agreement = factory.SubFactory(AgreementFactory)
    kind = ReasonKind.REJECTION
    code = factory.Sequence(lambda n: f"reason-{n}")
    label = factory.Sequence(lambda n: f"Reason {n}")


class QualificationRuleFactory(factory.django.DjangoModelFactory):
    """A fit rule: 20 points for a company of at least 50 employees."""

    class Meta:
        model = QualificationRule

    agreement = factory.SubFactory(AgreementFactory)
    kind = RuleKind.FIT
    field = "company_size"
    operator = RuleOperator.GTE
    value = 50
    points = 20


# Feedback: competitors, battlecards, field intelligence, disputes.


class CompetitorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Competitor
        django_get_or_create = ["name"]

    name = factory.Sequence(lambda n: f"Rival {n}")
    website = factory.LazyAttribute(lambda c: f"https://{c.name.lower().replace(' ', '-')}.example")


class BattlecardFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Battlecard

    competitor = factory.SubFactory(CompetitorFactory)
    summary = "Cheaper up front, dearer to run."
    differentiators = "One funnel both teams signed."
    updated_by = factory.SubFactory(UserFactory)


class BattlecardObjectionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BattlecardObjection

    battlecard = factory.SubFactory(BattlecardFactory)
    objection = "They are cheaper."
    answer = "Count the hours lost to lead blame."


class FieldIntelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FieldIntel

    author = factory.SubFactory(UserFactory)
    kind = IntelKind.COMPETITOR
    text = "They are comparing us with a rival on price."
    status = IntelStatus.NEW
    created_at = factory.LazyFunction(timezone.now)


class DisputeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Dispute

    lead = factory.SubFactory(LeadFactory)
    kind = DisputeKind.REJECTION
    raised_by = factory.SubFactory(UserFactory)
    raised_by_team = Team.MARKETING
    reason = "Rejected as no budget, yet they asked for a quote."
    status = DisputeStatus.OPEN
    created_at = factory.LazyFunction(timezone.now)


# Accounts, notifications, webhooks and idempotency.


class UserProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = UserProfile
        django_get_or_create = ["user"]

    user = factory.SubFactory(UserFactory)
    language = "en"
    time_zone = "Europe/Warsaw"


class CalendarFeedFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CalendarFeed
        django_get_or_create = ["user"]

    user = factory.SubFactory(UserFactory)
    token = factory.Sequence(lambda n: f"feed-token-{n:08d}")


class NotificationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Notification

    recipient = factory.SubFactory(UserFactory)
    event = WebhookEvent.LEAD_QUALIFIED.value
    dedupe_key = factory.Sequence(lambda n: f"lead:{n}")
    title = "A lead became an MQL"
    url = "/leads/"


class WebhookSubscriptionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WebhookSubscription

    owner = factory.SubFactory(UserFactory)
    url = factory.Sequence(lambda n: f"https://hook{n}.example.com/accord")
    events = factory.LazyFunction(lambda: [WebhookEvent.LEAD_CREATED.value])
    secret = factory.Sequence(lambda n: f"whsec-{n:08d}-for-tests")


class WebhookDeliveryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WebhookDelivery

    subscription = factory.SubFactory(WebhookSubscriptionFactory)
    event = WebhookEvent.LEAD_CREATED
    event_key = factory.Sequence(lambda n: f"lead:{n}")
    payload = factory.LazyAttribute(lambda d: {"event": str(d.event), "key": d.event_key})


class WebhookAttemptFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WebhookAttempt

    delivery = factory.SubFactory(WebhookDeliveryFactory)
    status_code = 200
    duration_ms = 42


class IdempotencyKeyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = IdempotencyKey

    user = factory.SubFactory(UserFactory)
    key = factory.Sequence(lambda n: f"idem-{n}")
    method = "POST"
    path = "/api/v1/leads/"
    body_hash = "0" * 64
    response_status = 201
    response_body = factory.LazyFunction(lambda: {"id": 1})


class HandoffAlertFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = HandoffAlert

    kind = HandoffKind.INTEL_ACK
    subject = factory.Sequence(str)
    due_at = factory.LazyFunction(timezone.now)
    step = HandoffStep.REMINDER
    sent_at = factory.LazyFunction(timezone.now)


# Leads: history, follow-ups, SLA breaches, corrections, import runs.


class StageEventFactory(factory.django.DjangoModelFactory):
    """A lead's entry into the funnel (no stage before it)."""

    class Meta:
        model = StageEvent

    lead = factory.SubFactory(LeadFactory)
    from_stage = ""
    to_stage = StageKey.INQUIRY
    occurred_at = factory.LazyFunction(timezone.now)


class FollowUpFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FollowUp

    lead = factory.SubFactory(LeadFactory)
    author = factory.SubFactory(UserFactory)
    kind = FollowUpKind.CALL
    outcome = FollowUpOutcome.CONNECTED
    occurred_at = factory.LazyFunction(timezone.now)
    is_contact = True


class SlaBreachFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SlaBreach

    lead = factory.SubFactory(LeadFactory)
    stage = StageKey.MQL
    due_at = factory.LazyFunction(lambda: timezone.now() - timedelta(hours=1))
    detected_at = factory.LazyFunction(timezone.now)


class CorrectionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Correction

    lead = factory.SubFactory(LeadFactory)
    record = Correction.Record.DEAL
    record_id = 1
    changes = factory.LazyFunction(lambda: {"amount": ["1000.00", "1200.00"]})
    reason = "The signed order says 1,200."
    actor = factory.SubFactory(UserFactory)


class LeadEditFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LeadEdit

    lead = factory.SubFactory(LeadFactory)
    changes = factory.LazyFunction(lambda: {"phone": ["", "+48 600 100 200"]})
    actor = factory.SubFactory(UserFactory)
    source = LeadEdit.Source.PAGE


class LeadMergeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LeadMerge

    survivor = factory.SubFactory(LeadFactory)
    merged_lead_id = factory.Sequence(lambda n: 10_000_000 + n)
    merged_email = factory.Sequence(lambda n: f"duplicate{n}@example.com")
    snapshot = factory.LazyAttribute(lambda merge: {"email": merge.merged_email})
    moved = factory.LazyFunction(lambda: {"leads.stageevent": 1})
    reason = "The same person, entered twice."
    actor = factory.SubFactory(UserFactory)


class LeadAssignmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LeadAssignment

    lead = factory.SubFactory(LeadFactory)
    from_owner = factory.SubFactory(UserFactory)
    to_owner = factory.SubFactory(UserFactory)
    actor = factory.SubFactory(UserFactory)


class SavedViewFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SavedView

    user = factory.SubFactory(UserFactory)
    list_key = SavedView.ListKey.LEADS
    name = factory.Sequence(lambda n: f"View {n}")
    query = "state=open&sla=overdue"


class LeadImportFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LeadImport

    created_by = factory.SubFactory(UserFactory)
    filename = factory.Sequence(lambda n: f"leads-{n}.csv")


class ImportedLeadFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ImportedLead

    run = factory.SubFactory(LeadImportFactory)
    lead = factory.SubFactory(LeadFactory)
    created = True


class ImportedRangeFactory(factory.django.DjangoModelFactory):
    """A run's created leads as one range of ids (ranges of different runs never overlap)."""

    class Meta:
        model = ImportedRange

    run = factory.SubFactory(LeadImportFactory)
    first_id = factory.Sequence(lambda n: 1_000_000 + n * 10)
    last_id = factory.LazyAttribute(lambda o: o.first_id + 9)


class ChannelAliasFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ChannelAlias

    alias = factory.Sequence(lambda n: f"channel alias {n}")
    channel = "other"
    created_by = factory.SubFactory(UserFactory)


# Campaigns: spend, touches, collateral, briefings.


class SpendEntryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SpendEntry

    campaign = factory.SubFactory(CampaignFactory)
    date = factory.LazyFunction(lambda: date(2026, 1, 12))
    amount = Decimal("250.00")


class SpendCorrectionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SpendCorrection

    campaign = factory.SubFactory(CampaignFactory)
    record_id = 1
    action = SpendCorrection.Action.CORRECTED
    changes = factory.LazyFunction(lambda: {"amount": {"before": "250.00", "after": "200.00"}})
    reason = "Invoice said 200"
    actor = factory.SubFactory(UserFactory)


class TouchFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Touch

    lead = factory.SubFactory(LeadFactory)
    campaign = factory.SubFactory(CampaignFactory)
    kind = TouchKind.FORM_FILL
    occurred_at = factory.LazyFunction(timezone.now)


class CollateralFactory(factory.django.DjangoModelFactory):
    """A link attached to a campaign (a file needs storage; tests that want one add it)."""

    class Meta:
        model = Collateral

    title = factory.Sequence(lambda n: f"Case study {n}")
    url = factory.Sequence(lambda n: f"https://accord.example/collateral/{n}.pdf")
    campaign = factory.SubFactory(CampaignFactory)


class BriefingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Briefing

    campaign = factory.SubFactory(CampaignFactory)
    body = "Expect visitors from logistics firms."


class BriefingAcknowledgmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BriefingAcknowledgment

    briefing = factory.SubFactory(BriefingFactory)
    user = factory.SubFactory(UserFactory)
    acknowledged_at = factory.LazyFunction(timezone.now)


# Metrics: territories' countries and members, targets, scorecards.


# Real ISO 3166 codes (a territory's countries are checked) of small islands and
# territories: no country a test maps by hand.
# fmt: off
_COUNTRY_CODES = [
    "AD", "AG", "AI", "AQ", "AW", "BB", "BL", "BM", "BQ", "BV", "CC", "CK", "CX", "FK", "FO", "GI",
    "GS", "HM", "IO", "KN", "KY", "LC", "MF", "MP", "MS", "NF", "NR", "NU", "PM", "PN", "SH", "SJ",
    "SX", "TC", "TF", "TK", "TV", "UM", "VA", "VC", "VG", "WF",
]
# fmt: on


def _country_code(n: int) -> str:
    return _COUNTRY_CODES[n % len(_COUNTRY_CODES)]


class TerritoryCountryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TerritoryCountry
        django_get_or_create = ["country"]

    territory = factory.SubFactory(TerritoryFactory)
    country = factory.Sequence(_country_code)


class TerritoryMemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TerritoryMember

    territory = factory.SubFactory(TerritoryFactory)
    user = factory.SubFactory(UserFactory)


class TerritoryChangeFactory(factory.django.DjangoModelFactory):
    """A sales manager renamed a territory."""

    class Meta:
        model = TerritoryChange

    territory = factory.SubFactory(TerritoryFactory)
    actor = factory.SubFactory(UserFactory)
    occurred_at = factory.LazyFunction(timezone.now)
    changes = factory.LazyFunction(lambda: {"name": ["Nordics", "Northern Europe"]})


class TargetFactory(factory.django.DjangoModelFactory):
    """A territory's monthly revenue target (January 2026)."""

    class Meta:
        model = Target

    territory = factory.SubFactory(TerritoryFactory)
    period = Target.Period.MONTH
    starts_on = factory.LazyFunction(lambda: date(2026, 1, 1))
    ends_on = factory.LazyFunction(lambda: date(2026, 2, 1))
    revenue_target = Decimal("30000.00")


class ScorecardFactory(factory.django.DjangoModelFactory):
    """A territory's week (Monday 5 January 2026) with one metric and one component."""

    class Meta:
        model = Scorecard

    week_start = factory.LazyFunction(lambda: date(2026, 1, 5))
    territory = factory.SubFactory(TerritoryFactory)
    metrics = factory.LazyFunction(lambda: {"new_leads": 3})
    components = factory.LazyFunction(
        lambda: [{"key": "sla_compliance", "weight": 25, "value": 0.75}]
    )
    delta = factory.LazyFunction(lambda: {"new_leads": 1})
    alignment_score = Decimal("75.00")
    computed_at = factory.LazyFunction(timezone.now)


class StageDayRollupFactory(factory.django.DjangoModelFactory):
    """Two entries into MQL on 5 January 2026 (metrics.rollups builds the real ones)."""

    class Meta:
        model = StageDayRollup

    day = factory.LazyFunction(lambda: date(2026, 1, 5))
    stage = "mql"
    entries = 2
    reached_sal = 1


class LeadDayRollupFactory(factory.django.DjangoModelFactory):
    """Three leads created on 5 January 2026 (metrics.rollups builds the real ones)."""

    class Meta:
        model = LeadDayRollup

    day = factory.LazyFunction(lambda: date(2026, 1, 5))
    source = "email"
    leads = 3


class ResponseDayRollupFactory(factory.django.DjangoModelFactory):
    """Two MQLs of 5 January 2026 followed up within 3 hours (metrics.rollups builds the
    real ones)."""

    class Meta:
        model = ResponseDayRollup

    day = factory.LazyFunction(lambda: date(2026, 1, 5))
    source = "email"
    response_hours = 3
    leads = 2


class RollupDirtyFactory(factory.django.DjangoModelFactory):
    """A territory change the rollups have not taken in yet."""

    class Meta:
        model = RollupDirty

    kind = RollupDirty.Kind.TERRITORY
    lead_id = factory.LazyAttribute(lambda _o: LeadFactory().pk)


class RollupStateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RollupState

    time_zone = "UTC"
    rebuilt_at = factory.LazyFunction(timezone.now)
