from datetime import timedelta

import django_filters
from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Exists, F, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from alignment.accounts.roles import Role
from alignment.models import StageKey
from campaigns.models import Campaign
from config.dates import day_start, deployment_date
from config.formats import person_name
from leads.models import OPEN_STAGES, ImportedLead, ImportedRange, Lead, SourceChannel
from metrics.models import Territory


class PersonChoiceField(django_filters.fields.ModelChoiceField):
    """A choice of user named as everywhere else (config.formats' person_name)."""

    def label_from_instance(self, obj) -> str:
        return person_name(obj)


class PersonChoiceFilter(django_filters.ModelChoiceFilter):
    field_class = PersonChoiceField


class LeadFilter(django_filters.FilterSet):
    """Lead filters shared by the pages and the API."""

    search = django_filters.CharFilter(method="filter_search", label=_("Search"))
    stage = django_filters.ChoiceFilter(
        choices=StageKey.choices, label=_("Stage"), empty_label=_("Any stage")
    )
    source = django_filters.ChoiceFilter(
        choices=SourceChannel.choices, label=_("Source"), empty_label=_("Any source")
    )
    # Leads are owned by sales: the choice lists sales people only, and "Unassigned".
    owner = PersonChoiceFilter(
        queryset=get_user_model()
        .objects.filter(is_active=True, groups__name__in=[Role.SALES_REP, Role.SALES_MANAGER])
        .distinct()
        .order_by("first_name", "last_name", "username"),
        label=_("Owner"),
        empty_label=_("Anyone"),
        null_label=_("Unassigned"),
        null_value="none",
    )
    territory = django_filters.ModelChoiceFilter(
        queryset=Territory.objects.order_by("name"),
        label=_("Territory"),
        empty_label=_("Any territory"),
    )
    score_min = django_filters.NumberFilter(
        field_name="score", lookup_expr="gte", label=_("Score at least")
    )
    created_after = django_filters.DateFilter(
        field_name="created_at", lookup_expr="date__gte", label=_("Created on or after")
    )
    created_before = django_filters.DateFilter(
        field_name="created_at", lookup_expr="date__lte", label=_("Created on or before")
    )

    state = django_filters.ChoiceFilter(
        choices=[("open", _("Open")), ("closed", _("Closed"))],
        method="filter_state",
        label=_("State"),
        empty_label=_("Open or closed"),
    )
    sla = django_filters.ChoiceFilter(
        choices=[
            ("overdue", _("Overdue")),
            ("due_today", _("Due today")),
            ("running", _("Running")),
            ("none", _("No clock")),
        ],
        method="filter_sla",
        label=_("SLA"),
        empty_label=_("Any SLA"),
    )
    follow_up = django_filters.ChoiceFilter(
        choices=[("missed", _("Missed")), ("planned", _("Planned")), ("none", _("None planned"))],
        method="filter_follow_up",
        label=_("Next follow-up"),
        empty_label=_("Any follow-up"),
    )
    campaign = django_filters.ModelChoiceFilter(
        queryset=Campaign.objects.order_by("name"),
        label=_("Campaign"),
        empty_label=_("Any campaign"),
    )
    # The leads an import run wrote (its result page links here); shown as a chip on the
    # list rather than as a field of the form.
    import_run = django_filters.NumberFilter(
        method="filter_import", label=_("Import"), widget=forms.HiddenInput, min_value=1
    )
    import_result = django_filters.ChoiceFilter(
        choices=[("created", _("Created")), ("updated", _("Updated"))],
        method="filter_import",
        label=_("Import result"),
        widget=forms.HiddenInput,
    )

    class Meta:
        model = Lead
        fields = [
            "search",
            "stage",
            "state",
            "sla",
            "follow_up",
            "source",
            "owner",
            "territory",
            "campaign",
            "score_min",
            "created_after",
            "created_before",
            "import_run",
            "import_result",
        ]

    def filter_state(self, queryset: QuerySet[Lead], name: str, value: str) -> QuerySet[Lead]:
        if value == "open":
            return queryset.filter(stage__in=OPEN_STAGES)
        if value == "closed":
            return queryset.exclude(stage__in=OPEN_STAGES)
        return queryset

    def filter_sla(self, queryset: QuerySet[Lead], name: str, value: str) -> QuerySet[Lead]:
        """SLA state of open leads: overdue (the clock ran out), due later today, running
        (due after now), or no clock."""
        now = timezone.now()
        open_leads = queryset.filter(stage__in=OPEN_STAGES)
        if value == "overdue":
            return open_leads.filter(sla_due_at__lt=now)
        if value == "due_today":
            # Today ends at the deployment's midnight, the day SLA clocks are read in.
            end = day_start(deployment_date() + timedelta(days=1))
            return open_leads.filter(sla_due_at__gte=now, sla_due_at__lt=end)
        if value == "running":
            return open_leads.filter(sla_due_at__gte=now)
        if value == "none":
            return open_leads.filter(sla_due_at__isnull=True)
        return queryset

    def filter_follow_up(self, queryset: QuerySet[Lead], name: str, value: str) -> QuerySet[Lead]:
        """The planned next follow-up of open leads: missed (its time passed), planned
        (still ahead), or none planned."""
        now = timezone.now()
        open_leads = queryset.filter(stage__in=OPEN_STAGES)
        if value == "missed":
            return open_leads.filter(next_follow_up_at__lt=now)
        if value == "planned":
            return open_leads.filter(next_follow_up_at__gte=now)
        if value == "none":
            return open_leads.filter(next_follow_up_at__isnull=True)
        return queryset

    def import_chip(self) -> dict[str, object] | None:
        """What the list says when it shows an import's leads: the run, created/updated,
        and the query without them (the chip's "remove")."""
        if not self.is_bound or not self.is_valid():
            return None
        run = self.form.cleaned_data.get("import_run")
        result = self.form.cleaned_data.get("import_result")
        if not run and not result:
            return None
        rest = self.data.copy()
        for key in ("import_run", "import_result", "page"):
            rest.pop(key, None)
        return {
            "run": int(run) if run else None,
            "result": result,
            "clear": rest.urlencode() or "clear=1",
        }

    def filter_import(self, queryset: QuerySet[Lead], name: str, value: object) -> QuerySet[Lead]:
        """Leads an import run created or updated (`import_run`, with `import_result`
        created|updated, or both); `import_result` alone: by any run. Applied once, by
        whichever of the two is given first."""
        data = self.form.cleaned_data
        run, result = data.get("import_run"), data.get("import_result")
        if name == "import_result" and run:
            return queryset  # applied with import_run
        rows = ImportedLead.objects.filter(lead=OuterRef("pk"))
        ranges = ImportedRange.objects.filter(first_id__lte=OuterRef("pk"))
        if run:
            rows, ranges = rows.filter(run_id=int(run)), ranges.filter(run_id=int(run))
        if result:
            rows = rows.filter(created=result == "created")
        if result == "updated":
            return queryset.filter(Exists(rows))
        # The range that would hold the lead is the one starting last at or before its id
        # (ranges never overlap): one index probe (leads 0027).
        last_id = ranges.order_by("-first_id").values("last_id")[:1]
        return queryset.alias(import_range_end=Subquery(last_id)).filter(
            Q(import_range_end__gte=F("pk")) | Exists(rows)
        )

    def filter_search(self, queryset: QuerySet[Lead], name: str, value: str) -> QuerySet[Lead]:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(email__icontains=value)
            | Q(company__icontains=value)
            | Q(first_name__icontains=value)
            | Q(last_name__icontains=value)
        )


# The lead list's columns people sort by (the query parameter `o`, "-" for descending).
SORTS = {
    "name": ("last_name", "first_name", "id"),
    "company": ("company", "id"),
    "stage": ("stage", "id"),
    "score": ("score", "id"),
    "owner": ("owner__first_name", "owner__last_name", "id"),
    "sla": ("sla_due_at", "id"),
    "created": ("created_at", "id"),
}


def lead_sort(queryset: QuerySet[Lead], sort: str) -> tuple[QuerySet[Lead], str]:
    """The list in the order `sort` names ("score", "-created"…); an unknown sort keeps
    the newest first. Empty values (no clock, no owner) come last either way."""
    key = sort.lstrip("-")
    if key not in SORTS:
        return queryset.order_by("-created_at", "-id"), ""
    descending = sort.startswith("-")
    order = [
        F(name).desc(nulls_last=True) if descending else F(name).asc(nulls_last=True)
        for name in SORTS[key]
    ]
    return queryset.order_by(*order), sort
