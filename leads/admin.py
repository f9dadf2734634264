from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.admin.widgets import AdminSplitDateTime
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import translation
from django.utils.html import format_html_join
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from alignment.agreement.selectors import funnel_active
from alignment.models import ReasonKind
from leads import models
from leads.imports.channels import channel_alias_clean, channel_alias_create, channel_alias_delete
from leads.selectors import correction_changes, leads_with_counted_history
from leads.services.corrections import deal_correct, user_may_correct

# The records the metrics count are append-only, as in bookkeeping (DESIGN.md, Trust):
# stage events, SLA breaches and corrections are shown here and never added, changed or
# deleted, not even by a superuser; a closed deal's figures change only through the
# "Correct…" page, which records who, when and why.


class CountedRecordAdmin:
    """Read-only for everyone: no add, change or delete, in an inline or the bulk action."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _changes_html(correction: models.Correction) -> str:
    return format_html_join(
        "",
        "<div>{}: {} → {}</div>",
        ((c.label, c.before, c.after) for c in correction_changes(correction=correction)),
    )


class CorrectionChangesMixin:
    @admin.display(description=_lazy("what changed"))
    def what_changed(self, obj: models.Correction) -> str:
        return _changes_html(obj)


class StageEventInline(CountedRecordAdmin, admin.TabularInline):
    model = models.StageEvent
    extra = 0


class CorrectionInline(CountedRecordAdmin, CorrectionChangesMixin, admin.TabularInline):
    model = models.Correction
    extra = 0
    fields = ["occurred_at", "record", "record_id", "what_changed", "reason", "actor"]
    readonly_fields = ["what_changed"]


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
    # Stage and score change only through the stage and scoring services; the moments
    # the stage service and the SLA clock record are what the metrics count.
    readonly_fields = [
        "stage",
        "score",
        "score_breakdown",
        "scored_at",
        "qualified_under",
        "created_at",
        *models.STAGE_MOMENTS,
        "stage_entered_at",
        "assigned_at",
        "first_follow_up_at",
        "sla_due_at",
        "rest_until",
    ]
    inlines = [StageEventInline, CorrectionInline]
    show_full_result_count = False

    def get_inlines(self, request: HttpRequest, obj: Any) -> list[Any]:
        return list(self.inlines) if obj is not None else []  # a new lead has no history

    # A lead someone acted on (moved, followed up, breached, dealt, disputed, corrected)
    # is the teams' shared record and what they are measured by: it stays. A lead with
    # nothing but its creation (spam, a test entry, a duplicate) may go, with its
    # creation event and touches, so the inflow count stays honest.
    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if not super().has_delete_permission(request, obj):
            return False
        return obj is None or obj.pk not in leads_with_counted_history(lead_ids=[obj.pk])

    def get_deleted_objects(
        self, objs: Any, request: HttpRequest
    ) -> tuple[list[Any], dict[str, int], set[str], list[Any]]:
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        leads = list(objs)
        kept = leads_with_counted_history(lead_ids=[lead.pk for lead in leads])
        if kept:
            # Refused as protected, with the reason: the confirmation page lists missing
            # permissions (the stage events') instead of protected objects when it has both.
            reasons = [
                _("%(lead)s: its history counts in the metrics, so it is kept.") % {"lead": lead}
                for lead in leads
                if lead.pk in kept
            ]
            return deleted, counts, set(), [*reasons, *protected]
        # Only the leads' creation events go with them (stage events are otherwise never
        # deleted).
        perms_needed.discard(models.StageEvent._meta.verbose_name)
        return deleted, counts, perms_needed, protected


@admin.register(models.StageEvent)
class StageEventAdmin(CountedRecordAdmin, admin.ModelAdmin):
    list_display = ["lead", "from_stage", "to_stage", "occurred_at", "actor", "source"]
    list_filter = ["to_stage", "source"]
    list_select_related = ["lead", "actor"]
    show_full_result_count = False


@admin.register(models.FollowUp)
class FollowUpAdmin(admin.ModelAdmin):
    list_display = ["lead", "author", "kind", "outcome", "occurred_at", "within_sla"]
    list_filter = ["kind", "outcome"]
    list_select_related = ["lead", "author"]
    show_full_result_count = False
    # What happened, when and by whom decided the SLA credit and the contact; only the
    # notes and the next step stay editable.
    readonly_fields = [
        "lead",
        "author",
        "kind",
        "outcome",
        "occurred_at",
        "within_sla",
        "is_contact",
        "created_at",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # logged on the lead's page, where the SLA clock is stopped

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(models.SlaBreach)
class SlaBreachAdmin(CountedRecordAdmin, admin.ModelAdmin):
    list_display = ["lead", "stage", "due_at", "detected_at", "owner"]
    list_filter = ["stage"]
    list_select_related = ["lead", "owner"]


@admin.register(models.Correction)
class CorrectionAdmin(CountedRecordAdmin, CorrectionChangesMixin, admin.ModelAdmin):
    list_display = ["occurred_at", "lead", "record", "record_id", "actor", "reason"]
    list_filter = ["record"]
    list_select_related = ["lead", "actor"]
    fields = ["lead", "record", "record_id", "what_changed", "reason", "actor", "occurred_at"]
    readonly_fields = ["what_changed"]
    show_full_result_count = False


class DealCorrectForm(forms.Form):
    """A closed deal's figures with a required reason; `deal_correct` decides the rest."""

    required_css_class = "required"

    amount = forms.DecimalField(max_digits=14, decimal_places=2, required=False)
    closed_at = forms.SplitDateTimeField(widget=AdminSplitDateTime, required=False)
    gross_margin = forms.DecimalField(max_digits=14, decimal_places=2, required=False)
    lost_reason = forms.ChoiceField(required=False)
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=_lazy("Shown on the lead's timeline to both teams, with who and when."),
    )

    def __init__(self, *args: Any, deal: models.Deal, **kwargs: Any) -> None:
        self.deal = deal
        kwargs.setdefault(
            "initial",
            {
                "amount": deal.amount,
                "closed_at": deal.closed_at,
                "gross_margin": deal.gross_margin,
                "lost_reason": deal.lost_reason,
            },
        )
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            if name != "reason":
                field.label = capfirst(models.Deal._meta.get_field(name).verbose_name)
        self.fields["reason"].label = capfirst(
            models.Correction._meta.get_field("reason").verbose_name
        )
        if deal.outcome != models.DealOutcome.LOST:
            del self.fields["lost_reason"]
            return
        try:
            codes = funnel_active().reason_codes.get(ReasonKind.LOST, {})
        except LookupError:
            codes = {}
        choices = [(code, f"{label} ({code})") for code, label in codes.items()]
        if deal.lost_reason not in codes:
            choices.insert(0, (deal.lost_reason, deal.lost_reason))
        self.fields["lost_reason"].choices = choices

    def service_arguments(self) -> dict[str, Any]:
        data = self.cleaned_data
        arguments = {name: data[name] for name in ("amount", "closed_at", "gross_margin")}
        shown = self.deal.closed_at.replace(microsecond=0) if self.deal.closed_at else None
        if arguments["closed_at"] == shown:
            arguments["closed_at"] = None  # the date as the form showed it, to the second
        if "lost_reason" in self.fields:
            arguments["lost_reason"] = data["lost_reason"]
        return {**arguments, "reason": data["reason"]}

    def add_service_errors(self, error: ValidationError) -> None:
        for name, errors in error.message_dict.items():
            self.add_error(name if name in self.fields else None, errors)


