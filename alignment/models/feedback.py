from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from alignment.models.agreement import Team


class IntelKind(models.TextChoices):
    COMPETITOR = "competitor", _("Competitor")
    OBJECTION = "objection", _("Objection")
    PRICING = "pricing", _("Pricing")
    PRODUCT_GAP = "product_gap", _("Product gap")
    MARKET = "market", _("Market")
    CONTENT_REQUEST = "content_request", _("Content request")


class IntelStatus(models.TextChoices):
    NEW = "new", _("New")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")
    ACTIONED = "actioned", _("Actioned")


class Competitor(models.Model):
    name = models.CharField(_("name"), max_length=120, unique=True)
    website = models.URLField(_("website"), blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("competitor")
        verbose_name_plural = _("competitors")

    def __str__(self) -> str:
        return self.name


class Battlecard(models.Model):
    """Marketing's one card per competitor that reps see where the competitor comes up."""

    competitor = models.OneToOneField(
        Competitor,
        verbose_name=_("competitor"),
        on_delete=models.CASCADE,
        related_name="battlecard",
    )
    summary = models.TextField(_("summary"), blank=True)
    differentiators = models.TextField(_("our differentiators"), blank=True)
    table_stakes = models.TextField(_("table stakes"), blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("updated by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("battlecard")
        verbose_name_plural = _("battlecards")

    def __str__(self) -> str:
        return gettext("Battlecard: %(competitor)s") % {"competitor": self.competitor}


class BattlecardObjection(models.Model):
    battlecard = models.ForeignKey(
        Battlecard,
        verbose_name=_("battlecard"),
        on_delete=models.CASCADE,
        related_name="objections",
    )
    objection = models.CharField(_("objection"), max_length=300)
    answer = models.TextField(_("answer"))

    class Meta:
        ordering = ["battlecard", "id"]
        verbose_name = _("battlecard objection")
        verbose_name_plural = _("battlecard objections")

    def __str__(self) -> str:
        return self.objection


class FieldIntel(models.Model):
    """What a rep heard in the field, sent to marketing: new → acknowledged → actioned."""

    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("author"),
        on_delete=models.PROTECT,
        related_name="intel_submitted",
    )
    kind = models.CharField(_("kind"), max_length=20, choices=IntelKind.choices)
    text = models.TextField(_("what you heard"))
    competitor = models.ForeignKey(
        Competitor,
        verbose_name=_("competitor"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="intel",
    )
    lead = models.ForeignKey(
        "leads.Lead",
        verbose_name=_("lead"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="intel",
    )
    deal = models.ForeignKey(
        "leads.Deal",
        verbose_name=_("deal"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="intel",
    )
    campaign = models.ForeignKey(
        "campaigns.Campaign",
        verbose_name=_("campaign"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="intel",
    )
    status = models.CharField(
        _("status"), max_length=14, choices=IntelStatus.choices, default=IntelStatus.NEW
    )
    response = models.TextField(_("marketing's response"), blank=True)
    created_at = models.DateTimeField(_("created at"))
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("acknowledged by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    actioned_at = models.DateTimeField(_("actioned at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("field intelligence")
        verbose_name_plural = _("field intelligence")
        indexes = [
            models.Index(fields=["status", "created_at"]),
            models.Index(fields=["created_at"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="new") | Q(acknowledged_at__isnull=False),
                name="intel_acknowledged_has_time",
            ),
            models.CheckConstraint(
                condition=~Q(status="actioned") | Q(actioned_at__isnull=False),
                name="intel_actioned_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.text[:60]}"


class DisputeKind(models.TextChoices):
    REJECTION = "rejection", _("Rejection contested")
    LEAD_QUALITY = "lead_quality", _("Lead quality")
    DEAL_CREDIT = "deal_credit", _("Credit for a deal")


class DisputeStatus(models.TextChoices):
    OPEN = "open", _("Open")
    RESOLVED = "resolved", _("Resolved")


class DisputeDecision(models.TextChoices):
    FOR_MARKETING = "for_marketing", _("In marketing's favour")
    FOR_SALES = "for_sales", _("In sales' favour")
    SHARED = "shared", _("Shared / compromise")


class DisputeEffect(models.TextChoices):
    """What a decision did to the lead (blank while the dispute is open)."""

    NONE = "none", _("Lead unchanged")
    OVERTURNED = "overturned", _("Rejection overturned: the lead is accepted")
    UPHELD = "upheld", _("Rejection upheld: the lead stays rejected")


class Dispute(models.Model):
    """A contested lead decision; only an executive resolves it."""

    lead = models.ForeignKey(
        "leads.Lead", verbose_name=_("lead"), on_delete=models.CASCADE, related_name="disputes"
    )
    deal = models.ForeignKey(
        "leads.Deal",
        verbose_name=_("deal"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="disputes",
    )
    kind = models.CharField(_("kind"), max_length=14, choices=DisputeKind.choices)
    raised_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("raised by"),
        on_delete=models.PROTECT,
        related_name="disputes_raised",
    )
    raised_by_team = models.CharField(_("raised by team"), max_length=10, choices=Team.choices)
    reason = models.TextField(_("reason"))
    status = models.CharField(
        _("status"), max_length=10, choices=DisputeStatus.choices, default=DisputeStatus.OPEN
    )
    decision = models.CharField(
        _("decision"), max_length=14, choices=DisputeDecision.choices, blank=True
    )
    resolution_note = models.TextField(_("resolution note"), blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("resolved by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"))
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    # The rejection (a sales move out of MQL) a rejection or lead-quality dispute
    # contests: the lead's latest one when the dispute was raised.
    rejection = models.ForeignKey(
        "leads.StageEvent",
        verbose_name=_("disputed rejection"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="disputes",
    )
    # What the decision did (alignment.feedback.services.dispute_resolve), and the stage
    # events it wrote when it overturned the rejection.
    effect = models.CharField(_("effect"), max_length=12, choices=DisputeEffect.choices, blank=True)
    revert_event = models.ForeignKey(
        "leads.StageEvent",
        verbose_name=_("revert written"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    acceptance_event = models.ForeignKey(
        "leads.StageEvent",
        verbose_name=_("acceptance written"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("dispute")
        verbose_name_plural = _("disputes")
        permissions = [("resolve_dispute", "Can resolve disputes (arbiter)")]
        indexes = [
            models.Index(fields=["status", "created_at"]),
            models.Index(fields=["resolved_at"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="open") | (Q(resolved_at__isnull=False) & ~Q(decision="")),
                name="dispute_resolved_has_decision_and_time",
            ),
            # Only a decision has an effect (blank on a resolved dispute: recorded
            # outside dispute_resolve, which always says what it did).
            models.CheckConstraint(
                condition=Q(status="resolved") | Q(effect=""),
                name="dispute_effect_only_when_resolved",
            ),
        ]

    def __str__(self) -> str:
        return gettext("%(kind)s on %(lead)s") % {
            "kind": self.get_kind_display(),
            "lead": self.lead_id,
        }
