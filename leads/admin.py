from django.contrib import admin

from leads import models


class StageEventInline(admin.TabularInline):
    model = models.StageEvent
    extra = 0
    readonly_fields = [
        "from_stage",
        "to_stage",
        "occurred_at",
        "actor",
        "reason_code",
        "reason",
        "source",
    ]
    can_delete = False


@admin.register(models.Lead)
class LeadAdmin(admin.ModelAdmin):
    list_display = [
        "email",
        "company",
        "stage",
        "score",
        "owner",
        "territory",
        "sla_due_at",
        "created_at",
    ]
    list_filter = ["stage", "territory", "source"]
    search_fields = ["email", "company", "first_name", "last_name", "external_id"]
    list_select_related = ["owner", "territory"]
    raw_id_fields = ["campaign", "owner", "qualified_under", "created_by"]
    # Stage and score change only through the stage and scoring services.
    readonly_fields = ["stage", "score", "score_breakdown", "scored_at", "qualified_under"]
    inlines = [StageEventInline]
    show_full_result_count = False


@admin.register(models.StageEvent)
class StageEventAdmin(admin.ModelAdmin):
    list_display = ["lead", "from_stage", "to_stage", "occurred_at", "actor", "source"]
    list_filter = ["to_stage", "source"]
    raw_id_fields = ["lead", "actor"]
    show_full_result_count = False


@admin.register(models.FollowUp)
class FollowUpAdmin(admin.ModelAdmin):
    list_display = ["lead", "author", "kind", "outcome", "occurred_at", "within_sla"]
    list_filter = ["kind", "outcome"]
    raw_id_fields = ["lead", "author"]
    show_full_result_count = False


@admin.register(models.SlaBreach)
class SlaBreachAdmin(admin.ModelAdmin):
    list_display = ["lead", "stage", "due_at", "detected_at", "owner"]
    list_filter = ["stage"]
    raw_id_fields = ["lead", "owner"]


@admin.register(models.Deal)
class DealAdmin(admin.ModelAdmin):
    list_display = ["__str__", "lead", "amount", "outcome", "expected_close", "closed_at"]
    list_filter = ["outcome"]
    raw_id_fields = ["lead", "owner"]


@admin.register(models.LeadImport)
class LeadImportAdmin(admin.ModelAdmin):
    list_display = [
        "filename",
        "status",
        "total_rows",
        "created_count",
        "updated_count",
        "error_count",
    ]
    readonly_fields = ["report"]
