"""Any sequence of actions, by any role, through any entry path, keeps the funnel's
invariants: a Hypothesis state machine drives the services and, after every step,
`check_integrity` finds nothing."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from alignment.accounts.roles import Role
from alignment.models import StageKey
from campaigns.models import Touch
from leads.imports.importer import lead_import
from leads.integrity import integrity_violations
from leads.models import Deal, DealOutcome, Lead
from leads.services import LeadConflict, lead_create, lead_score_refresh, lead_transition
from leads.services.assignment import lead_claim
from leads.services.deals import deal_close, deal_create
from leads.services.follow_ups import follow_up_log
from leads.services.rescoring import scores_decay_apply
from leads.services.sla import sla_breaches_check
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

# The steps swallow only the refusals of the services (their contract); anything else fails.
# ruff: noqa: SIM105

ROLES = ["rep", "rep2", "sales_manager", "marketer", "marketing_manager", "executive", None]
REFUSED = (ValidationError, PermissionDenied, LeadConflict)
STAGES = [key for key, _label in StageKey.choices]
TOUCH_KINDS = ["demo_request", "pricing_visit", "webinar", "email_click", "form_fill"]
REASONS = ["no-budget", "bad-timing", "price", "competitor", "spam", "student", "", "nonsense"]
OUTCOMES = ["connected", "no_answer", "left_message", "meeting_booked", "completed", "junk"]
KINDS = ["call", "email", "meeting", "visit", "demo", "joint_call", "note"]


class FunnelMachine(RuleBasedStateMachine):
    """Random moves, deals, follow-ups, touches, rejections, imports and rescoring."""

    users: dict[str, object] = {}
    leads = Bundle("leads")

    def __init__(self) -> None:
        super().__init__()
        # Each run is rolled back at teardown, so runs start from the same database.
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        self.now = timezone.now()
        self.count = 0

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    def _user(self, role: str | None):
        return self.users.get(role) if role else None

    @initialize(target=leads)
    def first_lead(self):
        return self._create(qualified=True)

    def _create(self, *, qualified: bool):
        self.count += 1
        data = {"email": f"lead{self.count}@example.com", "country": "PL"}
        if qualified:
            data.update(company="Acme", company_size=500, title="Head of IT, Director")
        return lead_create(data=data, actor=None).pk

    @rule(target=leads, qualified=st.booleans())
    def create(self, qualified):
        return self._create(qualified=qualified)

    @rule(lead=leads, kind=st.sampled_from(TOUCH_KINDS), days=st.integers(0, 60))
    def touch(self, lead, kind, days):
        Touch.objects.create(lead_id=lead, kind=kind, occurred_at=self.now - timedelta(days=days))
        lead_score_refresh(lead=Lead.objects.get(pk=lead))

    @rule(
        lead=leads,
        to=st.sampled_from(STAGES),
        role=st.sampled_from(ROLES),
        reason=st.sampled_from(REASONS),
        override=st.sampled_from(["", "Met them at the fair"]),
    )
    def move(self, lead, to, role, reason, override):
        try:
            lead_transition(
                lead=Lead.objects.get(pk=lead),
                to_stage=to,
                actor=self._user(role),
                reason_code=reason,
                override_reason=override,
            )
        except REFUSED:
            pass

    @rule(lead=leads, role=st.sampled_from(["rep", "rep2", "sales_manager"]))
    def claim(self, lead, role):
        try:
            lead_claim(lead_id=lead, user=self._user(role))
        except REFUSED:
            pass

    @rule(
        lead=leads,
        role=st.sampled_from(ROLES[:-1]),
        amount=st.sampled_from(["1000", "0", "-5", "abc", "1e20"]),
    )
    def open_deal(self, lead, role, amount):
        try:
            deal_create(lead=Lead.objects.get(pk=lead), actor=self._user(role), amount=amount)
        except REFUSED:
            pass

    @rule(
        lead=leads,
        role=st.sampled_from(ROLES[:-1]),
        outcome=st.sampled_from(["won", "lost", "open"]),
        reason=st.sampled_from(REASONS),
        amount=st.sampled_from([None, "2500.00"]),
    )
    def close_deal(self, lead, role, outcome, reason, amount):
        deal = Deal.objects.filter(lead_id=lead, outcome=DealOutcome.OPEN).first()
        if deal is None:
            return
        try:
            deal_close(
                deal=deal, actor=self._user(role), outcome=outcome, lost_reason=reason,
                amount=amount,
            )  # fmt: skip
        except REFUSED:
            pass

    @rule(
        lead=leads,
        role=st.sampled_from(ROLES[:-1]),
        kind=st.sampled_from(KINDS),
        outcome=st.sampled_from(OUTCOMES),
        hours=st.integers(0, 72),
    )
    def follow_up(self, lead, role, kind, outcome, hours):
        try:
            follow_up_log(
                lead=Lead.objects.get(pk=lead),
                author=self._user(role),
                kind=kind,
                outcome=outcome,
                occurred_at=self.now - timedelta(hours=hours),
            )
        except REFUSED:
            pass

    @rule(lead=leads, role=st.sampled_from(["rep", "rep2", "sales_manager", "marketer"]))
    def reject(self, lead, role):
        try:
            lead_transition(
                lead=Lead.objects.get(pk=lead),
                to_stage=StageKey.RECYCLED,
                actor=self._user(role),
                reason_code="no-budget",
            )
        except REFUSED:
            pass

    @rule(
        stage=st.sampled_from(["", "mql", "won", "lost", "opportunity", "sal"]),
        amount=st.sampled_from(["", "900", "x"]),
        out_of_order=st.booleans(),
    )
    def import_row(self, stage, amount, out_of_order):
        self.count += 1
        day = self.now - timedelta(days=30)
        row = {
            "email": f"imported{self.count}@example.com",
            "company": "Imported Co",
            "created_at": day.isoformat(),
            "stage": stage,
            "deal_amount": amount,
        }
        if stage:
            row["mql_at"] = (day + timedelta(days=1)).isoformat()
        if stage in ("won", "lost", "opportunity", "sal"):
            row["sal_at"] = (day + timedelta(days=2)).isoformat()
        if stage in ("won", "lost", "opportunity"):
            row["opportunity_at"] = (day + timedelta(days=3)).isoformat()
        if stage in ("won", "lost"):
            later = day - timedelta(days=2) if out_of_order else day + timedelta(days=5)
            row[f"{stage}_at"] = later.isoformat()
        if stage == "lost":
            row["lost_reason"] = "price"
        lead_import(rows=[row], user=self._user("marketer"))

    @rule(days=st.integers(0, 40))
    def rescore_all(self, days):
        scores_decay_apply(now=self.now + timedelta(days=days))

    @rule(hours=st.integers(0, 200))
    def check_slas(self, hours):
        sla_breaches_check(now=self.now + timedelta(hours=hours))

    @invariant()
    def the_funnel_holds(self):
        assert list(integrity_violations()) == []


@pytest.fixture
def people(db, settings, active_agreement):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    from metrics.models import TerritoryCountry, TerritoryMember
    from tests.factories import TerritoryFactory

    manager = UserFactory(username="sm", role=Role.SALES_MANAGER)
    territory = TerritoryFactory(code="emea", name="EMEA", is_default=True, manager=manager)
    TerritoryCountry.objects.create(territory=territory, country="PL")
    users = {
        "rep": UserFactory(username="r1", role=Role.SALES_REP),
        "rep2": UserFactory(username="r2", role=Role.SALES_REP),
        "sales_manager": manager,
        "marketer": UserFactory(username="mk", role=Role.MARKETER),
        "marketing_manager": UserFactory(username="mm", role=Role.MARKETING_MANAGER),
        "executive": UserFactory(username="ex", role=Role.EXECUTIVE),
    }
    for role in ("rep", "rep2"):
        TerritoryMember.objects.create(territory=territory, user=users[role])
    return users


def test_no_sequence_of_actions_breaks_the_funnel(people):
    FunnelMachine.users = people
    run_state_machine_as_test(
        FunnelMachine,
        settings=settings(
            max_examples=25,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            database=None,
            derandomize=True,
            # No shrinking: a failure prints its whole step list, and shrinking a
            # database-backed machine takes minutes.
            phases=[Phase.explicit, Phase.generate],
        ),
    )


def test_check_integrity_names_each_violation_and_exits_non_zero(people, capsys):
    lead = lead_create(
        data={"email": "x@example.com", "company": "Acme", "company_size": 500,
              "title": "Head of IT, Director"},
        actor=None,
    )  # fmt: skip
    assert lead.stage == StageKey.MQL
    call_command("check_integrity")
    assert "All 7 invariants hold." in capsys.readouterr().out
    # What a staff edit or a raw write could do: each is named.
    Lead.objects.filter(pk=lead.pk).update(stage=StageKey.WON)
    Deal.objects.create(lead=lead, amount=Decimal(1), outcome="won", closed_at=timezone.now())
    other = lead_create(data={"email": "y@example.com"}, actor=None)
    Lead.objects.filter(pk=other.pk).update(stage=StageKey.LOST)
    Deal.objects.create(lead=other, amount=Decimal(1))
    with pytest.raises(Exception) as caught:
        call_command("check_integrity")
    out = capsys.readouterr().out
    assert "stage_without_entry_event" in out and "open_deal_on_closed_lead" in out
    assert "violation" in str(caught.value)
