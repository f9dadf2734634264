"""Writes of the leads app, one module per topic; import from here."""

from leads.services.lifecycle import (
    EDITABLE_FIELDS,
    LeadConflict,
    TransitionResult,
    lead_assign_round_robin,
    lead_create,
    lead_find_by_email,
    lead_promote_if_qualified,
    lead_score_refresh,
    lead_transition,
    lead_update,
    sla_due_compute,
    territory_for_country,
    territory_for_lead,
)
from leads.services.upsert import lead_changes, lead_delete, lead_match, lead_upsert

__all__ = [
    "EDITABLE_FIELDS",
    "LeadConflict",
    "TransitionResult",
    "lead_assign_round_robin",
    "lead_changes",
    "lead_create",
    "lead_delete",
    "lead_find_by_email",
    "lead_match",
    "lead_promote_if_qualified",
    "lead_score_refresh",
    "lead_transition",
    "lead_update",
    "lead_upsert",
    "sla_due_compute",
    "territory_for_country",
    "territory_for_lead",
]
