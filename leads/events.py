"""What the lead services announce (config.events): published inside the service's
transaction, handled by notifications, webhooks and the task queue (their `handlers`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

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
class LeadsReassigned(Event):
    """A manager gave several leads to one owner at once (one notification for all)."""

    lead_ids: tuple[int, ...]
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
class SearchIndexGrew(Event):
    """An import run put many new leads in the search index's pending list, to merge."""

    leads: int


@dataclass(frozen=True, kw_only=True)
class LeadImportQueued(Event):
    """An import run too large to finish within the request waits for a worker."""

    import_id: int
    keep_upload: bool = False  # if the broker refuses it: keep the file for "try again"


# The notification event a user opts in to (their profile's email_events) for the
# morning digest of their agenda; the digest goes only to those who chose it.
AGENDA_DIGEST = "agenda.digest"


@dataclass(frozen=True, kw_only=True)
class FollowUpDue(Event):
    """A planned follow-up (a lead's next_follow_up_at) fell due for its owner."""

    lead_id: int
    owner_id: int
    due_at: datetime


@dataclass(frozen=True, kw_only=True)
class AgendaDigestDue(Event):
    """The morning digest of a user's agenda for `day` (they opted in to AGENDA_DIGEST)."""

    user_id: int
    day: date
    overdue: int
    missed: int
    today: int
    to_schedule: int
