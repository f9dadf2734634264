"""Writes of the leads app, one module per topic; the names most callers need, from here.

- lifecycle: creating, editing, scoring and moving leads (the stage service)
- assignment: territories, routing, claiming, reassigning
- follow_ups: what reps did and the SLA clock it stops
- sla: deadlines and breaches
- deals: opening, changing and closing deals
- criteria: what each stage requires before a lead may enter it
- rescoring: scoring every lead in SQL when the agreement changes, nightly decay
- upsert, corrections: matching incoming records; correcting a closed deal
"""

from leads.services.assignment import (
    lead_assign_round_robin,
    lead_claim,
    lead_reassign,
    territory_for_country,
    territory_for_lead,
)
from leads.services.deals import deal_close, deal_create, deal_update
from leads.services.errors import LeadConflict
from leads.services.follow_ups import follow_up_log
from leads.services.lifecycle import (
    EDITABLE_FIELDS,
    TransitionResult,
    lead_create,
    lead_find_by_email,
    lead_promote_if_qualified,
    lead_score_refresh,
    lead_transition,
    lead_update,
)
from leads.services.sla import sla_breach_record, sla_breaches_check, sla_due_compute
from leads.services.upsert import lead_changes, lead_delete, lead_match, lead_upsert

__all__ = [
    "EDITABLE_FIELDS",
    "LeadConflict",
    "TransitionResult",
    "deal_close",
    "deal_create",
    "deal_update",
    "follow_up_log",
    "lead_assign_round_robin",
    "lead_changes",
    "lead_claim",
    "lead_create",
    "lead_delete",
    "lead_find_by_email",
    "lead_match",
    "lead_promote_if_qualified",
    "lead_reassign",
    "lead_score_refresh",
    "lead_transition",
    "lead_update",
    "lead_upsert",
    "sla_breach_record",
    "sla_breaches_check",
    "sla_due_compute",
    "territory_for_country",
    "territory_for_lead",
]
