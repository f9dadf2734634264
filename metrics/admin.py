from django.contrib import admin

from metrics import models


class TerritoryCountryInline(admin.TabularInline):
    model = models.TerritoryCountry
    extra = 0


class TerritoryMemberInline(admin.TabularInline):
    model = models.TerritoryMember
    extra = 0


@admin.register(models.Territory)
class TerritoryAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "is_default", "manager"]
    inlines = [TerritoryCountryInline, TerritoryMemberInline]


@admin.register(models.TerritoryCountry)
class TerritoryCountryAdmin(admin.ModelAdmin):
    list_display = ["country", "territory"]


@admin.register(models.TerritoryMember)
class TerritoryMemberAdmin(admin.ModelAdmin):
    list_display = ["user", "territory", "is_active"]


@admin.register(models.Target)
class TargetAdmin(admin.ModelAdmin):
    list_display = ["territory", "period", "starts_on", "ends_on", "revenue_target"]
    list_filter = ["territory", "period"]


@admin.register(models.Scorecard)
class ScorecardAdmin(admin.ModelAdmin):
    list_display = ["week_start", "territory", "alignment_score", "computed_at"]
    list_filter = ["territory"]
    readonly_fields = ["metrics", "components", "delta"]
