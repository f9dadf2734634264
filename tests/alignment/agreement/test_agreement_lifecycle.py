"""Draft → proposed → signed by both teams → active, superseding the previous version."""

from __future__ import annotations

import threading

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction

from alignment.agreement.services import (
    agreement_create_default,
    agreement_diff,
    agreement_draft_create,
    agreement_propose,
    agreement_reason_code_add,
    agreement_rule_add,
    agreement_sign,
    agreement_stage_update,
    agreement_threshold_set,
    agreement_weights_set,
)
from alignment.models import Agreement, AgreementStatus, FunnelStage, ReasonCode, RuleKind, Team
from tests.conftest import need

pytestmark = pytest.mark.django_db


def test_a_draft_is_a_full_copy_of_the_active_version(active_agreement, marketer):
    draft = agreement_draft_create(user=marketer)
    assert draft.status == AgreementStatus.DRAFT and draft.version == active_agreement.version + 1
    assert draft.based_on == active_agreement
    assert draft.stages.count() == active_agreement.stages.count()
    assert draft.rules.count() == active_agreement.rules.count()
    assert draft.reason_codes.count() == active_agreement.reason_codes.count()
    assert draft.mql_threshold == active_agreement.mql_threshold
    assert draft.weights() == active_agreement.weights()
    mql = draft.stages.get(key="mql")
    assert set(mql.next_stages.values_list("key", flat=True)) == {"sal", "recycled", "disqualified"}
    assert set(mql.next_stages.values_list("agreement", flat=True)) == {draft.pk}
    assert agreement_diff(a=active_agreement, b=draft) == []


def test_only_marketers_edit_criteria_and_only_managers_edit_stages_and_weights(
    active_agreement, marketer, rep, sales_manager, marketing_manager
):
    draft = agreement_draft_create(user=marketer)
    rule = {"kind": "fit", "field": "industry", "operator": "eq", "value": "Software", "points": 5}
    agreement_rule_add(agreement=draft, user=marketer, data=rule)
    agreement_rule_add(agreement=draft, user=marketing_manager, data=rule)
    with pytest.raises(PermissionDenied):
        agreement_rule_add(agreement=draft, user=sales_manager, data=rule)
    with pytest.raises(PermissionDenied):
        agreement_threshold_set(agreement=draft, user=rep, threshold=10)
    with pytest.raises(PermissionDenied):
        agreement_stage_update(agreement=draft, user=marketer, key="mql", data={"sla_hours": 8})
    with pytest.raises(PermissionDenied):
        agreement_weights_set(agreement=draft, user=marketer, weights={"weight_intel_ack": 1})
    agreement_stage_update(agreement=draft, user=sales_manager, key="mql", data={"sla_hours": 8})
    agreement_weights_set(agreement=draft, user=marketing_manager, weights={"weight_intel_ack": 30})
    agreement_reason_code_add(
        agreement=draft, user=sales_manager, kind="rejection", code="", label="Student"
    )
    assert FunnelStage.objects.get(agreement=draft, key="mql").sla_hours == 8
    assert ReasonCode.objects.filter(agreement=draft, code="student").exists()


def test_bad_edits_give_field_errors_and_change_nothing(active_agreement, marketer, sales_manager):
    draft = agreement_draft_create(user=marketer)
    with pytest.raises(ValidationError) as err:
        agreement_rule_add(
            agreement=draft, user=marketer, data={"kind": "fit", "field": "shoe", "operator": "gte"}
        )
    assert {"field", "value", "points"} <= set(err.value.message_dict)
    with pytest.raises(ValidationError) as err:
        agreement_stage_update(
            agreement=draft, user=sales_manager, key="sal", data={"sla_hours": "-3"}
        )
    assert "sla_hours" in err.value.message_dict
    assert draft.rules.count() == active_agreement.rules.count()
    assert FunnelStage.objects.get(agreement=draft, key="sal").sla_hours == 72


def test_a_proposal_is_frozen(active_agreement, marketer):
    draft = agreement_draft_create(user=marketer)
    agreement_propose(agreement=draft, user=marketer)
    with pytest.raises(ValidationError):
        agreement_threshold_set(agreement=draft, user=marketer, threshold=10)
    draft.refresh_from_db()
    assert draft.status == AgreementStatus.PROPOSED and draft.mql_threshold == 50


