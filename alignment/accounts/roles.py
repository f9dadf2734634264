"""The five roles of DESIGN.md as Django groups, and what each may do.

Every permission rule a service enforces is written here once (who may work on, move,
edit or import leads; who may record touches); the services call these functions and
pages and the API ask them only to decide what to offer.

Groups are (re)synced after every migrate, so a new permission reaches its roles
without a data migration; running it twice changes nothing.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser, Group, Permission, User
from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from alignment.models import DisputeDecision, DisputeStatus, StageKey, Team
from metrics.models import TerritoryMember


class Role(models.TextChoices):
    SALES_REP = "sales_rep", _("Sales rep")
    SALES_MANAGER = "sales_manager", _("Sales manager")
    MARKETER = "marketer", _("Marketer")
    MARKETING_MANAGER = "marketing_manager", _("Marketing manager")
    EXECUTIVE = "executive", _("Executive")


def _crud(app_model: str, *verbs: str) -> list[str]:
    app, model = app_model.split(".")
    return [f"{app}.{verb}_{model}" for verb in verbs]


_READ_ALL = [
    *_crud("alignment.agreement", "view"),
    *_crud("alignment.funnelstage", "view"),
    *_crud("alignment.qualificationrule", "view"),
    *_crud("alignment.reasoncode", "view"),
    *_crud("alignment.agreementsignature", "view"),
    *_crud("alignment.competitor", "view"),
    *_crud("alignment.battlecard", "view"),
    *_crud("alignment.fieldintel", "view"),
    *_crud("alignment.dispute", "view", "add"),
    *_crud("leads.lead", "view"),
    *_crud("leads.stageevent", "view"),
    *_crud("leads.followup", "view"),
    *_crud("leads.deal", "view"),
    *_crud("campaigns.campaign", "view"),
    *_crud("campaigns.touch", "view"),
    *_crud("campaigns.collateral", "view"),
    *_crud("campaigns.briefing", "view"),
    *_crud("metrics.territory", "view"),
    *_crud("metrics.target", "view"),
    *_crud("metrics.scorecard", "view"),
]

_SALES_REP = [
    *_READ_ALL,
    *_crud("leads.lead", "add", "change"),
    *_crud("leads.followup", "add", "change"),
    *_crud("leads.deal", "add", "change"),
    *_crud("alignment.fieldintel", "add"),
    *_crud("campaigns.briefingacknowledgment", "add", "view"),
    "leads.claim_lead",
]

_MARKETER = [
    *_READ_ALL,
    *_crud("leads.lead", "add", "change"),
    *_crud("leads.leadimport", "add", "view"),
    *_crud("campaigns.campaign", "add", "change"),
    *_crud("campaigns.spendentry", "add", "change", "view", "delete"),
    *_crud("campaigns.touch", "add"),
    *_crud("campaigns.collateral", "add", "change", "delete"),
    *_crud("campaigns.briefing", "add", "change"),
    *_crud("alignment.agreement", "add", "change"),
    *_crud("alignment.qualificationrule", "add", "change", "delete"),
    *_crud("alignment.competitor", "add", "change"),
    *_crud("alignment.battlecard", "add", "change"),
    *_crud("alignment.battlecardobjection", "add", "change", "delete", "view"),
    *_crud("alignment.fieldintel", "change"),
]

ROLE_PERMISSIONS: dict[str, list[str]] = {
    Role.SALES_REP: _SALES_REP,
    Role.SALES_MANAGER: [
        *_SALES_REP,
        "leads.assign_lead",
        "leads.merge_lead",
        "alignment.sign_for_sales",
        *_crud("alignment.agreement", "add", "change"),
        *_crud("alignment.funnelstage", "add", "change", "delete"),
        *_crud("alignment.reasoncode", "add", "change", "delete"),
        *_crud("metrics.target", "add", "change"),
        *_crud("metrics.territorymember", "add", "change", "view"),
        "metrics.recompute_scorecard",
    ],
    Role.MARKETER: _MARKETER,
    Role.MARKETING_MANAGER: [
        *_MARKETER,
        "alignment.sign_for_marketing",
        "leads.merge_lead",
        "metrics.recompute_scorecard",
        *_crud("alignment.funnelstage", "add", "change", "delete"),
        *_crud("alignment.reasoncode", "add", "change", "delete"),
    ],
    Role.EXECUTIVE: [*_READ_ALL, "alignment.resolve_dispute", *_crud("leads.leadimport", "view")],
}

ROLE_TEAM: dict[str, str | None] = {
    Role.SALES_REP: Team.SALES,
    Role.SALES_MANAGER: Team.SALES,
    Role.MARKETER: Team.MARKETING,
    Role.MARKETING_MANAGER: Team.MARKETING,
    Role.EXECUTIVE: None,
}


def roles_sync() -> None:
    """Create the role groups and give each exactly its permissions. Idempotent."""
    wanted = {perm for perms in ROLE_PERMISSIONS.values() for perm in perms}
    by_name: dict[str, Permission] = {}
    for perm in Permission.objects.select_related("content_type").filter(
        codename__in={p.split(".")[1] for p in wanted}
    ):
        by_name[f"{perm.content_type.app_label}.{perm.codename}"] = perm
    missing = wanted - by_name.keys()
    if missing:
        raise LookupError(f"Unknown permissions in ROLE_PERMISSIONS: {sorted(missing)}")
    for role, perms in ROLE_PERMISSIONS.items():
        group, _created = Group.objects.get_or_create(name=role)
        group.permissions.set([by_name[p] for p in perms])


def roles_sync_after_migrate(sender: Any, **kwargs: Any) -> None:
    # post_migrate fires once per app; permissions exist for all apps only after the last.
    from django.apps import apps

    # (Django sends it only to apps with models, so: the last of those.)
    with_models = [config for config in apps.get_app_configs() if config.models_module]
    if sender is with_models[-1]:
        roles_sync()


def user_roles(user: User | AnonymousUser) -> set[str]:
    if not user.is_authenticated:
        return set()
    cached = getattr(user, "_accord_roles", None)
    if cached is None:
        cached = set(user.groups.values_list("name", flat=True)) & set(Role.values)
        user._accord_roles = cached  # type: ignore[attr-defined]  # a per-request cache
    return cached


def user_has_role(user: User | AnonymousUser, *roles: str) -> bool:
    return bool(user_roles(user) & set(roles))


def user_primary_role(user: User | AnonymousUser) -> str | None:
    """The role that decides the home page; the most senior one wins."""
    held = user_roles(user)
    for role in (
        Role.EXECUTIVE,
        Role.SALES_MANAGER,
        Role.MARKETING_MANAGER,
        Role.SALES_REP,
        Role.MARKETER,
    ):
        if role in held:
            return role
    return None


def user_team(user: User | AnonymousUser) -> str | None:
    role = user_primary_role(user)
    return ROLE_TEAM.get(role) if role else None


# --- who may do what to a lead ------------------------------------------------------------
# `lead` is any object with `owner_id` (a leads.Lead); the rules read nothing else (but a
# claim's, which asks whether the rep works the lead's territory).

# Stages before the hand-off, where marketing may still decide on its own.
MARKETING_DECIDES_IN = (StageKey.INQUIRY, StageKey.RECYCLED)


def user_is_sales_manager(user: User | AnonymousUser) -> bool:
    return bool(user.is_superuser or user_has_role(user, Role.SALES_MANAGER))


def user_in_sales(user: User | AnonymousUser) -> bool:
    """A sales rep or sales manager: the agenda, the queue, their own ledger."""
    return user_has_role(user, Role.SALES_REP, Role.SALES_MANAGER)


def user_sees_team(user: User | AnonymousUser) -> bool:
    """Who reads the sales team's pages (team, everyone's ledger): sales managers and
    executives."""
    return bool(user.is_superuser or user_has_role(user, Role.SALES_MANAGER, Role.EXECUTIVE))


def lead_can_work(*, user: User | AnonymousUser, lead: Any) -> bool:
    """Log follow-ups, make and close deals: the lead's owner (a rep) or a sales manager."""
    if not user.is_authenticated:
        return False
    if user_is_sales_manager(user):
        return True
    return user_has_role(user, Role.SALES_REP) and lead.owner_id == user.pk


