"""Search across the shared record, grouped by kind, only what the reader may see.

Leads are matched by name, e-mail, company and phone. On PostgreSQL that is a full-text
search with prefix matching on `lead_search_vector` (the expression the GIN index
`lead_search_idx` holds, leads migration 0014), so a search answers in milliseconds at a
million leads; on SQLite (development, the quick tests) every word is a case-blind
substring of one of those fields. The other kinds are small tables, matched by name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.contrib.auth.models import AnonymousUser, User
from django.contrib.postgres.search import SearchQuery, SearchVector
from django.db import connection, connections, router, transaction
from django.db.models import Q, QuerySet, Value
from django.db.models.functions import Replace
from django.urls import reverse

from alignment.models import Battlecard, FieldIntel
from campaigns.models import Campaign
from config.formats import lead_label
from leads.models import Deal, Lead

# The lead fields a search reads, in the order the index expression holds them.
LEAD_SEARCH_FIELDS = ("first_name", "last_name", "email", "company", "phone")
PER_KIND = 8
MAX_WORDS = 6
# The matches a lead search sorts (newest first) for its first page: the GIN index finds
# them without reading the table in date order; more than this asks for another word.
CANDIDATES = 500
GIN_SCAN_LIMIT = 5000


def lead_search_vector() -> SearchVector:
    """The one definition of the leads' search document (the GIN index is built on it):
    names, company and phone, and the e-mail with its @ as a space, so its local part and
    its domain are words of their own."""
    return SearchVector(
        "first_name",
        "last_name",
        Replace("email", Value("@"), Value(" ")),
        "company",
        "phone",
        config="simple",
    )


@dataclass(frozen=True)
class Hit:
    kind: str
    id: int
    label: str
    detail: str
    url: str


@dataclass
class Results:
    query: str
    groups: dict[str, list[Hit]] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(len(hits) for hits in self.groups.values())


def _words(query: str) -> list[str]:
    """The words of a query: letters, digits, @ . - _ runs (NUL bytes and quotes dropped)."""
    return re.findall(r"[\w@.+-]+", query.replace("\x00", ""))[:MAX_WORDS]


def _tsquery(words: list[str]) -> str:
    """Every word as a quoted prefix, all required: `'ana':* & 'jan':* & 'acme.pl':*`.
    Quoted, PostgreSQL's parser reads each word as it read the document (a domain stays
    one token, a hyphenated name gives its parts); an e-mail is split at its @ as the
    document's is. Words hold no quote or backslash."""
    parts = [part for word in words for part in word.split("@") if part.strip(".+-")]
    return " & ".join(f"'{part}':*" for part in parts)


def leads_matching(query: str) -> QuerySet[Lead]:
    words = _words(query)
    if not words:
        return Lead.objects.none()
    if connection.vendor == "postgresql":
        tsquery = _tsquery(words)
        if not tsquery:
            return Lead.objects.none()
        return Lead.objects.annotate(document=lead_search_vector()).filter(
            document=SearchQuery(tsquery, search_type="raw", config="simple")
        )
    return Lead.objects.filter(_contains_all(LEAD_SEARCH_FIELDS, words))


def deals_matching(query: str) -> QuerySet[Deal]:
    """Deals whose name matches, or whose lead does (its company, its person)."""
    words = _words(query)
    if not words:
        return Deal.objects.none()
    if connection.vendor == "postgresql":
        tsquery = _tsquery(words)
        if not tsquery:
            return Deal.objects.none()
        named = Deal.objects.annotate(document=SearchVector("name", config="simple")).filter(
            document=SearchQuery(tsquery, search_type="raw", config="simple")
        )
        leads = leads_matching(query).order_by().values("pk")[:CANDIDATES]
        ids = {
            *named.order_by().values_list("pk", flat=True)[:CANDIDATES],
            *Deal.objects.filter(lead__in=leads).values_list("pk", flat=True)[:CANDIDATES],
        }
        return Deal.objects.filter(pk__in=ids)
    return Deal.objects.filter(_contains_all(("name", "lead__company"), words))


