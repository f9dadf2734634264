from django.contrib import admin

from campaigns import models
from config.admin import HttpsLinks
from config.dates import history_moment_validator, planned_date_validator


class DateWindows:
    """The admin holds the dates to config.dates' windows like the pages and the API: a
    campaign ending in year 9999 would break its page's period."""

    date_validators = {
        "starts_on": planned_date_validator,
        "ends_on": planned_date_validator,
        "date": history_moment_validator,
    }

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        validator = self.date_validators.get(db_field.name)
        if field is not None and validator is not None:
            field.validators.append(validator)
        return field


class SpendEntryInline(DateWindows, admin.TabularInline):
    model = models.SpendEntry
    extra = 0


class CollateralInline(HttpsLinks, admin.TabularInline):
    model = models.Collateral
    extra = 0


@admin.register(models.Campaign)
class CampaignAdmin(DateWindows, admin.ModelAdmin):
    list_display = ["name", "channel", "status", "starts_on", "ends_on", "budget", "owner"]
    list_filter = ["channel", "status"]
    search_fields = ["name", "utm_campaign"]
    list_select_related = ["owner"]
    filter_horizontal = ["target_territories"]
    inlines = [SpendEntryInline, CollateralInline]


@admin.register(models.SpendEntry)
class SpendEntryAdmin(DateWindows, admin.ModelAdmin):
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
