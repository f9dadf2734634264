import django_filters
from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from alignment.models import StageKey
from config.formats import person_name
from leads.models import Lead, SourceChannel
from metrics.models import Territory


class PersonChoiceField(forms.ModelChoiceField):
    """A choice of user named as everywhere else (config.formats' person_name)."""

    def label_from_instance(self, obj) -> str:
        return person_name(obj)


class PersonChoiceFilter(django_filters.ModelChoiceFilter):
    field_class = PersonChoiceField


class LeadFilter(django_filters.FilterSet):
    """Lead filters shared by the pages and the API."""

    search = django_filters.CharFilter(method="filter_search", label=_("Search"))
    stage = django_filters.ChoiceFilter(choices=StageKey.choices, label=_("Stage"))
    source = django_filters.ChoiceFilter(choices=SourceChannel.choices, label=_("Source"))
    owner = PersonChoiceFilter(
        queryset=get_user_model().objects.filter(is_active=True), label=_("Owner")
    )
    territory = django_filters.ModelChoiceFilter(
        queryset=Territory.objects.all(), label=_("Territory")
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

    class Meta:
        model = Lead
        fields = [
            "search",
            "stage",
            "source",
            "owner",
            "territory",
            "score_min",
            "created_after",
            "created_before",
        ]

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
