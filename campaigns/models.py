"""Campaigns, their spend, engagement touches, collateral and launch briefings."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


class Channel(models.TextChoices):
    PAID_SEARCH = "paid_search", _("Paid search")
    ORGANIC_SEARCH = "organic_search", _("Organic search / SEO")
    SOCIAL = "social", _("Social")
    EMAIL = "email", _("Email")
    DISPLAY = "display", _("Display")
    EVENT = "event", _("Event")
    WEBINAR = "webinar", _("Webinar")
    CONTENT = "content", _("Content")
    REFERRAL = "referral", _("Referral / partner")
    OTHER = "other", _("Other")


class CampaignStatus(models.TextChoices):
    PLANNED = "planned", _("Planned")
    LIVE = "live", _("Live")
    PAUSED = "paused", _("Paused")
    COMPLETED = "completed", _("Completed")


class CampaignQuerySet(models.QuerySet):
    def for_utm(
        self, *, utm_source: str = "", utm_medium: str = "", utm_campaign: str = ""
    ) -> Campaign | None:
        """The campaign tagged with these UTM values (any case); source/medium narrow if
        given. The one UTM → campaign rule: a new lead's first-touch campaign, a touch's
        campaign, an imported row's campaign."""
        utm_campaign = (utm_campaign or "").strip()
        if not utm_campaign:
            return None
        query = Q(utm_campaign__iexact=utm_campaign)
        if (utm_source or "").strip():
            query &= Q(utm_source__iexact=utm_source.strip())
        if (utm_medium or "").strip():
            query &= Q(utm_medium__iexact=utm_medium.strip())
        return self.filter(query).order_by("pk").first()

    def lookup(
        self, *, name: str = "", utm_source: str = "", utm_medium: str = "", utm_campaign: str = ""
    ) -> Campaign | None:
        """A campaign by UTM tags, else by exact name (any case): what importers and APIs
        send."""
        found = self.for_utm(
            utm_source=utm_source, utm_medium=utm_medium, utm_campaign=utm_campaign
        )
        if found is None and (name or "").strip():
            found = self.filter(name__iexact=name.strip()).first()
        return found


class Campaign(models.Model):
    name = models.CharField(_("name"), max_length=200, unique=True)
    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices)
    status = models.CharField(
        _("status"), max_length=10, choices=CampaignStatus.choices, default=CampaignStatus.PLANNED
    )
    utm_source = models.CharField(_("UTM source"), max_length=100, blank=True)
    utm_medium = models.CharField(_("UTM medium"), max_length=100, blank=True)
    utm_campaign = models.CharField(_("UTM campaign"), max_length=100, blank=True)
    starts_on = models.DateField(_("starts on"))
    ends_on = models.DateField(_("ends on"), null=True, blank=True)
    budget = models.DecimalField(
        _("budget"), max_digits=14, decimal_places=2, default=0, validators=[MinValueValidator(0)]
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="campaigns",
        verbose_name=_("owner"),
    )
    description = models.TextField(_("description"), blank=True)
    target_territories = models.ManyToManyField(
        "metrics.Territory",
        blank=True,
        related_name="campaigns",
        verbose_name=_("target territories"),
    )
    launched_at = models.DateTimeField(_("launched at"), null=True, blank=True)
    launched_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("launched by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    readiness_at_launch = models.DecimalField(
        _("readiness at launch"), max_digits=4, decimal_places=3, null=True, blank=True
    )
    launched_below_readiness = models.BooleanField(_("launched below readiness"), default=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = CampaignQuerySet.as_manager()

    class Meta:
        ordering = ["-starts_on", "name"]
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        constraints = [
            models.CheckConstraint(condition=Q(budget__gte=0), name="campaign_budget_not_negative"),
            models.CheckConstraint(
                condition=Q(ends_on__isnull=True) | Q(ends_on__gte=F("starts_on")),
                name="campaign_ends_after_start",
            ),
            models.UniqueConstraint(
                fields=["utm_source", "utm_medium", "utm_campaign"],
                condition=~Q(utm_campaign=""),
                name="campaign_utm_unique",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class SpendEntry(models.Model):
    campaign = models.ForeignKey(
        Campaign, verbose_name=_("campaign"), on_delete=models.CASCADE, related_name="spend_entries"
    )
    date = models.DateField(_("date"))
    amount = models.DecimalField(
        _("amount"), max_digits=14, decimal_places=2, validators=[MinValueValidator(0)]
    )
    note = models.CharField(_("note"), max_length=200, blank=True)
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
        ordering = ["campaign", "-date"]
        verbose_name = _("spend entry")
        verbose_name_plural = _("spend entries")
        indexes = [models.Index(fields=["campaign", "date"]), models.Index(fields=["date"])]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="spend_not_negative")
        ]

    def __str__(self) -> str:
        return gettext("%(campaign)s: %(amount)s on %(date)s") % {
            "campaign": self.campaign,
            "amount": self.amount,
            "date": self.date,
        }


class SpendCorrection(models.Model):
    """A spend entry corrected (amount, date) or removed, with the reason (append-only):
    who, when, why, and each field's value before and after ("after" empty for a removal).

    Spend is what cost per lead, CAC and ROI divide by: it is never changed or deleted
    without one of these, written in the same transaction (campaigns.spend_corrections).
    """

    class Action(models.TextChoices):
        CORRECTED = "corrected", _("Corrected")
        REMOVED = "removed", _("Removed")

    campaign = models.ForeignKey(
        Campaign,
        verbose_name=_("campaign"),
        on_delete=models.CASCADE,
        related_name="spend_corrections",
    )
    # The entry's id, kept after a removal deletes the entry itself.
    record_id = models.BigIntegerField(_("spend entry id"))
    action = models.CharField(_("action"), max_length=10, choices=Action.choices)
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
        verbose_name = _("spend correction")
        verbose_name_plural = _("spend corrections")
        indexes = [
            models.Index(fields=["campaign", "occurred_at"], name="spendcorrection_campaign_idx")
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(reason=""), name="spendcorrection_has_reason")
        ]

    def __str__(self) -> str:
        return gettext("%(action)s spend entry %(id)s") % {
            "action": self.get_action_display(),
            "id": self.record_id,
        }


