"""The demo follows the rule: its agreement comes into force by both managers' signatures
(agreement_sign), the sales manager for sales and the marketing manager for marketing,
never by being set active."""

from __future__ import annotations

import pytest

from alignment.agreement.services import agreement_create_default
from alignment.models import Agreement, AgreementSignature, AgreementStatus, Team
from config.demo import demo_seed

pytestmark = pytest.mark.django_db


def signers(agreement: Agreement) -> dict[str, str]:
    return {s.team: s.signed_by.get_username() for s in agreement.signatures.all()}


def test_the_demos_agreement_is_in_force_by_both_managers_signatures(db):
    demo_seed(lead_count=5, scorecard_weeks=1)
    agreement = Agreement.objects.get()  # one version: the default, proposed, then signed
    assert agreement.status == AgreementStatus.ACTIVE
    assert agreement.proposed_at is not None and agreement.activated_at is not None
    assert agreement.signatures.count() == 2
    assert signers(agreement) == {Team.SALES: "salesmgr", Team.MARKETING: "mktmgr"}
    last_signature = max(s.signed_at for s in agreement.signatures.all())
    assert agreement.activated_at == last_signature  # in force at the second signature


def test_a_second_run_keeps_the_signed_version(db):
    demo_seed(lead_count=5, scorecard_weeks=1)
    demo_seed(lead_count=5, scorecard_weeks=1)
    assert Agreement.objects.count() == 1
    assert AgreementSignature.objects.count() == 2


def test_over_the_version_migrate_installed_the_managers_sign_a_copy(db):
    installed = agreement_create_default()  # as `migrate` leaves it: in force, unsigned
    demo_seed(lead_count=5, scorecard_weeks=1)
    installed.refresh_from_db()
    assert installed.status == AgreementStatus.SUPERSEDED
    active = Agreement.objects.get(status=AgreementStatus.ACTIVE)
    assert active.based_on == installed and active.version == installed.version + 1
    assert active.activated_at is not None
    assert signers(active) == {Team.SALES: "salesmgr", Team.MARKETING: "mktmgr"}
