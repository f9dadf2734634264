from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from alignment.accounts.roles import (
    ROLE_PERMISSIONS,
    Role,
    roles_sync,
    user_primary_role,
    user_team,
)

pytestmark = pytest.mark.django_db


def test_every_role_is_a_group_with_exactly_its_permissions():
    roles_sync()  # idempotent: a second sync changes nothing
    for role, perms in ROLE_PERMISSIONS.items():
        group = Group.objects.get(name=role)
        held = {
            f"{p.content_type.app_label}.{p.codename}"
            for p in group.permissions.select_related("content_type")
        }
        assert held == set(perms)


def test_only_managers_sign_for_their_own_team(
    rep, sales_manager, marketer, marketing_manager, executive
):
    assert sales_manager.has_perm("alignment.sign_for_sales")
    assert not sales_manager.has_perm("alignment.sign_for_marketing")
    assert marketing_manager.has_perm("alignment.sign_for_marketing")
    assert not marketing_manager.has_perm("alignment.sign_for_sales")
    for user in (rep, marketer, executive):
        assert not user.has_perm("alignment.sign_for_sales")
        assert not user.has_perm("alignment.sign_for_marketing")


def test_only_executives_resolve_disputes(
    rep, sales_manager, marketer, marketing_manager, executive
):
    assert executive.has_perm("alignment.resolve_dispute")
    for user in (rep, sales_manager, marketer, marketing_manager):
        assert not user.has_perm("alignment.resolve_dispute")


def test_marketers_edit_campaigns_and_reps_do_not(rep, marketer):
    assert marketer.has_perm("campaigns.change_campaign")
    assert not rep.has_perm("campaigns.change_campaign")
    assert rep.has_perm("leads.add_followup")
    assert not marketer.has_perm("leads.add_followup")


def test_managers_assign_leads_and_reps_only_claim(rep, sales_manager):
    assert sales_manager.has_perm("leads.assign_lead")
    assert not rep.has_perm("leads.assign_lead")
    assert rep.has_perm("leads.claim_lead")


def test_primary_role_and_team(rep, marketing_manager, executive):
    assert user_primary_role(rep) == Role.SALES_REP
    assert user_team(rep) == "sales"
    assert user_team(marketing_manager) == "marketing"
    assert user_team(executive) is None
