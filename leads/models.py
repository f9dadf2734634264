"""The one shared record of every lead, its history, follow-ups, SLA breaches and deals."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q, Value
from django.db.models.functions import Coalesce, Lower, NullIf, Trim
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from alignment.models import FollowUpKind, FollowUpOutcome, StageKey


class SourceChannel(models.TextChoices):
    ORGANIC_SEARCH = "organic_search", _("Organic search")
    PAID_SEARCH = "paid_search", _("Paid search")
    SOCIAL = "social", _("Social")
    EMAIL = "email", _("Email")
    REFERRAL = "referral", _("Referral")
    DISPLAY = "display", _("Display")
    DIRECT = "direct", _("Direct")
    EVENT = "event", _("Event")
    PARTNER = "partner", _("Partner")
    OUTBOUND = "outbound", _("Outbound")
    OTHER = "other", _("Other")
    UNKNOWN = "unknown", _("Unknown")


# The columns where a lead records when it last entered each stage (`<stage key>_at`).
STAGE_MOMENTS = [f"{key}_at" for key in StageKey.values]
# Where a lead still waits for work (the filters, queues and clocks read it).
OPEN_STAGES = [StageKey.INQUIRY, StageKey.MQL, StageKey.SAL, StageKey.SQL, StageKey.OPPORTUNITY]


def account_key(prefix: str = "") -> Coalesce:
    """The account a lead belongs to: its company's lower-cased, trimmed name; a lead
    without one is its own account (its e-mail). `prefix` reaches the lead from another
    model ("lead__"). A deal keeps its lead's (Deal.account, by a trigger with the same
    expression in SQL: leads 0021)."""
    return Coalesce(
        NullIf(Lower(Trim(f"{prefix}company")), Value("")),
        Lower(f"{prefix}email"),
        output_field=models.CharField(),
    )


class Lead(models.Model):
    email = models.EmailField(_("email"), max_length=254)
    external_id = models.CharField(_("external id"), max_length=100, null=True, blank=True)
    first_name = models.CharField(_("first name"), max_length=100, blank=True)
    last_name = models.CharField(_("last name"), max_length=100, blank=True)
    company = models.CharField(_("company"), max_length=200, blank=True)
    title = models.CharField(_("job title"), max_length=200, blank=True)
    phone = models.CharField(_("phone"), max_length=50, blank=True)
    country = models.CharField(_("country"), max_length=2, blank=True, help_text=_("ISO 3166 code"))
    industry = models.CharField(_("industry"), max_length=100, blank=True)
    company_size = models.PositiveIntegerField(_("company size (employees)"), null=True, blank=True)
    source = models.CharField(
        _("source channel"),
        max_length=20,
        choices=SourceChannel.choices,
        default=SourceChannel.UNKNOWN,
    )
    campaign = models.ForeignKey(
        "campaigns.Campaign",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="first_touch_leads",
        verbose_name=_("first-touch campaign"),
        db_index=False,  # lead_campaign_idx leads with it
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="owned_leads",
        verbose_name=_("owner"),
        db_index=False,  # lead_queue_idx leads with it
    )
    territory = models.ForeignKey(
        "metrics.Territory",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="leads",
        verbose_name=_("territory"),
    )
    stage = models.CharField(
        _("stage"), max_length=20, choices=StageKey.choices, default=StageKey.INQUIRY
    )
    score = models.IntegerField(_("score"), default=0)
    score_breakdown = models.JSONField(_("score breakdown"), default=list, blank=True)
    scored_at = models.DateTimeField(_("scored at"), null=True, blank=True)
    qualified_under = models.ForeignKey(
        "alignment.Agreement",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="qualified_leads",
        verbose_name=_("qualified under agreement"),
        db_index=False,  # lead_qualified_under_idx, of the leads that have one
    )
    custom_fields = models.JSONField(_("custom fields"), default=dict, blank=True)

    # When the lead entered each stage (the latest entry), and the response clock.
    inquiry_at = models.DateTimeField(_("inquiry at"), null=True, blank=True)
    mql_at = models.DateTimeField(_("MQL at"), null=True, blank=True)
    sal_at = models.DateTimeField(_("SAL at"), null=True, blank=True)
    sql_at = models.DateTimeField(_("SQL at"), null=True, blank=True)
    opportunity_at = models.DateTimeField(_("opportunity at"), null=True, blank=True)
    won_at = models.DateTimeField(_("won at"), null=True, blank=True)
    lost_at = models.DateTimeField(_("lost at"), null=True, blank=True)
    recycled_at = models.DateTimeField(_("recycled at"), null=True, blank=True)
    disqualified_at = models.DateTimeField(_("disqualified at"), null=True, blank=True)
    stage_entered_at = models.DateTimeField(_("stage entered at"), null=True, blank=True)
    assigned_at = models.DateTimeField(_("assigned at"), null=True, blank=True)
    first_follow_up_at = models.DateTimeField(_("first follow up at"), null=True, blank=True)
    last_activity_at = models.DateTimeField(_("last activity at"), null=True, blank=True)
    next_follow_up_at = models.DateTimeField(_("next follow up at"), null=True, blank=True)
    sla_due_at = models.DateTimeField(_("SLA due"), null=True, blank=True)
    # Set when sales rejects the MQL: it may not return as an MQL before this moment.
    rest_until = models.DateTimeField(_("rests until"), null=True, blank=True)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,  # lead_created_by_idx, of the leads that have one
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("lead")
        verbose_name_plural = _("leads")
        permissions = [
            ("claim_lead", "Can claim an unassigned lead"),
            ("assign_lead", "Can assign and reassign leads"),
            ("merge_lead", "Can merge duplicate leads"),
        ]
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                name="lead_email_unique_ci",
                violation_error_message=_("A lead with this email already exists."),
            ),
            models.UniqueConstraint(
                fields=["external_id"],
                condition=Q(external_id__isnull=False),
                name="lead_external_id_unique",
            ),
        ]
        indexes = [
            # The rep queue: my open leads, most urgent first (a lead enters it when it
            # gets an owner; the unassigned open ones are in lead_open_queue_idx).
            models.Index(
                fields=["owner", "sla_due_at", "id"],
                condition=Q(owner__isnull=False),
                name="lead_queue_idx",
            ),
            # The queue proper: only open leads, in the queue's order (closed ones skipped).
            models.Index(
                fields=["owner", "sla_due_at", "id"],
                condition=Q(stage__in=["inquiry", "mql", "sal", "sql", "opportunity"]),
                name="lead_open_queue_idx",
            ),
            # The agenda: a rep's next follow-ups by date (of the leads that have one).
            models.Index(
                fields=["owner", "next_follow_up_at"],
                condition=Q(next_follow_up_at__isnull=False),
                name="lead_agenda_idx",
            ),
            models.Index(fields=["stage", "territory"], name="lead_stage_territory_idx"),
            models.Index(fields=["created_at", "id"], name="lead_created_idx"),
            # The hand-off figures over a period's MQLs and assignments (SLA compliance, the
            # median response time), overall or narrowed, read these alone (PostgreSQL:
            # index-only, once vacuum has marked the pages visible).
            # Partial, like the other indexes on a moment or a link most new leads do not
            # have yet: a lead is written into them when it gets one, so a new inquiry (an
            # import writes 100k at a time) costs fewer index entries; a range or an
            # equality on the column implies it is set, so every query still uses them.
            models.Index(
                fields=["mql_at"],
                include=["id", "first_follow_up_at", "territory", "campaign", "source"],
                condition=Q(mql_at__isnull=False),
                name="lead_mql_at_idx",
            ),
            models.Index(
                fields=["assigned_at"],
                include=["id", "first_follow_up_at", "territory", "campaign", "source"],
                condition=Q(assigned_at__isnull=False),
                name="lead_assigned_at_idx",
            ),
            models.Index(
                fields=["won_at"], condition=Q(won_at__isnull=False), name="lead_won_at_idx"
            ),
            models.Index(fields=["campaign", "created_at"], name="lead_campaign_idx"),
            models.Index(
                fields=["sla_due_at"],
                condition=Q(sla_due_at__isnull=False),
                name="lead_sla_due_idx",
            ),
            models.Index(
                fields=["qualified_under"],
                condition=Q(qualified_under__isnull=False),
                name="lead_qualified_under_idx",
            ),
            models.Index(
                fields=["created_by"],
                condition=Q(created_by__isnull=False),
                name="lead_created_by_idx",
            ),
            # A lead's dimensions by id (PostgreSQL: INCLUDE): metrics over deals, stage
            # events and follow-ups grouped or narrowed by the lead's territory, campaign
            # or source join here without reading the lead rows (index-only).
            models.Index(
                fields=["id"],
                include=["territory", "campaign", "source"],
                name="lead_dimensions_idx",
            ),
        ]

    def __str__(self) -> str:
        name = f"{self.first_name} {self.last_name}".strip()
        return f"{name} <{self.email}>" if name else self.email

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip() or self.email


class StageEvent(models.Model):
    """One recorded stage change (history is never rewritten)."""

    class Source(models.TextChoices):
        MANUAL = "manual", _("Manual")
        API = "api", _("API")
        IMPORT = "import", _("Import")
        AUTOMATIC = "automatic", _("Automatic (scoring/SLA)")
        REVERT = "revert", _("Revert")

    lead = models.ForeignKey(
        Lead,
        verbose_name=_("lead"),
        on_delete=models.CASCADE,
        related_name="stage_events",
        db_index=False,  # stage_event_lead_idx leads with it
    )
    from_stage = models.CharField(
        _("from stage"), max_length=20, choices=StageKey.choices, blank=True
    )
    to_stage = models.CharField(_("to stage"), max_length=20, choices=StageKey.choices)
    occurred_at = models.DateTimeField(_("occurred at"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,  # stage_event_actor_idx, of the events that have one
    )
    reason_code = models.CharField(_("reason code"), max_length=40, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    agreement = models.ForeignKey(
        "alignment.Agreement",
        verbose_name=_("agreement"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,  # stage_event_agreement_idx, of the events that have one
    )
    source = models.CharField(
        _("source"), max_length=10, choices=Source.choices, default=Source.MANUAL
    )
    # The team the actor acted for (empty: the system or an import). Only sales
    # decisions on MQLs count in the acceptance rate.
    actor_team = models.CharField(_("actor's team"), max_length=10, blank=True, db_default="")
    # A hand move past the stage's entry criterion, allowed to a manager with a written
    # reason (in `reason`); both teams see these in the meeting pack.
    override = models.BooleanField(_("override"), default=False, db_default=False)
    # The lead's score when it moved (the MQL criterion is judged on it, not on a
    # score that decayed later).
    score = models.IntegerField(_("score at the move"), null=True, blank=True)
    # A sales manager's revert of an earlier move: this event takes the lead back to the
    # stage the reverted move left; the reverted move stays recorded, marked by this link.
    reverts = models.OneToOneField(
        "self",
        verbose_name=_("reverts"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reverted_by",
    )

    class Meta:
        ordering = ["lead", "occurred_at", "id"]
        verbose_name = _("stage event")
        verbose_name_plural = _("stage events")
        indexes = [
            models.Index(fields=["lead", "occurred_at"], name="stage_event_lead_idx"),
            # The metrics' cohorts: who entered a stage in a period (index-only on
            # PostgreSQL, lead_id and source included: a revert is no entry), then
            # whether each reached the next stage.
            models.Index(
                fields=["to_stage", "occurred_at"],
                include=["lead", "source", "id", "from_stage", "actor_team", "override"],
                name="stage_event_to_lead_idx",
            ),
            models.Index(fields=["lead", "to_stage", "occurred_at"], name="stage_event_reach_idx"),
            # Overrides (a manager's hand move past the entry criterion) are rare: the MQL
            # overrides of a period from this small index, not by filtering every move
            # into MQL of the period (48k rows in 28 days at 1M leads: 7-14 ms -> 0.1 ms).
            models.Index(
                fields=["to_stage", "occurred_at"],
                include=["lead", "id"],
                condition=models.Q(override=True),
                name="stage_event_override_idx",
            ),
            # The hand-off's decisions (from MQL, by whom) by period, from the index alone:
            # stage events are never updated, so their pages stay marked visible.
            models.Index(
                fields=["from_stage", "occurred_at"],
                include=["id", "to_stage", "source", "actor_team"],
                name="stage_event_from_idx",
            ),
            # Imported and automatic moves have no actor, and only moves checked against
            # a version name one: these hold the events that do (a user's or a version's
            # deletion looks them up), not an entry per imported event.
            models.Index(
                fields=["actor"], condition=Q(actor__isnull=False), name="stage_event_actor_idx"
            ),
            models.Index(
                fields=["agreement"],
                condition=Q(agreement__isnull=False),
                name="stage_event_agreement_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(from_stage=models.F("to_stage")), name="stage_event_changes"
            )
        ]

    def __str__(self) -> str:
        before = self.get_from_stage_display() or "∅"
        return f"{self.lead_id}: {before} → {self.get_to_stage_display()}"


class FollowUp(models.Model):
    lead = models.ForeignKey(
        Lead, verbose_name=_("lead"), on_delete=models.CASCADE, related_name="follow_ups"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("author"),
        on_delete=models.PROTECT,
        related_name="follow_ups",
    )
    kind = models.CharField(_("kind"), max_length=12, choices=FollowUpKind.choices)
    outcome = models.CharField(_("outcome"), max_length=16, choices=FollowUpOutcome.choices)
    notes = models.TextField(_("notes"), blank=True)
    occurred_at = models.DateTimeField(_("when"))
    next_step = models.CharField(_("next step"), max_length=200, blank=True)
    next_follow_up_at = models.DateTimeField(_("next follow-up"), null=True, blank=True)
    # Whether this follow-up stopped a running SLA clock in time (the rep's credit).
    within_sla = models.BooleanField(_("within SLA"), null=True, blank=True)
    # A contact with the buyer as the agreement defines it (stops the SLA clock);
    # otherwise an attempt, shown as effort.
    is_contact = models.BooleanField(_("contact"), default=False, db_default=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name = _("follow up")
        verbose_name_plural = _("follow ups")
        indexes = [
            models.Index(fields=["lead", "occurred_at"], name="follow_up_lead_idx"),
            models.Index(fields=["author", "occurred_at"], name="follow_up_author_idx"),
            models.Index(fields=["author", "next_follow_up_at"], name="follow_up_agenda_idx"),
            # The ledger's credits: follow-ups that stopped an SLA clock, by period, counted
            # overall or by rep from the index alone (PostgreSQL: INCLUDE).
            models.Index(
                fields=["occurred_at"],
                include=["id", "author"],
                condition=Q(within_sla=True),
                name="follow_up_credit_idx",
            ),
        ]

    def __str__(self) -> str:
        return gettext("%(kind)s on %(lead)s") % {
            "kind": self.get_kind_display(),
            "lead": self.lead_id,
        }


class SlaBreach(models.Model):
    """A lead that waited past its stage's SLA; recorded once per (lead, stage, deadline)."""

    lead = models.ForeignKey(
        Lead, verbose_name=_("lead"), on_delete=models.CASCADE, related_name="sla_breaches"
    )
    stage = models.CharField(_("stage"), max_length=20, choices=StageKey.choices)
    due_at = models.DateTimeField(_("due at"))
    detected_at = models.DateTimeField(_("detected at"))
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="sla_breaches",
    )
    territory = models.ForeignKey(
        "metrics.Territory",
        verbose_name=_("territory"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["-due_at"]
        verbose_name = _("SLA breach")
        verbose_name_plural = _("SLA breaches")
        indexes = [models.Index(fields=["owner", "due_at"]), models.Index(fields=["due_at"])]
        constraints = [
            models.UniqueConstraint(fields=["lead", "stage", "due_at"], name="sla_breach_once")
        ]

    def __str__(self) -> str:
        return gettext("SLA breach on %(lead)s (%(stage)s)") % {
            "lead": self.lead_id,
            "stage": self.get_stage_display(),
        }


class Correction(models.Model):
    """A correction of a record the metrics count (append-only): who, when, why, what.

    The records themselves (stage events, SLA breaches and credits, deal outcomes) are
    never edited in place without one of these beside the change.
    """

    class Record(models.TextChoices):
        DEAL = "deal", _("Deal")
        FOLLOW_UP = "follow_up", _("Follow-up (SLA credit)")
        SLA_BREACH = "sla_breach", _("SLA breach")
        STAGE_EVENT = "stage_event", _("Stage event")

    lead = models.ForeignKey(
        Lead, verbose_name=_("lead"), on_delete=models.CASCADE, related_name="corrections"
    )
    record = models.CharField(_("record"), max_length=12, choices=Record.choices)
    record_id = models.BigIntegerField(_("record id"))
    changes = models.JSONField(_("changes"), default=dict)
    reason = models.TextField(_("reason"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    occurred_at = models.DateTimeField(_("occurred at"), default=timezone.now)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name = _("correction")
        verbose_name_plural = _("corrections")
        indexes = [models.Index(fields=["lead", "occurred_at"], name="correction_lead_idx")]
        constraints = [
            models.CheckConstraint(condition=~Q(reason=""), name="correction_has_reason")
        ]

    def __str__(self) -> str:
        return gettext("Correction of %(record)s %(id)s") % {
            "record": self.get_record_display(),
            "id": self.record_id,
        }


class DealOutcome(models.TextChoices):
    OPEN = "open", _("Open")
    WON = "won", _("Won")
    LOST = "lost", _("Lost")


class Deal(models.Model):
    lead = models.ForeignKey(
        Lead, verbose_name=_("lead"), on_delete=models.PROTECT, related_name="deals"
    )
    name = models.CharField(_("name"), max_length=200, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="deals",
    )
    amount = models.DecimalField(
        _("amount"), max_digits=14, decimal_places=2, validators=[MinValueValidator(0)]
    )
    gross_margin = models.DecimalField(
        _("gross margin"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    expected_close = models.DateField(_("expected close"), null=True, blank=True)
    outcome = models.CharField(
        _("outcome"), max_length=6, choices=DealOutcome.choices, default=DealOutcome.OPEN
    )
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    lost_reason = models.CharField(_("lost reason"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    # The lead's facts the deal figures read, kept by the database on every write path
    # (leads 0021: a trigger sets them from the lead on each insert and update of a deal,
    # and another follows a change of the lead's company, e-mail, campaign or creation
    # time). With them new accounts, the sales cycle, attributed revenue and revenue by
    # campaign read the deal table alone, never the 1M-row lead table. Whatever is
    # assigned here is overwritten on save.
    account = models.CharField(
        _("account"), max_length=254, null=True, editable=False,
        help_text=_("The lead's account (its company's lower-cased name, else its e-mail)."),
    )  # fmt: skip
    lead_campaign = models.ForeignKey(
        "campaigns.Campaign", verbose_name=_("lead's campaign"), null=True, editable=False,
        on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+",
    )  # fmt: skip
    lead_created_at = models.DateTimeField(_("lead created at"), null=True, editable=False)
    # Whether this is its account's first win (the earliest won deal by closing time,
    # then id; a deal without an account is its own), kept by the database on every write
    # path (leads 0023: a trigger on the deals sets the flags of an account whose wins
    # changed; a row written past the ORM starts false, the database's default, and the
    # trigger sets it). New accounts count these deals, never probing every earlier win.
    first_win = models.BooleanField(
        _("first win of its account"), default=False, db_default=False, editable=False,
        help_text=_("The account's earliest won deal: a new account won."),
    )  # fmt: skip

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("deal")
        verbose_name_plural = _("deals")
        indexes = [
            # With what the deal figures read (PostgreSQL: INCLUDE): revenue, win rate,
            # deal size, the sales cycle, attributed revenue and new accounts, over a
            # period, read the index only.
            models.Index(
                fields=["outcome", "closed_at"],
                name="deal_closed_idx",
                include=["id", "lead", "amount", "lead_campaign", "lead_created_at", "account"],
            ),
            models.Index(fields=["created_at"], name="deal_created_idx", include=["id", "amount"]),
            # A lead's deals by outcome and closing time, index-only.
            models.Index(fields=["lead", "outcome", "closed_at", "id"], name="deal_lead_idx"),
            # An account's wins in order (the trigger finding an account's first win).
            models.Index(fields=["account", "outcome", "closed_at", "id"], name="deal_account_idx"),
            # New accounts by period: the first wins alone (a tenth of the wins at 1M leads).
            models.Index(
                fields=["closed_at"],
                include=["id", "lead", "lead_campaign", "owner", "amount"],
                condition=Q(first_win=True),
                name="deal_first_win_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="deal_amount_not_negative"),
            models.CheckConstraint(
                condition=Q(outcome="open", closed_at__isnull=True)
                | (~Q(outcome="open") & Q(closed_at__isnull=False)),
                name="deal_closed_iff_outcome",
            ),
            models.CheckConstraint(
                condition=~Q(outcome="lost") | ~Q(lost_reason=""), name="deal_lost_has_reason"
            ),
        ]

    def __str__(self) -> str:
        return self.name or gettext("Deal %(id)s") % {"id": self.pk}


class LeadImport(models.Model):
    """One run of the importer, with its per-row report.

    A run commits batch by batch, and its counts move in the same transaction as each
    batch: rows 1 to `total_rows` are committed, whatever became of the run.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    class Failure(models.TextChoices):
        STALLED = "stalled", _("Worker lost")
        TIME_LIMIT = "time_limit", _("Time limit reached")
        ERROR = "error", _("Error")
        UPLOAD_MISSING = "upload_missing", _("Uploaded file missing")
        NOT_STARTED = "not_started", _("Never started")

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    filename = models.CharField(_("filename"), max_length=255, blank=True)
    dry_run = models.BooleanField(_("dry run"), default=False)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    total_rows = models.PositiveIntegerField(_("total rows"), default=0)
    created_count = models.PositiveIntegerField(_("created count"), default=0)
    updated_count = models.PositiveIntegerField(_("updated count"), default=0)
    unchanged_count = models.PositiveIntegerField(_("unchanged count"), default=0)
    error_count = models.PositiveIntegerField(_("error count"), default=0)
    warning_count = models.PositiveIntegerField(_("warning count"), default=0, db_default=0)
    report = models.JSONField(_("report"), default=list, blank=True)
    # A run on the worker: its stored file (a storage name, emptied once the file is gone)
    # and column mapping (null: columns by name).
    upload = models.CharField(_("upload"), max_length=255, blank=True, default="", db_default="")
    mapping = models.JSONField(_("column mapping"), null=True, blank=True)
    rows_expected = models.PositiveIntegerField(_("rows in the file"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    # Moved with every committed batch; a running run silent past LEAD_IMPORT_STALE_SECONDS
    # died and is marked failed (leads.imports.services).
    heartbeat_at = models.DateTimeField(_("last sign of life"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    failure = models.CharField(
        _("failure"),
        max_length=20,
        choices=Failure.choices,
        blank=True,
        default="",
        db_default="",
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("lead import")
        verbose_name_plural = _("lead imports")

    def __str__(self) -> str:
        return gettext("Import %(id)s (%(filename)s)") % {"id": self.pk, "filename": self.filename}


class ImportedLead(models.Model):
    """A lead an import run updated: the result page's "N leads updated" list.

    One row per (run, lead); a lead written twice by one run keeps its first verdict
    (created wins over a later update). Written with the batch that wrote the lead. The
    leads a run creates are ImportedRange rows since leads 0027 (runs before it recorded
    them here, `created` true, and are read so still).
    """

    run = models.ForeignKey(
        LeadImport,
        verbose_name=_("import"),
        on_delete=models.CASCADE,
        related_name="leads",
        db_index=False,  # imported_lead_once_per_run leads with it
    )
    lead = models.ForeignKey(
        Lead, verbose_name=_("lead"), on_delete=models.CASCADE, related_name="imports"
    )
    created = models.BooleanField(_("created by the import"))

    class Meta:
        verbose_name = _("imported lead")
        verbose_name_plural = _("imported leads")
        constraints = [
            models.UniqueConstraint(fields=["run", "lead"], name="imported_lead_once_per_run")
        ]
        indexes = [models.Index(fields=["run", "created"], name="imported_lead_run_created")]

    def __str__(self) -> str:
        return f"{self.run_id} → {self.lead_id}"


class ImportedRange(models.Model):
    """Leads an import run created: ids `first_id` to `last_id`, all the run's.

    A batch's new leads take their ids from the table's sequence together, so a batch is
    one range (more only when another writer took ids in between). One row per batch
    instead of a row per lead with its two foreign-key checks: a tenth of the database's
    time per imported lead (issue 21). The ranges of all runs never overlap (an id is
    used once), so the range holding an id is the one starting last at or before it.
    A lead deleted later (merged) simply is not found in its range.
    """

    run = models.ForeignKey(
        LeadImport,
        verbose_name=_("import"),
        on_delete=models.CASCADE,
        related_name="created_ranges",
        db_index=False,  # imported_range_run_first leads with it
    )
    first_id = models.BigIntegerField(_("first lead id"))
    last_id = models.BigIntegerField(_("last lead id"))

    class Meta:
        verbose_name = _("range of imported leads")
        verbose_name_plural = _("ranges of imported leads")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(first_id__lte=models.F("last_id")),
                name="imported_range_in_order",
            )
        ]
        indexes = [
            models.Index(fields=["run", "first_id"], name="imported_range_run_first"),
            models.Index(fields=["first_id"], name="imported_range_first"),
        ]

    def __str__(self) -> str:
        return f"{self.run_id} → {self.first_id}–{self.last_id}"


class ChannelAlias(models.Model):
    """A customer's own name for a source channel (Olist's `direct_traffic` is `direct`).

    The importer reads a source cell as a SourceChannel value, else as an alias; the alias
    is stored normalised (leads.imports.channels: lower case, trimmed, single spaces), so
    it is unique in any case.
    """

    alias = models.CharField(_("alias"), max_length=100, unique=True)
    channel = models.CharField(_("source channel"), max_length=20, choices=SourceChannel.choices)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["alias"]
        verbose_name = _("channel alias")
        verbose_name_plural = _("channel aliases")
        constraints = [
            models.CheckConstraint(
                condition=~Q(alias="") & Q(alias=Lower("alias")), name="channel_alias_normalised"
            ),
            models.CheckConstraint(
                condition=Q(channel__in=SourceChannel.values), name="channel_alias_known_channel"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.alias} → {self.get_channel_display()}"


class CalendarFeed(models.Model):
    """A user's private calendar feed (.ics): the secret in its URL, which they can reset.

    The token is a random string (secrets.token_urlsafe), shown to its user on the agenda
    page; the feed URL names the user too, and the token is compared in constant time.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="calendar_feed",
    )
    token = models.CharField(_("token"), max_length=64)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("calendar feed")
        verbose_name_plural = _("calendar feeds")

    def __str__(self) -> str:
        return gettext("Calendar feed of %(user)s") % {"user": self.user}


class LeadEdit(models.Model):
    """One change of a lead's own fields (contact, company, source…): who, when, what.

    Written by the one edit service on every path (the edit page, the API, the importer),
    so the lead's timeline shows each field's value before and after.
    """

    class Source(models.TextChoices):
        PAGE = "page", _("Page")
        API = "api", _("API")
        IMPORT = "import", _("Import")
        MERGE = "merge", _("Merge")

    lead = models.ForeignKey(
        Lead, verbose_name=_("lead"), on_delete=models.CASCADE, related_name="edits"
    )
    # {field: [before, after]}, values as JSON keeps them (a campaign as its id).
    changes = models.JSONField(_("changes"), default=dict)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    source = models.CharField(_("source"), max_length=10, choices=Source.choices)
    occurred_at = models.DateTimeField(_("occurred at"), default=timezone.now)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name = _("lead edit")
        verbose_name_plural = _("lead edits")
        indexes = [models.Index(fields=["lead", "occurred_at"], name="lead_edit_lead_idx")]

    def __str__(self) -> str:
        return gettext("Edit of lead %(lead)s") % {"lead": self.lead_id}


class LeadMerge(models.Model):
    """A duplicate lead merged into a survivor: the record of it, and the old id's forwarding.

    The duplicate's row is gone; every stage event, touch, follow-up, deal, intel and
    dispute it had now belongs to the survivor. `merged_lead_id` answers the old URL and
    API id with a redirect; `snapshot` keeps the duplicate's own fields as they were.
    """

    survivor = models.ForeignKey(
        Lead, verbose_name=_("survivor"), on_delete=models.CASCADE, related_name="merges"
    )
    merged_lead_id = models.BigIntegerField(_("merged lead id"), unique=True)
    merged_email = models.EmailField(_("merged lead's email"), max_length=254)
    merged_external_id = models.CharField(
        _("merged lead's external id"), max_length=100, blank=True
    )
    snapshot = models.JSONField(_("merged lead's fields"), default=dict)
    moved = models.JSONField(_("records moved"), default=dict)
    reason = models.TextField(_("reason"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    occurred_at = models.DateTimeField(_("occurred at"), default=timezone.now)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name = _("lead merge")
        verbose_name_plural = _("lead merges")
        constraints = [models.CheckConstraint(condition=~Q(reason=""), name="merge_has_reason")]

    def __str__(self) -> str:
        return gettext("Lead %(old)s merged into %(new)s") % {
            "old": self.merged_lead_id,
            "new": self.survivor_id,
        }


class LeadAssignment(models.Model):
    """A lead given to an owner by hand (a manager's reassignment, one by one or in bulk):
    who had it, who has it, who decided, when. Round-robin routing and claims are
    recorded on the lead itself (assigned_at); these are the decisions people made."""

    lead = models.ForeignKey(
        Lead, verbose_name=_("lead"), on_delete=models.CASCADE, related_name="assignments"
    )
    from_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("from"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    to_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("to"),
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
    )
    occurred_at = models.DateTimeField(_("occurred at"), default=timezone.now)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name = _("lead assignment")
        verbose_name_plural = _("lead assignments")
        indexes = [models.Index(fields=["lead", "occurred_at"], name="lead_assignment_lead_idx")]

    def __str__(self) -> str:
        return gettext("Lead %(lead)s reassigned") % {"lead": self.lead_id}


class SavedView(models.Model):
    """A list as a user keeps it: a name, the filters and sort (a query string), and
    whether it opens by default."""

    class ListKey(models.TextChoices):
        LEADS = "leads", _("Leads")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="saved_views",
    )
    list_key = models.CharField(_("list"), max_length=20, choices=ListKey.choices)
    name = models.CharField(_("name"), max_length=80)
    query = models.CharField(_("filters and sort"), max_length=1000, blank=True)
    is_default = models.BooleanField(_("opens by default"), default=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        ordering = ["list_key", "name"]
        verbose_name = _("saved view")
        verbose_name_plural = _("saved views")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "list_key", "name"], name="saved_view_name_unique"
            ),
            models.UniqueConstraint(
                fields=["user", "list_key"],
                condition=Q(is_default=True),
                name="saved_view_one_default",
            ),
        ]

    def __str__(self) -> str:
        return self.name