def test_a_proposal_becomes_active_only_with_both_signatures(
    active_agreement,
    marketer,
    sales_manager,
    marketing_manager,
    rep,
    django_capture_on_commit_callbacks,
):
    draft = agreement_draft_create(user=marketer)
    agreement_threshold_set(agreement=draft, user=marketer, threshold=40)
    with pytest.raises(ValidationError):  # a draft cannot be signed yet
        agreement_sign(agreement=draft, user=sales_manager)
    agreement_propose(agreement=draft, user=marketer)
    with pytest.raises(PermissionDenied):
        agreement_sign(agreement=draft, user=rep)
    with pytest.raises(PermissionDenied):
        agreement_sign(agreement=draft, user=marketer)
    first = agreement_sign(agreement=draft, user=sales_manager)
    assert first.signature.team == Team.SALES and not first.activated
    draft.refresh_from_db()
    assert draft.status == AgreementStatus.PROPOSED
    with pytest.raises(ValidationError):  # sales signs once
        agreement_sign(agreement=draft, user=sales_manager)
    with django_capture_on_commit_callbacks(execute=True):
        second = agreement_sign(agreement=draft, user=marketing_manager)
    assert second.activated and second.superseded == active_agreement
    active_agreement.refresh_from_db()
    draft.refresh_from_db()
    assert draft.status == AgreementStatus.ACTIVE and draft.activated_at
    assert active_agreement.status == AgreementStatus.SUPERSEDED and active_agreement.superseded_at
    assert Agreement.objects.filter(status=AgreementStatus.ACTIVE).count() == 1


def test_the_database_refuses_a_second_active_version(active_agreement):
    with pytest.raises(IntegrityError), transaction.atomic():
        Agreement.objects.create(
            version=99,
            title="x",
            status=AgreementStatus.ACTIVE,
            activated_at=active_agreement.activated_at,
        )


def test_the_diff_names_stages_slas_transitions_criteria_weights_and_reason_codes(
    active_agreement, marketer, sales_manager
):
    draft = agreement_draft_create(user=marketer)
    agreement_threshold_set(agreement=draft, user=marketer, threshold=60)
    agreement_rule_add(
        agreement=draft,
        user=marketer,
        data={"kind": RuleKind.ENGAGEMENT, "touch_kind": "event", "half_life_days": 7, "points": 9},
    )
    agreement_stage_update(
        agreement=draft, user=sales_manager, key="mql", data={"sla_hours": 8, "next": ["sal"]}
    )
    agreement_weights_set(agreement=draft, user=sales_manager, weights={"weight_intel_ack": 0})
    agreement_reason_code_add(
        agreement=draft, user=sales_manager, kind="lost", code="legal", label="Legal review"
    )
    diff = {
        section.title: section.changes for section in agreement_diff(a=active_agreement, b=draft)
    }
    assert diff["Stages and SLAs"] == ["mql: SLA 24 → 8 hours."]
    assert "mql → recycled no longer allowed." in diff["Transitions"]
    assert "MQL threshold 50 → 60 points." in diff["Qualification criteria"]
    assert any("Event attendance" in c and "+9" in c for c in diff["Qualification criteria"])
    assert diff["Alignment-score weights"] == ["intel ack within 5d weight 10 → 0."]
    assert diff["Reason codes"] == ["Added Deal lost reason “Legal review” (legal)."]


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_final_signatures_on_two_proposals_leave_exactly_one_active(
    sales_manager, marketing_manager, marketer
):
    need(connection.vendor == "postgresql", "row locks need PostgreSQL")
    from alignment.accounts.roles import Role
    from tests.factories import UserFactory

    active = agreement_create_default()
    proposals = []
    for _ in range(2):
        draft = agreement_draft_create(user=marketer)
        agreement_propose(agreement=draft, user=marketer)
        agreement_sign(agreement=draft, user=sales_manager)
        proposals.append(draft)
    signers = [marketing_manager, UserFactory(username="mmgr2", role=Role.MARKETING_MANAGER)]
    barrier = threading.Barrier(2)
    outcomes: list[object] = []

    def sign(proposal, user):
        try:
            barrier.wait()
            outcomes.append(agreement_sign(agreement=proposal, user=user))
        except Exception as exc:
            outcomes.append(exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=sign, args=pair) for pair in zip(proposals, signers, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert all(not isinstance(o, Exception) for o in outcomes), outcomes
    statuses = dict(Agreement.objects.values_list("pk", "status"))
    assert list(statuses.values()).count(AgreementStatus.ACTIVE) == 1
    assert statuses[active.pk] == AgreementStatus.SUPERSEDED
    # Both activated one after the other: the later one is active, the other superseded.
    assert {statuses[p.pk] for p in proposals} == {
        AgreementStatus.ACTIVE,
        AgreementStatus.SUPERSEDED,
    }
