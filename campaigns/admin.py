from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import AdminFileWidget
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db.models import FileField
from django.http import HttpRequest
from django.urls import reverse

from campaigns import models
from campaigns.services import collateral_file_check, touch_record
from config.admin import HttpsLinks
from config.dates import history_moment_validator, planned_date_validator


class DateWindows:
    """The admin holds the dates to config.dates' windows like the pages and the API: a
    campaign ending in year 9999 would break its page's period."""

    date_validators = {
        "starts_on": planned_date_validator,
        "ends_on": planned_date_validator,
        "date": history_moment_validator,
        "occurred_at": history_moment_validator,
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


class _DownloadLink:
    """A stored collateral file as the admin's file input shows it: its name, linked to the
    permission-checked download view instead of MEDIA_URL (not served in production)."""

    def __init__(self, file) -> None:
        self.name = file.name
        self.url = reverse("campaigns:collateral-download", args=[file.instance.pk])

    def __str__(self) -> str:
        return self.name


class CollateralFileWidget(AdminFileWidget):
    def is_initial(self, value) -> bool:
        instance = getattr(value, "instance", None)
        return bool(value and getattr(instance, "pk", None))

    def format_value(self, value):
        return _DownloadLink(value) if self.is_initial(value) else None


class CollateralAdminForm(forms.ModelForm):
    """The admin's uploads pass the same type and size checks as the campaign page's."""

    class Meta:
        model = models.Collateral
        fields = ["file"]  # the admin adds the others, with its own widgets

    def clean_file(self):
        file = self.cleaned_data.get("file")
        if isinstance(file, UploadedFile):
            try:
                collateral_file_check(file=file)
            except ValidationError as error:
                raise ValidationError(error.message_dict["file"]) from None
        return file


class CollateralFiles(HttpsLinks):
    form = CollateralAdminForm
    formfield_overrides = {
        **HttpsLinks.formfield_overrides,
        FileField: {"widget": CollateralFileWidget},
    }


class CollateralInline(CollateralFiles, admin.TabularInline):
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
class TouchAdmin(DateWindows, admin.ModelAdmin):
    """Touches are recorded through the touch service (it rescores the lead and sets its
    first-touch campaign) and never edited: what happened, happened."""

    list_display = ["lead", "campaign", "kind", "occurred_at"]
    list_filter = ["kind"]
    raw_id_fields = ["lead", "campaign"]
    fields = ["lead", "campaign", "kind", "occurred_at", "external_id", "metadata"]
    show_full_result_count = False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        try:
            recorded = touch_record(
                actor=request.user,
                lead=obj.lead,
                kind=obj.kind,
                occurred_at=obj.occurred_at,
                campaign=obj.campaign,
                external_id=obj.external_id,
                metadata=obj.metadata,
            )
        except (PermissionDenied, ValidationError) as error:
            raise PermissionDenied(str(error)) from error
        obj.pk = recorded.touch.pk


@admin.register(models.Collateral)
class CollateralAdmin(CollateralFiles, admin.ModelAdmin):
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