def _contains_all(fields: tuple[str, ...], words: list[str]) -> Q:
    matches = Q()
    for word in words:
        any_field = Q()
        for name in fields:
            any_field |= Q(**{f"{name}__icontains": word})
        matches &= any_field
    return matches


def search(*, user: User | AnonymousUser, query: str, per_kind: int = PER_KIND) -> Results:
    """What `query` finds, grouped by kind (leads, campaigns, deals, battlecards, intel),
    each kind only if the user's role may read it; at most `per_kind` of each.

    On PostgreSQL a word most leads share ("gmail", "company") would make the GIN index
    gather hundreds of thousands of matches: `gin_fuzzy_search_limit` (for this
    transaction only) caps what one index scan returns, so such a search answers as fast
    as any other, with a sample of its matches (the lead list has them all). The
    transaction is the reads' own database's: a replica's when the page reads on one
    (config.replicas).
    """
    alias = router.db_for_read(Lead)
    with transaction.atomic(using=alias):
        if connections[alias].vendor == "postgresql":
            with connections[alias].cursor() as cursor:
                cursor.execute("SET LOCAL gin_fuzzy_search_limit = %s", [GIN_SCAN_LIMIT])
        return _search(user=user, query=query, per_kind=per_kind)


def _search(*, user: User | AnonymousUser, query: str, per_kind: int) -> Results:
    query = (query or "").strip()[:200]
    results = Results(query=query)
    words = _words(query)
    if not words or not user.is_authenticated:
        return results
    if user.has_perm("leads.view_lead"):
        # No order inside: the GIN index hands the matches over as it finds them.
        candidates = leads_matching(query).order_by().values("pk")[:CANDIDATES]
        leads = Lead.objects.filter(pk__in=candidates).order_by("-created_at", "-id")[:per_kind]
        results.groups["leads"] = [
            Hit(
                "leads",
                lead.pk,
                lead_label(lead),
                lead.email,
                reverse("leads:detail", args=[lead.pk]),
            )
            for lead in leads
        ]
    if user.has_perm("campaigns.view_campaign"):
        campaigns = Campaign.objects.filter(_contains_all(("name", "utm_campaign"), words))
        results.groups["campaigns"] = [
            Hit(
                "campaigns",
                c.pk,
                c.name,
                c.get_status_display(),
                reverse("campaigns:detail", args=[c.pk]),
            )
            for c in campaigns.order_by("name")[:per_kind]
        ]
    if user.has_perm("leads.view_deal"):
        deals = deals_matching(query).select_related("lead")
        results.groups["deals"] = [
            Hit(
                "deals",
                d.pk,
                d.name or lead_label(d.lead),
                d.get_outcome_display(),
                reverse("leads:detail", args=[d.lead_id]) + "#deals",
            )
            for d in deals.order_by("-created_at", "-id")[:per_kind]
        ]
    if user.has_perm("alignment.view_battlecard"):
        cards = Battlecard.objects.select_related("competitor").filter(
            _contains_all(("competitor__name", "summary"), words)
        )
        results.groups["battlecards"] = [
            Hit(
                "battlecards",
                b.pk,
                b.competitor.name,
                (b.summary or "")[:120],
                reverse("feedback:battlecard-detail", args=[b.pk]),
            )
            for b in cards.order_by("competitor__name")[:per_kind]
        ]
    if user.has_perm("alignment.view_fieldintel"):
        intel = FieldIntel.objects.select_related("competitor").filter(
            _contains_all(("text", "competitor__name"), words)
        )
        results.groups["intel"] = [
            Hit(
                "intel",
                i.pk,
                i.get_kind_display(),
                i.text[:120],
                reverse("feedback:intel-detail", args=[i.pk]),
            )
            for i in intel.order_by("-created_at", "-id")[:per_kind]
        ]
    results.groups = {kind: hits for kind, hits in results.groups.items() if hits}
    return results
