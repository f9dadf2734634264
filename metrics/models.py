"""Territories, their targets, and the weekly scorecards both teams are measured by."""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from config.countries import country_code_validator


class Territory(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    code = models.SlugField(_("code"), max_length=30, unique=True)
    is_default = models.BooleanField(
        _("default territory"), default=False, help_text=_("Leads from unmapped countries go here.")
    )
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="managed_territories",
        verbose_name=_("sales manager"),
    )
    # Round-robin cursor: the id of the rep who received the last assignment.
    last_assigned_rep = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("last assigned rep"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("territory")
        verbose_name_plural = _("territories")
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=Q(is_default=True), name="territory_one_default"
            )
        ]

    def __str__(self) -> str:
        return self.name


class TerritoryCountry(models.Model):
    territory = models.ForeignKey(
        Territory, verbose_name=_("territory"), on_delete=models.CASCADE, related_name="countries"
    )
    # An ISO 3166 code django-countries knows, in upper case (config.countries).
    country = models.CharField(
        _("country"), max_length=2, unique=True, validators=[country_code_validator]
    )

    class Meta:
        ordering = ["country"]
        verbose_name = _("territory country")
        verbose_name_plural = _("territory countries")

    def __str__(self) -> str:
        return f"{self.country} → {self.territory}"


class TerritoryMemberQuerySet(models.QuerySet):
    def available_on(self, day: date) -> TerritoryMemberQuerySet:
        """Members who take new leads on `day`: active, with an active user, not away
        (or back: their last day away has passed). TerritoryMember.is_away_on says the same."""
        return self.filter(is_active=True, user__is_active=True).filter(
            Q(is_away=False) | Q(away_until__lt=day)
        )


class TerritoryMember(models.Model):
    """A sales rep working a territory; inactive reps receive no new leads, nor do reps
    away (on holiday) until their last day away has passed.

    `position` is the round-robin order (then the user's id); removing a rep from the
    territory makes the row inactive (a former member)."""

    territory = models.ForeignKey(
        Territory, verbose_name=_("territory"), on_delete=models.CASCADE, related_name="members"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="territory_memberships",
    )
    is_active = models.BooleanField(_("is active"), default=True)
    position = models.PositiveIntegerField(_("round-robin position"), default=0)
    is_away = models.BooleanField(_("away"), default=False)
    away_until = models.DateField(
        _("away until"),
        null=True,
        blank=True,
        help_text=_("The last day away; new leads come again the day after."),
    )

    objects = TerritoryMemberQuerySet.as_manager()

    class Meta:
        ordering = ["territory", "position", "user_id"]
        verbose_name = _("territory member")
        verbose_name_plural = _("territory members")
        constraints = [
            models.UniqueConstraint(fields=["territory", "user"], name="territory_member_once")
        ]

    def __str__(self) -> str:
        return gettext("%(user)s in %(territory)s") % {
            "user": self.user,
            "territory": self.territory,
        }

    def is_away_on(self, day: date) -> bool:
        return self.is_away and (self.away_until is None or self.away_until >= day)


