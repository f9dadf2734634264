from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


class Team(models.TextChoices):
    MARKETING = "marketing", _("Marketing")
    SALES = "sales", _("Sales")


class StageKey(models.TextChoices):
    """Stable keys of the demand waterfall; names may be translated, keys never change."""

    INQUIRY = "inquiry", _("Inquiry")
    MQL = "mql", _("Marketing qualified (MQL)")
    SAL = "sal", _("Sales accepted (SAL)")
    SQL = "sql", _("Sales qualified (SQL)")
    OPPORTUNITY = "opportunity", _("Opportunity")
    WON = "won", _("Won")
    LOST = "lost", _("Lost")
    RECYCLED = "recycled", _("Recycled")
    DISQUALIFIED = "disqualified", _("Disqualified")


class FollowUpKind(models.TextChoices):
    CALL = "call", _("Call")
    EMAIL = "email", _("Email")
    MEETING = "meeting", _("Meeting")
    VISIT = "visit", _("Visit")
    DEMO = "demo", _("Demo")
    JOINT_CALL = "joint_call", _("Joint call with a marketer")
    NOTE = "note", _("Note")


class FollowUpOutcome(models.TextChoices):
    CONNECTED = "connected", _("Connected")
    LEFT_MESSAGE = "left_message", _("Left a message")
    NO_ANSWER = "no_answer", _("No answer")
    MEETING_BOOKED = "meeting_booked", _("Meeting booked")
    INTERESTED = "interested", _("Interested")
    NOT_INTERESTED = "not_interested", _("Not interested")
    COMPLETED = "completed", _("Completed")


# What stops a response-SLA clock: per follow-up kind, the outcomes that are a real
# contact with the buyer. Anything else (no answer, a left message, a note, an email
# nobody answered) is an attempt: effort the ledger shows, but the clock runs on.
CONTACT_OUTCOMES_DEFAULT: dict[str, list[str]] = {
    "call": ["connected", "meeting_booked", "interested", "not_interested", "completed"],
    "email": ["connected", "meeting_booked", "interested", "not_interested"],
    "meeting": ["connected", "meeting_booked", "interested", "not_interested", "completed"],
    "visit": ["connected", "meeting_booked", "interested", "not_interested", "completed"],
    "demo": ["connected", "meeting_booked", "interested", "not_interested", "completed"],
    "joint_call": ["connected", "meeting_booked", "interested", "not_interested", "completed"],
}

# How long a lead rejected by sales rests in nurture before it may return as an MQL.
RECYCLE_REST_DAYS_DEFAULT = 30


def contact_outcomes_default() -> dict[str, list[str]]:
    return {kind: list(outcomes) for kind, outcomes in CONTACT_OUTCOMES_DEFAULT.items()}


class AgreementStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    PROPOSED = "proposed", _("Proposed")
    ACTIVE = "active", _("Active")
    SUPERSEDED = "superseded", _("Superseded")