def lead_work_refusal(*, user: User | AnonymousUser, lead: Any) -> str | None:
    if lead_can_work(user=user, lead=lead):
        return None
    return gettext("Only the lead's owner or a sales manager may work on this lead.")


def lead_can_edit(*, user: User | None, lead: Any) -> bool:
    """Who may change a lead's own fields: the system (no user), marketing (it owns the
    lead data), sales managers, and a sales rep only on a lead they own."""
    if user is None or user.is_superuser:
        return True
    if user_has_role(user, Role.SALES_MANAGER, Role.MARKETER, Role.MARKETING_MANAGER):
        return True
    return user_has_role(user, Role.SALES_REP) and lead.owner_id == user.pk


def lead_create_refusal(*, user: User | AnonymousUser) -> str | None:
    """Who may create a lead by hand: reps (someone met at an event), marketing, managers."""
    if user.is_authenticated and user.has_perm("leads.add_lead"):
        return None
    return gettext("Your role may not create leads.")


def lead_merge_refusal(*, user: User | AnonymousUser) -> str | None:
    """Who may merge two duplicate leads into one: a sales or marketing manager."""
    if user.is_authenticated and user.has_perm("leads.merge_lead"):
        return None
    return gettext("Only a sales or marketing manager may merge leads.")


def actor_team(user: User | None) -> str:
    """The team `user` acts for ('' for the system, an import or a superuser)."""
    if user is None or user.is_superuser:
        return ""
    if user_has_role(user, Role.SALES_REP, Role.SALES_MANAGER):
        return Team.SALES
    if user_has_role(user, Role.MARKETER, Role.MARKETING_MANAGER):
        return Team.MARKETING
    return ""


def may_override(user: User | AnonymousUser | None) -> bool:
    """Who may move a lead past an entry criterion, with a written reason."""
    return bool(
        user is not None and (user.is_superuser or user_has_role(user, Role.MARKETING_MANAGER))
    )