class TerritoryChange(models.Model):
    """One change of a territory by a sales manager (name, countries, members, their
    round-robin order or availability): who, when, each part's value before and after.
    Written by territory_update, so the territory's page shows its history."""

    territory = models.ForeignKey(
        Territory, verbose_name=_("territory"), on_delete=models.CASCADE, related_name="changes"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    occurred_at = models.DateTimeField(_("occurred at"), default=timezone.now)
    # {part: [before, after]}: "name" (text), "countries" (codes), "members" (names in
    # round-robin order), "availability" ({name: "available" | "away" | ISO last day away}).
    changes = models.JSONField(_("changes"), default=dict)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name = _("territory change")
        verbose_name_plural = _("territory changes")

    def __str__(self) -> str:
        return f"{self.territory} · {self.occurred_at:%Y-%m-%d %H:%M}"


class Target(models.Model):
    class Period(models.TextChoices):
        MONTH = "month", _("Month")
        QUARTER = "quarter", _("Quarter")

    territory = models.ForeignKey(
        Territory,
        verbose_name=_("territory"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="targets",
    )
    period = models.CharField(_("period"), max_length=8, choices=Period.choices)
    starts_on = models.DateField(_("starts on"))
    ends_on = models.DateField(_("ends on"), help_text=_("First day after the period."))
    revenue_target = models.DecimalField(
        _("revenue target"), max_digits=14, decimal_places=2, validators=[MinValueValidator(0)]
    )
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("set by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["-starts_on"]
        verbose_name = _("target")
        verbose_name_plural = _("targets")
        constraints = [
            models.UniqueConstraint(
                fields=["territory", "starts_on", "ends_on"],
                condition=Q(territory__isnull=False),
                name="target_once_per_territory_period",
            ),
            models.UniqueConstraint(
                fields=["starts_on", "ends_on"],
                condition=Q(territory__isnull=True),
                name="target_once_per_overall_period",
            ),
            models.CheckConstraint(
                condition=Q(ends_on__gt=F("starts_on")), name="target_period_positive"
            ),
            models.CheckConstraint(condition=Q(revenue_target__gte=0), name="target_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.territory or gettext('Overall')} {self.starts_on}: {self.revenue_target}"


class Scorecard(models.Model):
    """One ISO week's metrics and alignment score, per territory; territory NULL is overall.

    Two partial unique indexes make (week, territory) unique on PostgreSQL and SQLite
    alike, the overall row included (NULLs are otherwise distinct).
    """

    week_start = models.DateField(_("week starting"))
    territory = models.ForeignKey(
        Territory,
        verbose_name=_("territory"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="scorecards",
    )
    metrics = models.JSONField(_("metrics"), default=dict)
    alignment_score = models.DecimalField(
        _("alignment score"), max_digits=5, decimal_places=2, null=True, blank=True
    )
    components = models.JSONField(_("components"), default=list)
    delta = models.JSONField(_("delta"), default=dict)
    agreement = models.ForeignKey(
        "alignment.Agreement",
        verbose_name=_("agreement"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    computed_at = models.DateTimeField(_("computed at"))

    class Meta:
        ordering = ["-week_start", "territory_id"]
        verbose_name = _("scorecard")
        verbose_name_plural = _("scorecards")
        permissions = [("recompute_scorecard", "Can queue a recompute of the scorecards")]
        constraints = [
            models.UniqueConstraint(
                fields=["week_start", "territory"],
                condition=Q(territory__isnull=False),
                name="scorecard_once_per_week_territory",
            ),
            models.UniqueConstraint(
                fields=["week_start"],
                condition=Q(territory__isnull=True),
                name="scorecard_once_per_week_overall",
            ),
        ]

    def __str__(self) -> str:
        return gettext("Scorecard %(week)s %(territory)s") % {
            "week": self.week_start,
            "territory": self.territory or gettext("overall"),
        }


# --- rollups: the funnel's stage entries kept by day (metrics.rollups) ----------------------


class StageDayRollup(models.Model):
    """Moves into a stage on one day (the deployment's time zone), by the lead's
    territory and campaign and the day of the lead's previous entry into the same stage.

    `reached_<stage>`: of those entries, how many the lead followed with a move into that
    stage at or after it (at any time since). `decided`: of those entries, how many were
    sales' decisions on an MQL (a move out of MQL not made by marketing: into SAL an
    acceptance, into recycled or disqualified a rejection). Rebuilt from the stage events
    by metrics.rollups, day by day; never edited by hand.
    """

    day = models.DateField()
    stage = models.CharField(max_length=20)
    # The lead's territory and campaign now (plain ids: a deleted territory's or
    # campaign's leads move to none).
    territory_id = models.BigIntegerField(null=True, blank=True)
    campaign_id = models.BigIntegerField(null=True, blank=True)
    prev_day = models.DateField(null=True, blank=True)
    entries = models.PositiveIntegerField(default=0)
    reached_mql = models.PositiveIntegerField(default=0)
    reached_sal = models.PositiveIntegerField(default=0)
    reached_sql = models.PositiveIntegerField(default=0)
    reached_opportunity = models.PositiveIntegerField(default=0)
    reached_won = models.PositiveIntegerField(default=0)
    decided = models.PositiveIntegerField(default=0, db_default=0)

    class Meta:
        verbose_name = _("stage day rollup")
        verbose_name_plural = _("stage day rollups")
        indexes = [models.Index(fields=["stage", "day"], name="stage_day_rollup_idx")]

    def __str__(self) -> str:
        return f"{self.day} {self.stage} ×{self.entries}"


class LeadCountRollup(models.Model):
    """Leads counted on a day (the deployment's time zone), by their territory, campaign
    and source now: the columns LeadDayRollup and ResponseDayRollup share."""

    day = models.DateField()
    # Plain ids: a deleted territory's or campaign's leads move to none (a change logged).
    territory_id = models.BigIntegerField(null=True, blank=True)
    campaign_id = models.BigIntegerField(null=True, blank=True)
    source = models.CharField(max_length=20, blank=True)
    leads = models.PositiveIntegerField(default=0)

    class Meta:
        abstract = True


class LeadDayRollup(LeadCountRollup):
    """Leads created on one day (the deployment's time zone), by their territory,
    campaign and source now. Kept by metrics.rollups from the change log; never edited
    by hand."""

    class Meta:
        verbose_name = _("lead day rollup")
        verbose_name_plural = _("lead day rollups")
        indexes = [models.Index(fields=["day"], name="lead_day_rollup_idx")]

    def __str__(self) -> str:
        return f"{self.day} ×{self.leads}"


class ResponseDayRollup(LeadCountRollup):
    """Leads whose latest MQL entry fell on one day (the deployment's time zone), by their
    territory, campaign and source now and by how many whole hours after that entry their
    first follow-up came (rounded up; 0 for one at or before it; none: not followed up
    yet). Enough for SLA compliance exactly, for any SLA of whole hours: a lead was
    followed up within H hours iff its `response_hours` is at most H. Kept by
    metrics.rollups from the change log; never edited by hand."""

    response_hours = models.IntegerField(null=True, blank=True)

    class Meta:
        verbose_name = _("response day rollup")
        verbose_name_plural = _("response day rollups")
        indexes = [models.Index(fields=["day"], name="response_day_rollup_idx")]

    def __str__(self) -> str:
        return f"{self.day} {self.response_hours}h ×{self.leads}"


class RollupDirty(models.Model):
    """One change the rollups have not taken in yet: a stage event added or removed (an
    update is both), a lead's territory changed, with the values before; or a lead
    counted in or out of LeadDayRollup and ResponseDayRollup (a lead created or deleted;
    a change to its creation time, territory, campaign, source, MQL entry or first
    follow-up is out with the old values, in with the new). Written by database triggers
    (migrations metrics 0005, 0006, 0008, 0009) on every path, ORM or not."""

    class Kind(models.TextChoices):
        ADDED = "added", _("event added")
        REMOVED = "removed", _("event removed")
        TERRITORY = "territory", _("territory changed")
        LEAD_IN = "lead_in", _("lead counted")
        LEAD_OUT = "lead_out", _("lead no longer counted")

    kind = models.CharField(max_length=10, choices=Kind.choices)
    lead_id = models.BigIntegerField()
    event_id = models.BigIntegerField(null=True, blank=True)
    to_stage = models.CharField(max_length=20, blank=True)
    occurred_at = models.DateTimeField(null=True, blank=True)
    source = models.CharField(max_length=20, blank=True)
    reverts_id = models.BigIntegerField(null=True, blank=True)
    # For a territory change: the territory before it. For an event: the lead's territory
    # when the event was written (a refresh uses it for a lead deleted since). For a lead
    # counted in or out: its territory, as `occurred_at` is its creation time, `source` its
    # source and `campaign_id` its campaign.
    territory_id = models.BigIntegerField(null=True, blank=True)
    campaign_id = models.BigIntegerField(null=True, blank=True)
    # For a lead counted in or out: its latest MQL entry and first follow-up
    # (ResponseDayRollup).
    mql_at = models.DateTimeField(null=True, blank=True)
    first_follow_up_at = models.DateTimeField(null=True, blank=True)
    # For an event: the stage it left and its actor's team (sales' MQL decisions).
    # (Nullable: the triggers that log leads write neither, and SQLite adds a nullable
    # column in place, where a default would remake the table under those triggers.)
    from_stage = models.CharField(max_length=20, null=True, blank=True)
    actor_team = models.CharField(max_length=10, null=True, blank=True)

    class Meta:
        verbose_name = _("rollup change")
        verbose_name_plural = _("rollup changes")

    def __str__(self) -> str:
        return f"{self.kind} lead {self.lead_id} event {self.event_id}"


class RollupState(models.Model):
    """One row: the time zone the rollups' days are in, and when they were rebuilt."""

    time_zone = models.CharField(max_length=64)
    rebuilt_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("rollup state")
        verbose_name_plural = _("rollup states")

    def __str__(self) -> str:
        return f"rollups in {self.time_zone}, rebuilt {self.rebuilt_at}"
