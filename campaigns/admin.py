from django.contrib import admin

from campaigns import models
from config.admin import HttpsLinks


class SpendEntryInline(admin.TabularInline):
    model = models.SpendEntry
    extra = 0


class CollateralInline(HttpsLinks, admin.TabularInline):
    model = models.Collateral
    extra = 0


@admin.register(models.Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ["name", "channel", "status", "starts_on", "ends_on", "budget", "owner"]
    list_filter = ["channel", "status"]
    search_fields = ["name", "utm_campaign"]
    list_select_related = ["owner"]
    filter_horizontal = ["target_territories"]
    inlines = [SpendEntryInline, CollateralInline]


@admin.register(models.SpendEntry)
class SpendEntryAdmin(admin.ModelAdmin):
    list_display = ["campaign", "date", "amount", "note"]
    list_select_related = ["campaign"]


@admin.register(models.Touch)
class TouchAdmin(admin.ModelAdmin):
    list_display = ["lead", "campaign", "kind", "occurred_at"]
    list_filter = ["kind"]
    raw_id_fields = ["lead", "campaign"]
    show_full_result_count = False


@admin.register(models.Collateral)
class CollateralAdmin(HttpsLinks, admin.ModelAdmin):
    list_display = ["title", "campaign", "stage_key", "url"]


class BriefingAcknowledgmentInline(admin.TabularInline):
    model = models.BriefingAcknowledgment
    extra = 0


@admin.register(models.Briefing)
class BriefingAdmin(admin.ModelAdmin):
    list_display = ["campaign", "published_at", "updated_at"]
    inlines = [BriefingAcknowledgmentInline]


@admin.register(models.BriefingAcknowledgment)
class BriefingAcknowledgmentAdmin(admin.ModelAdmin):
    list_display = ["briefing", "user", "acknowledged_at"]