class TouchKind(models.TextChoices):
    FORM_FILL = "form_fill", _("Form fill")
    EMAIL_OPEN = "email_open", _("Email open")
    EMAIL_CLICK = "email_click", _("Email click")
    PAGE_VISIT = "page_visit", _("Page visit")
    CONTENT_DOWNLOAD = "content_download", _("Content download")
    WEBINAR = "webinar", _("Webinar attendance")
    EVENT = "event", _("Event attendance")
    AD_CLICK = "ad_click", _("Ad click")
    DEMO_REQUEST = "demo_request", _("Demo request")
    PRICING_VISIT = "pricing_visit", _("Pricing page visit")


class Touch(models.Model):
    lead = models.ForeignKey(
        "leads.Lead", verbose_name=_("lead"), on_delete=models.CASCADE, related_name="touches"
    )
    campaign = models.ForeignKey(
        Campaign,
        verbose_name=_("campaign"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="touches",
    )
    kind = models.CharField(_("kind"), max_length=20, choices=TouchKind.choices)
    occurred_at = models.DateTimeField(_("when"))
    external_id = models.CharField(_("external id"), max_length=100, null=True, blank=True)
    metadata = models.JSONField(_("metadata"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name = _("touch")
        verbose_name_plural = _("touches")
        indexes = [
            models.Index(fields=["lead", "occurred_at"], name="touch_lead_idx"),
            models.Index(fields=["campaign", "occurred_at"], name="touch_campaign_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["external_id"],
                condition=Q(external_id__isnull=False),
                name="touch_external_id_unique",
            )
        ]

    def __str__(self) -> str:
        return gettext("%(kind)s by %(lead)s") % {
            "kind": self.get_kind_display(),
            "lead": self.lead_id,
        }


class Collateral(models.Model):
    """A link or file sales can use, attached to a campaign or a funnel stage."""

    title = models.CharField(_("title"), max_length=200)
    url = models.URLField(_("link"), blank=True)
    file = models.FileField(_("file"), upload_to="collateral/%Y/%m/", blank=True)
    campaign = models.ForeignKey(
        Campaign,
        verbose_name=_("campaign"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="collateral",
    )
    stage_key = models.CharField(_("stage"), max_length=20, blank=True)
    description = models.TextField(_("description"), blank=True)
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
        ordering = ["title"]
        verbose_name = _("collateral")
        verbose_name_plural = _("collateral")
        constraints = [
            models.CheckConstraint(
                condition=Q(campaign__isnull=False) | ~Q(stage_key=""), name="collateral_has_home"
            ),
            models.CheckConstraint(
                condition=~Q(url="") | ~Q(file=""), name="collateral_has_content"
            ),
        ]

    def __str__(self) -> str:
        return self.title


class Briefing(models.Model):
    """What sales must know before a campaign launches; target reps acknowledge it."""

    campaign = models.OneToOneField(
        Campaign, verbose_name=_("campaign"), on_delete=models.CASCADE, related_name="briefing"
    )
    body = models.TextField(_("briefing"))
    published_at = models.DateTimeField(_("published at"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("briefing")
        verbose_name_plural = _("briefings")

    def __str__(self) -> str:
        return gettext("Briefing for %(campaign)s") % {"campaign": self.campaign}


class BriefingAcknowledgment(models.Model):
    briefing = models.ForeignKey(
        Briefing,
        verbose_name=_("briefing"),
        on_delete=models.CASCADE,
        related_name="acknowledgments",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="+"
    )
    acknowledged_at = models.DateTimeField(_("acknowledged at"))

    class Meta:
        verbose_name = _("briefing acknowledgment")
        verbose_name_plural = _("briefing acknowledgments")
        constraints = [
            models.UniqueConstraint(fields=["briefing", "user"], name="briefing_ack_once")
        ]

    def __str__(self) -> str:
        return gettext("%(user)s acknowledged %(briefing)s") % {
            "user": self.user,
            "briefing": self.briefing,
        }
