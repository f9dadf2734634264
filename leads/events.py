"""What the lead services announce (config.events): published inside the service's
transaction, handled by notifications, webhooks and the task queue (their `handlers`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from config.events import Event


@dataclass(frozen=True, kw_only=True)
class LeadCreated(Event):
    lead_id: int


@dataclass(frozen=True, kw_only=True)
class LeadsImported(Event):
    """Leads an import run wrote in bulk (each is new: one lead.created webhook each)."""

    lead_ids: tuple[int, ...]


@dataclass(frozen=True, kw_only=True)
class LeadTransitioned(Event):
    """A lead moved from one stage to another (one StageEvent row)."""

    lead_id: int
    stage_event_id: int
    from_stage: str
    to_stage: str
    actor_id: int | None


@dataclass(frozen=True, kw_only=True)
class LeadReassigned(Event):
    """A manager gave a lead to another owner."""

    lead_id: int
    owner_id: int
    actor_id: int
    at: datetime


@dataclass(frozen=True, kw_only=True)
class FollowUpLogged(Event):
    follow_up_id: int
    lead_id: int
    is_contact: bool


@dataclass(frozen=True, kw_only=True)
class SlaBreached(Event):
    """A lead waited past its stage's SLA deadline (one SlaBreach row, recorded once)."""

    breach_id: int
    lead_id: int


@dataclass(frozen=True, kw_only=True)
class DealClosed(Event):
    deal_id: int
    lead_id: int
    outcome: str


@dataclass(frozen=True, kw_only=True)
class LeadImportQueued(Event):
    """An import run too large to finish within the request waits for a worker."""

    import_id: int
    keep_upload: bool = False  # if the broker refuses it: keep the file for "try again"