def move_refusal(*, user: User | None, lead: Any, from_stage: str, to_stage: str) -> str | None:
    """Why `user` may not move `lead` from `from_stage` to `to_stage` (None: they may).

    - the system (no user), superusers and sales managers: any agreed move;
    - the lead's owner (a sales rep): any agreed move of their own lead;
    - marketers and marketing managers: only before the hand-off (from inquiry or
      recycled) to mql, recycled or disqualified: accepting or rejecting an MQL is
      sales' decision alone;
    - everyone else: no move.
    """
    if user is None or user.is_superuser or user_has_role(user, Role.SALES_MANAGER):
        return None
    if user_has_role(user, Role.SALES_REP) and lead.owner_id == user.pk:
        return None
    if user_has_role(user, Role.MARKETER, Role.MARKETING_MANAGER):
        if from_stage == StageKey.MQL:
            return gettext("Only the lead's owner or a sales manager decides on an MQL.")
        if from_stage in MARKETING_DECIDES_IN and to_stage in (
            StageKey.MQL,
            StageKey.RECYCLED,
            StageKey.DISQUALIFIED,
        ):
            return None
        return gettext("Marketing may move a lead only before it is handed to sales.")
    if user_has_role(user, Role.SALES_REP):
        return gettext("Only the lead's owner or a sales manager may move this lead.")
    return gettext("Your role may not move leads.")


def stage_revert_refusal(*, user: User | AnonymousUser | None) -> str | None:
    """Who may revert a lead's stage move (with a reason, as a new event): a sales
    manager or a superuser; reps and marketing correct a move by asking one."""
    if user is not None and user.is_authenticated and user_is_sales_manager(user):
        return None
    return gettext("Only a sales manager may revert a stage move.")


# The two moves that overturn a rejection for a dispute: the revert back into MQL, then
# the acceptance.
DISPUTE_OVERTURN_MOVES = (
    (StageKey.RECYCLED, StageKey.MQL),
    (StageKey.DISQUALIFIED, StageKey.MQL),
    (StageKey.MQL, StageKey.SAL),
)


def dispute_overturn_refusal(
    *, user: User | None, dispute: Any, lead: Any, from_stage: str, to_stage: str
) -> str | None:
    """Who may overturn a rejection for a dispute (revert the rejection, then accept the
    lead for its rep): the arbiter who decided that very dispute, on its lead, in
    marketing's favour, and only those two moves. The decision is the authority: this
    lets an executive make no other move, and a sales manager's revert rules stay theirs.
    """
    if (
        user is not None
        and user.is_active
        and user.has_perm("alignment.resolve_dispute")
        and dispute.status == DisputeStatus.RESOLVED
        and dispute.decision == DisputeDecision.FOR_MARKETING
        and dispute.resolved_by_id == user.pk
        and dispute.lead_id == lead.pk
        and (from_stage, to_stage) in DISPUTE_OVERTURN_MOVES
    ):
        return None
    return gettext(
        "Only the executive who decided a dispute in marketing's favour may overturn the "
        "rejection it contested."
    )


def lead_import_refusal(*, user: User | AnonymousUser) -> str | None:
    """Who may import leads from a file: whoever holds `leads.add_leadimport`."""
    if user.is_authenticated and user.has_perm("leads.add_leadimport"):
        return None
    return gettext("Your role may not import leads.")


def touch_record_refusal(*, user: User | AnonymousUser | None) -> str | None:
    """Who may record an engagement touch: Accord itself (no user) and marketing
    (`campaigns.add_touch`)."""
    if user is None or (user.is_authenticated and user.has_perm("campaigns.add_touch")):
        return None
    return gettext("Your role may not record touches.")


def lead_claim_refusal(*, user: User | AnonymousUser, lead: Any = None) -> str | None:
    """Who may claim an unowned lead: sales reps (`leads.claim_lead`), and with `lead` (a
    leads.Lead: its `territory_id`), of a territory a rep works in: an active member of
    the lead's territory. Whoever may reassign leads (sales managers) claims any lead, and
    so does anyone a lead without a territory."""
    if not (user.is_authenticated and user.has_perm("leads.claim_lead")):
        return gettext("Your role may not claim leads.")
    if lead is None or lead.territory_id is None or user.has_perm("leads.assign_lead"):
        return None
    if TerritoryMember.objects.filter(
        territory_id=lead.territory_id, user_id=user.pk, is_active=True
    ).exists():
        return None
    return gettext(
        "This lead belongs to the %(territory)s territory, which you do not work: ask a "
        "sales manager to assign it."
    ) % {"territory": lead.territory.name}


def territory_change_refusal(*, user: User | AnonymousUser) -> str | None:
    """Who may change a territory (name, countries, members, their order and
    availability): a sales manager (or a superuser)."""
    if user.is_authenticated and user_is_sales_manager(user):
        return None
    return gettext("Only a sales manager may change territories.")


def lead_reassign_refusal(*, user: User | AnonymousUser) -> str | None:
    """Who may give a lead to another rep: sales managers (`leads.assign_lead`)."""
    if user.is_authenticated and user.has_perm("leads.assign_lead"):
        return None
    return gettext("Only a sales manager may reassign leads.")