class Agreement(models.Model):
    """One version of the contract between marketing and sales.

    Holds the funnel, the criteria, the SLAs and the alignment-score weights. Only a
    draft is editable; exactly one version is active (a partial unique index).
    """

    version = models.PositiveIntegerField(_("version"), unique=True)
    title = models.CharField(_("title"), max_length=200)
    notes = models.TextField(_("notes"), blank=True)
    status = models.CharField(
        _("status"), max_length=12, choices=AgreementStatus.choices, default=AgreementStatus.DRAFT
    )
    based_on = models.ForeignKey(
        "self",
        verbose_name=_("based on"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="successors",
    )
    mql_threshold = models.PositiveIntegerField(_("MQL threshold"), default=50)
    # Alignment-score weights (DESIGN.md "Alignment score"); a missing component drops
    # out and the rest are renormalised, so the weights need not add up to 100.
    weight_sla_compliance = models.PositiveSmallIntegerField(_("weight SLA compliance"), default=25)
    weight_acceptance_rate = models.PositiveSmallIntegerField(
        _("weight acceptance rate"), default=20
    )
    weight_conversion = models.PositiveSmallIntegerField(_("weight conversion"), default=20)
    weight_target_attainment = models.PositiveSmallIntegerField(
        _("weight target attainment"), default=15
    )
    weight_intel_ack = models.PositiveSmallIntegerField(_("weight intel ack"), default=10)
    weight_disputes_resolved = models.PositiveSmallIntegerField(
        _("weight disputes resolved"), default=10
    )
    acceptance_floor = models.DecimalField(
        _("acceptance-rate floor"),
        max_digits=4,
        decimal_places=3,
        default="0.500",
        validators=[MinValueValidator(0), MaxValueValidator(1)],
        help_text=_("A campaign whose leads are accepted less often than this is flagged."),
    )
    readiness_threshold = models.DecimalField(
        _("launch-readiness threshold"),
        max_digits=4,
        decimal_places=3,
        default="0.800",
        validators=[MinValueValidator(0), MaxValueValidator(1)],
        help_text=_("Share of target reps who must acknowledge a briefing before launch."),
    )
    # Hand-offs between the teams (alignment.handoffs): when each is due, when its owner
    # is reminded, when it is escalated.
    intel_ack_days = models.PositiveSmallIntegerField(
        _("days for marketing to acknowledge intelligence"),
        default=5,
        db_default=5,  # rows written by older migrations' code get it too
        validators=[MinValueValidator(1), MaxValueValidator(90)],
    )
    dispute_resolution_days = models.PositiveSmallIntegerField(
        _("days to resolve a dispute"),
        default=5,
        db_default=5,  # rows written by older migrations' code get it too
        validators=[MinValueValidator(1), MaxValueValidator(90)],
    )
    briefing_ack_days = models.PositiveSmallIntegerField(
        _("days for reps to acknowledge a briefing"),
        default=3,
        db_default=3,  # rows written by older migrations' code get it too
        validators=[MinValueValidator(1), MaxValueValidator(90)],
        help_text=_("Counted from publication; never later than the campaign's launch."),
    )
    handoff_reminder_hours = models.PositiveSmallIntegerField(
        _("reminder before a hand-off is due (hours)"),
        default=24,
        db_default=24,  # rows written by older migrations' code get it too
        validators=[MinValueValidator(1), MaxValueValidator(720)],
    )
    follow_up_grace_hours = models.PositiveSmallIntegerField(
        _("hours a planned follow-up may be late before the manager is told"),
        default=24,
        db_default=24,  # rows written by older migrations' code get it too
        validators=[MinValueValidator(1), MaxValueValidator(720)],
    )
    # Business hours for SLA clocks, e.g. {"start": 9, "end": 17, "weekdays": [0,1,2,3,4]};
    # empty means calendar hours.
    business_hours = models.JSONField(_("business hours"), default=dict, blank=True)
    # Which follow-ups count as contact (stop the SLA clock): {kind: [outcome, ...]}.
    contact_outcomes = models.JSONField(
        _("follow-ups that count as contact"), default=contact_outcomes_default, blank=True
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    proposed_at = models.DateTimeField(_("proposed at"), null=True, blank=True)
    activated_at = models.DateTimeField(_("activated at"), null=True, blank=True)
    superseded_at = models.DateTimeField(_("superseded at"), null=True, blank=True)

    class Meta:
        ordering = ["-version"]
        verbose_name = _("agreement")
        verbose_name_plural = _("agreements")
        permissions = [
            ("sign_for_sales", "Can sign an agreement for sales"),
            ("sign_for_marketing", "Can sign an agreement for marketing"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["status"],
                condition=Q(status="active"),
                name="agreement_one_active",
                violation_error_message=_("Another agreement version is already active."),
            ),
            models.CheckConstraint(
                condition=~Q(status="active") | Q(activated_at__isnull=False),
                name="agreement_active_has_activated_at",
            ),
        ]

    def __str__(self) -> str:
        return f"v{self.version} · {self.title} ({self.get_status_display()})"

    @property
    def is_editable(self) -> bool:
        return self.status == AgreementStatus.DRAFT

    def intel_ack_due(self, created_at: datetime) -> datetime:
        """When marketing must have acknowledged intelligence sent at `created_at`."""
        return created_at + timedelta(days=self.intel_ack_days)

    def dispute_due(self, created_at: datetime) -> datetime:
        """When a dispute raised at `created_at` must be resolved."""
        return created_at + timedelta(days=self.dispute_resolution_days)

    def weights(self) -> dict[str, int]:
        return {
            "sla_compliance": self.weight_sla_compliance,
            "acceptance_rate": self.weight_acceptance_rate,
            "mql_to_won_vs_plan": self.weight_conversion,
            "target_attainment": self.weight_target_attainment,
            "intel_ack_within_5d": self.weight_intel_ack,
            "disputes_resolved_within_5d": self.weight_disputes_resolved,
        }


class AgreementSignature(models.Model):
    """A manager's signature for their own team; each team signs a version once."""

    agreement = models.ForeignKey(
        Agreement, verbose_name=_("agreement"), on_delete=models.CASCADE, related_name="signatures"
    )
    team = models.CharField(_("team"), max_length=10, choices=Team.choices)
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("signed by"),
        on_delete=models.PROTECT,
        related_name="agreement_signatures",
    )
    signed_at = models.DateTimeField(_("signed at"))

    class Meta:
        verbose_name = _("agreement signature")
        verbose_name_plural = _("agreement signatures")
        constraints = [
            models.UniqueConstraint(
                fields=["agreement", "team"],
                name="signature_once_per_team",
                violation_error_message=_("This team has already signed this version."),
            )
        ]

    def __str__(self) -> str:
        return gettext("%(agreement)s signed for %(team)s by %(user)s") % {
            "agreement": self.agreement,
            "team": self.get_team_display(),
            "user": self.signed_by,
        }


class FunnelStage(models.Model):
    agreement = models.ForeignKey(
        Agreement, verbose_name=_("agreement"), on_delete=models.CASCADE, related_name="stages"
    )
    key = models.CharField(_("key"), max_length=20, choices=StageKey.choices)
    name = models.CharField(_("name"), max_length=80)
    order = models.PositiveSmallIntegerField(_("order"))
    owner_team = models.CharField(_("owning team"), max_length=10, choices=Team.choices)
    sla_hours = models.PositiveIntegerField(
        _("SLA (hours)"),
        null=True,
        blank=True,
        help_text=_("The most time a lead may wait in this stage before its owner acts."),
    )
    entry_criteria = models.TextField(_("entry criteria"), blank=True)
    exit_criteria = models.TextField(_("exit criteria"), blank=True)
    win_probability = models.DecimalField(
        _("win probability"),
        max_digits=4,
        decimal_places=3,
        default=0,
        validators=[MinValueValidator(0), MaxValueValidator(1)],
        help_text=_("Weight of open pipeline in this stage for the forecast."),
    )
    next_stages = models.ManyToManyField(
        "self",
        verbose_name=_("next stages"),
        symmetrical=False,
        blank=True,
        related_name="previous_stages",
    )
    # The texts above in the offered languages other than the deployment's (LANGUAGE_CODE,
    # whose text is the field itself): {"pl": {"name": "…"}}; a missing one falls back.
    translations = models.JSONField(_("translations"), default=dict, db_default={}, blank=True)

    class Meta:
        ordering = ["agreement", "order"]
        verbose_name = _("funnel stage")
        verbose_name_plural = _("funnel stages")
        constraints = [
            models.UniqueConstraint(
                fields=["agreement", "key"], name="stage_key_once_per_agreement"
            ),
            models.UniqueConstraint(
                fields=["agreement", "order"], name="stage_order_once_per_agreement"
            ),
            models.CheckConstraint(condition=Q(sla_hours__gt=0), name="stage_sla_positive"),
        ]

    def __str__(self) -> str:
        return self.name


class ReasonKind(models.TextChoices):
    REJECTION = "rejection", _("MQL rejection")
    LOST = "lost", _("Deal lost")
    DISQUALIFIED = "disqualified", _("Disqualification")


class ReasonCode(models.Model):
    agreement = models.ForeignKey(
        Agreement,
        verbose_name=_("agreement"),
        on_delete=models.CASCADE,
        related_name="reason_codes",
    )
    kind = models.CharField(_("kind"), max_length=14, choices=ReasonKind.choices)
    code = models.SlugField(_("code"), max_length=40)
    label = models.CharField(_("label"), max_length=120)
    # Rejections only: how long a lead rejected for this reason rests before it may
    # return as an MQL (and then only on engagement after the rejection).
    rest_days = models.PositiveSmallIntegerField(
        _("rest period (days)"),
        default=RECYCLE_REST_DAYS_DEFAULT,
        db_default=RECYCLE_REST_DAYS_DEFAULT,
        validators=[MaxValueValidator(3650)],
    )
    # The texts above in the offered languages other than the deployment's (LANGUAGE_CODE,
    # whose text is the field itself): {"pl": {"name": "…"}}; a missing one falls back.
    translations = models.JSONField(_("translations"), default=dict, db_default={}, blank=True)

    class Meta:
        ordering = ["kind", "code"]
        verbose_name = _("reason code")
        verbose_name_plural = _("reason codes")
        constraints = [
            models.UniqueConstraint(
                fields=["agreement", "kind", "code"], name="reason_code_unique_per_kind"
            )
        ]

    def __str__(self) -> str:
        return self.label


class RuleKind(models.TextChoices):
    FIT = "fit", _("Fit rule (points for a lead attribute)")
    MUST = "must", _("Must rule (hard requirement)")
    ENGAGEMENT = "engagement", _("Engagement rule (points per touch, decaying)")


class RuleOperator(models.TextChoices):
    EQ = "eq", _("equals")
    NEQ = "neq", _("does not equal")
    IN = "in", _("is one of")
    NOT_IN = "not_in", _("is none of")
    CONTAINS = "contains", _("contains")
    GTE = "gte", _("is at least")
    LTE = "lte", _("is at most")
    EXISTS = "exists", _("is filled in")


class QualificationRule(models.Model):
    """A rule marketing writes and sales signs as part of an agreement version."""

    agreement = models.ForeignKey(
        Agreement, verbose_name=_("agreement"), on_delete=models.CASCADE, related_name="rules"
    )
    kind = models.CharField(_("kind"), max_length=10, choices=RuleKind.choices)
    # Fit and must rules test a lead field.
    field = models.CharField(_("lead field"), max_length=60, blank=True)
    operator = models.CharField(
        _("operator"), max_length=10, choices=RuleOperator.choices, blank=True
    )
    value = models.JSONField(_("value"), null=True, blank=True)
    # Engagement rules give points per touch of a kind, halving every half-life.
    touch_kind = models.CharField(_("touch kind"), max_length=30, blank=True)
    half_life_days = models.PositiveSmallIntegerField(
        _("decay half-life (days)"), null=True, blank=True
    )
    points = models.IntegerField(_("points"), default=0)
    description = models.CharField(_("description"), max_length=200, blank=True)
    # The texts above in the offered languages other than the deployment's (LANGUAGE_CODE,
    # whose text is the field itself): {"pl": {"name": "…"}}; a missing one falls back.
    translations = models.JSONField(_("translations"), default=dict, db_default={}, blank=True)

    class Meta:
        ordering = ["agreement", "kind", "id"]
        verbose_name = _("qualification rule")
        verbose_name_plural = _("qualification rules")
        constraints = [
            models.CheckConstraint(
                condition=~Q(kind__in=["fit", "must"]) | (~Q(field="") & ~Q(operator="")),
                name="rule_fit_must_has_field_and_operator",
            ),
            models.CheckConstraint(
                condition=~Q(kind="engagement")
                | (~Q(touch_kind="") & Q(half_life_days__isnull=False) & Q(half_life_days__gt=0)),
                name="rule_engagement_has_touch_kind_and_half_life",
            ),
            models.CheckConstraint(
                condition=~Q(kind="must") | Q(points=0), name="rule_must_no_points"
            ),
        ]

    def __str__(self) -> str:
        return self.description or f"{self.get_kind_display()}: {self.field or self.touch_kind}"