@admin.register(models.Deal)
class DealAdmin(admin.ModelAdmin):
    list_display = ["__str__", "lead", "amount", "outcome", "expected_close", "closed_at"]
    list_filter = ["outcome"]
    list_select_related = ["lead"]
    raw_id_fields = ["owner"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # opened on the lead's page or the API, where the funnel applies

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # The outcome follows deal_close; the creation counts in the pipeline created.
        fields = ["lead", "outcome", "closed_at", "lost_reason", "created_at"]
        if obj is not None and obj.outcome != models.DealOutcome.OPEN:
            # Revenue, margin and the rep it counts for: corrected, never edited.
            fields += ["amount", "gross_margin", "owner"]
        return fields

    def get_urls(self) -> list[Any]:
        correct = path(
            "<path:object_id>/correct/",
            self.admin_site.admin_view(self.correct_view),
            name="leads_deal_correct",
        )
        return [correct, *super().get_urls()]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        extra_context = {
            **(extra_context or {}),
            "can_correct": user_may_correct(user=request.user),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def correct_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The "Correct…" page of a closed deal: its figures and a reason, through
        `deal_correct`."""
        deal = self.get_object(request, unquote(object_id))
        if deal is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_view_permission(request, deal) or not user_may_correct(user=request.user):
            raise PermissionDenied
        change_url = reverse("admin:leads_deal_change", args=[deal.pk])
        if deal.outcome == models.DealOutcome.OPEN:
            self.message_user(
                request,
                _("Only a closed deal is corrected; an open deal's figures are simply changed."),
                messages.WARNING,
            )
            return redirect(change_url)
        form = DealCorrectForm(request.POST or None, deal=deal)
        if request.method == "POST" and form.is_valid():
            try:
                correction = deal_correct(deal=deal, actor=request.user, **form.service_arguments())
            except ValidationError as error:
                form.add_service_errors(error)
            else:
                with translation.override(None):  # the admin log translates on display
                    labels = [
                        str(capfirst(models.Deal._meta.get_field(name).verbose_name))
                        for name in correction.changes
                    ]
                self.log_change(request, deal, [{"changed": {"fields": labels}}])
                self.message_user(
                    request,
                    _("The deal “%(deal)s” was corrected; the lead's timeline shows why.")
                    % {"deal": deal},
                    messages.SUCCESS,
                )
                return redirect(change_url)
        earlier = models.Correction.objects.filter(
            record=models.Correction.Record.DEAL, record_id=deal.pk
        ).select_related("actor")
        context = {
            **self.admin_site.each_context(request),
            "title": _("Correct the deal “%(deal)s”") % {"deal": deal},
            "subtitle": None,
            "opts": self.opts,
            "original": deal,
            "form": form,
            "media": self.media + form.media,
            "corrections": [(c, correction_changes(correction=c)) for c in earlier],
        }
        return TemplateResponse(request, "admin/leads/deal/correct.html", context)


@admin.register(models.LeadImport)
class LeadImportAdmin(admin.ModelAdmin):
    list_display = [
        "filename",
        "status",
        "total_rows",
        "created_count",
        "updated_count",
        "error_count",
        "warning_count",
    ]

    # A run is a record of what an import did: it is started by the import service (the
    # page, the API, the command) and changed only by the run itself.
    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False


class ChannelAliasAdminForm(forms.ModelForm):
    """The alias page's rules (leads.imports.channels), not the model form's own."""

    class Meta:
        model = models.ChannelAlias
        fields = ["alias", "channel"]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        try:
            alias, _channel = channel_alias_clean(
                alias=data.get("alias") or "", channel=data.get("channel") or ""
            )
        except ValidationError as exc:
            for name, errors in exc.message_dict.items():
                self.add_error(name if name in self.fields else None, errors)
        else:
            data["alias"] = alias
            self.instance.alias = alias
        return data

    def validate_unique(self) -> None:
        pass  # channel_alias_clean says which alias already exists, in any case


@admin.register(models.ChannelAlias)
class ChannelAliasAdmin(admin.ModelAdmin):
    """Added and deleted through the same services as the alias page; an alias is not
    changed in place (delete it and add the new one)."""

    form = ChannelAliasAdminForm
    list_display = ["alias", "channel", "created_by", "created_at"]
    list_filter = ["channel"]
    search_fields = ["alias"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        created = channel_alias_create(alias=obj.alias, channel=obj.channel, user=request.user)
        obj.pk, obj.alias = created.pk, created.alias
        obj.created_by, obj.created_at = created.created_by, created.created_at

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        channel_alias_delete(alias=obj, user=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for alias in queryset:
            channel_alias_delete(alias=alias, user=request.user)
