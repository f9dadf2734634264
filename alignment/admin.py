from django.contrib import admin

from alignment import models
from config.admin import HttpsLinks


class FunnelStageInline(admin.TabularInline):
    model = models.FunnelStage
    extra = 0
    filter_horizontal = ["next_stages"]


class QualificationRuleInline(admin.TabularInline):
    model = models.QualificationRule
    extra = 0


class ReasonCodeInline(admin.TabularInline):
    model = models.ReasonCode
    extra = 0


class SignatureInline(admin.TabularInline):
    model = models.AgreementSignature
    extra = 0
    readonly_fields = ["team", "signed_by", "signed_at"]
    can_delete = False


@admin.register(models.Agreement)
class AgreementAdmin(admin.ModelAdmin):
    list_display = ["version", "title", "status", "mql_threshold", "activated_at"]
    list_filter = ["status"]
    readonly_fields = ["status", "proposed_at", "activated_at", "superseded_at", "created_at"]
    inlines = [FunnelStageInline, QualificationRuleInline, ReasonCodeInline, SignatureInline]


@admin.register(models.AgreementSignature)
class AgreementSignatureAdmin(admin.ModelAdmin):
    list_display = ["agreement", "team", "signed_by", "signed_at"]
    list_select_related = ["agreement", "signed_by"]


@admin.register(models.FunnelStage)
class FunnelStageAdmin(admin.ModelAdmin):
    list_display = ["key", "name", "agreement", "order", "owner_team", "sla_hours"]
    list_filter = ["agreement", "owner_team"]
    list_select_related = ["agreement"]


@admin.register(models.QualificationRule)
class QualificationRuleAdmin(admin.ModelAdmin):
    list_display = ["description", "agreement", "kind", "field", "operator", "touch_kind", "points"]
    list_filter = ["agreement", "kind"]
    list_select_related = ["agreement"]


@admin.register(models.ReasonCode)
class ReasonCodeAdmin(admin.ModelAdmin):
    list_display = ["code", "label", "kind", "agreement"]
    list_filter = ["agreement", "kind"]
    list_select_related = ["agreement"]


class BattlecardObjectionInline(admin.TabularInline):
    model = models.BattlecardObjection
    extra = 0


@admin.register(models.Competitor)
class CompetitorAdmin(HttpsLinks, admin.ModelAdmin):
    list_display = ["name", "website"]
    search_fields = ["name"]


@admin.register(models.Battlecard)
class BattlecardAdmin(admin.ModelAdmin):
    list_display = ["competitor", "updated_at"]
    inlines = [BattlecardObjectionInline]
    list_select_related = ["competitor"]


@admin.register(models.BattlecardObjection)
class BattlecardObjectionAdmin(admin.ModelAdmin):
    list_display = ["objection", "battlecard"]
    list_select_related = ["battlecard__competitor"]


@admin.register(models.FieldIntel)
class FieldIntelAdmin(admin.ModelAdmin):
    list_display = ["kind", "author", "status", "competitor", "created_at", "acknowledged_at"]
    list_filter = ["status", "kind"]
    list_select_related = ["author", "competitor"]
    raw_id_fields = ["lead", "deal", "campaign"]


@admin.register(models.Dispute)
class DisputeAdmin(admin.ModelAdmin):
    list_display = ["kind", "lead", "raised_by", "status", "decision", "created_at", "resolved_at"]
    list_filter = ["status", "kind", "decision"]
    list_select_related = ["lead", "raised_by"]
    raw_id_fields = ["lead", "deal"]


@admin.register(models.UserProfile)
class UserProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "language", "time_zone"]
    list_select_related = ["user"]


@admin.register(models.Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["title", "recipient", "event", "created_at", "read_at"]
    list_filter = ["event"]
    list_select_related = ["recipient"]


class WebhookAttemptInline(admin.TabularInline):
    model = models.WebhookAttempt
    extra = 0
    readonly_fields = ["attempted_at", "status_code", "error", "duration_ms"]


@admin.register(models.WebhookSubscription)
class WebhookSubscriptionAdmin(HttpsLinks, admin.ModelAdmin):
    list_display = ["url", "owner", "is_active", "consecutive_failures", "created_at"]
    list_filter = ["is_active"]
    list_select_related = ["owner"]


@admin.register(models.WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["event", "subscription", "status", "attempts", "created_at", "delivered_at"]
    list_filter = ["status", "event"]
    readonly_fields = ["delivery_id"]
    inlines = [WebhookAttemptInline]
    list_select_related = ["subscription"]


@admin.register(models.IdempotencyKey)
class IdempotencyKeyAdmin(admin.ModelAdmin):
    list_display = ["key", "user", "method", "path", "response_status", "created_at"]
    list_select_related = ["user"]


@admin.register(models.HandoffAlert)
class HandoffAlertAdmin(admin.ModelAdmin):
    """What the hand-off job sent: a record of fact, written only by the job."""

    list_display = ["kind", "subject", "step", "due_at", "sent_at", "recipients"]
    list_filter = ["kind", "step"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
