"""Build a benchmark data set in PostgreSQL quickly, with INSERT ... SELECT generate_series.

At scale `1m`: 1M leads and about 10M history rows (~4M touches, ~2.9M stage events
consistent with each lead's stage, ~3M follow-ups by the lead's rep), deals for
opportunity/won/lost leads, campaigns with weekly spend, territories with reps owning
the leads, quarterly targets. History is spread over the last 52 weeks;
`dataset_double_history` adds the 52 weeks before that, of the same shape (the
scorecard's "flat as history doubles" check). Everything is generated inside the
database, so a million leads take minutes, not hours. Bench rows have emails
@bench.accord.test; bench users are called bench-*.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.db import connection

SCALES = {"tiny": 500, "small": 10_000, "100k": 100_000, "1m": 1_000_000}
WEEKS = 52
REPS = 48  # 16 per territory
CAMPAIGNS = 60
# Territories and the countries they cover (lead countries cycle through all six).
TERRITORIES = [
    ("Bench West", "bench-west", ["FR", "GB", "ES"]),
    ("Bench Central", "bench-central", ["PL", "DE"]),
    ("Bench Americas", "bench-americas", ["US"]),
]
COUNTRIES = ["PL", "DE", "FR", "US", "GB", "ES"]
# Each lead's stage (by id % 12) and the path that brought it there (its stage events).
STAGE_CYCLE = [
    "inquiry", "inquiry", "inquiry", "inquiry", "recycled", "mql",
    "sal", "sql", "opportunity", "won", "lost", "disqualified",
]  # fmt: skip
PATHS = {
    "inquiry": ["inquiry"],
    "mql": ["inquiry", "mql"],
    "recycled": ["inquiry", "mql", "recycled"],
    "sal": ["inquiry", "mql", "sal"],
    "sql": ["inquiry", "mql", "sal", "sql"],
    "opportunity": ["inquiry", "mql", "sal", "sql", "opportunity"],
    "won": ["inquiry", "mql", "sal", "sql", "opportunity", "won"],
    "lost": ["inquiry", "mql", "sal", "sql", "opportunity", "lost"],
    "disqualified": ["inquiry", "disqualified"],
}
OWNED_STAGES = ["mql", "sal", "sql", "opportunity", "won", "lost"]
OPEN_STAGES = ["inquiry", "mql", "sal", "sql", "opportunity"]
STAMPED = ["mql", "sal", "sql", "opportunity", "won", "lost", "recycled", "disqualified"]


@dataclass
class Dataset:
    scale: str
    leads: int
    touches: int
    build_seconds: float
    server_version: str
    stage_events: int = 0
    follow_ups: int = 0
    deals: int = 0
    weeks: int = WEEKS
    counts: dict[str, int] = field(default_factory=dict)
    rollup_seconds: float | None = None  # the day rollups rebuilt after the build


def scale_size(scale: str) -> int:
    try:
        return SCALES[scale.lower()]
    except KeyError:
        raise SystemExit(f"Unknown SCALE={scale!r}; use one of: {', '.join(SCALES)}.") from None


def _array(values: list[str]) -> str:
    return "ARRAY[" + ", ".join(f"'{v}'" for v in values) + "]::text[]"


def _stage_sql() -> str:
    return f"({_array(STAGE_CYCLE)})[1 + g % {len(STAGE_CYCLE)}]"


def _path_sql(stage: str) -> str:
    """The text[] path of the lead whose stage is the SQL expression `stage`."""
    cases = " ".join(f"WHEN '{s}' THEN {_array(p)}" for s, p in PATHS.items())
    return f"(CASE {stage} {cases} END)"


def _stamp_sql(target: str) -> str:
    """`<target>_at` of a lead (columns s.stage, s.c, s.step): its step on the path."""
    cases = " ".join(
        f"WHEN '{s}' THEN s.c + s.step * {p.index(target)}" for s, p in PATHS.items() if target in p
    )
    return f"(CASE s.stage {cases} END)"


def _reps_and_territories() -> list[int]:
    """Three territories (countries mapped), REPS reps spread over them; their ids."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from alignment.accounts.roles import Role, roles_sync
    from metrics.models import Territory, TerritoryCountry, TerritoryMember

    roles_sync()
    User = get_user_model()
    group = Group.objects.get(name=Role.SALES_REP)
    territories = []
    for i, (name, code, countries) in enumerate(TERRITORIES):
        territory = Territory.objects.create(name=name, code=code, is_default=i == 0)
        TerritoryCountry.objects.bulk_create(
            TerritoryCountry(territory=territory, country=c) for c in countries
        )
        territories.append(territory)
    reps = []
    for i in range(REPS):
        user, created = User.objects.get_or_create(username=f"bench-rep-{i}")
        if created:
            user.groups.add(group)
        TerritoryMember.objects.create(territory=territories[i % 3], user=user)
        reps.append(user.pk)
    return reps


def bench_user(role: str) -> object:
    """The bench user holding `role` (bench-<role>), created once."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    user, created = get_user_model().objects.get_or_create(username=f"bench-{role}")
    if created:
        user.groups.add(Group.objects.get(name=role))
    return user


def _campaigns(*, weeks: int) -> None:
    """CAMPAIGNS campaigns of every channel with a spend entry per week over `weeks`."""
    from alignment.accounts.roles import Role
    from campaigns.models import Channel

    owner = bench_user(Role.MARKETING_MANAGER).pk

    channels = [c for c, _label in Channel.choices]
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO campaigns_campaign (
                name, channel, status, utm_source, utm_medium, utm_campaign, starts_on,
                ends_on, budget, description, launched_below_readiness, created_at, owner_id
            )
            SELECT 'Bench campaign ' || g, ({_array(channels)})[1 + g % {len(channels)}],
                'live', 'bench', 'cpc', 'bench-' || g,
                current_date - {weeks * 7 + 7}, NULL, 10000 + g * 100, '', false, now(), {owner}
            FROM generate_series(1, {CAMPAIGNS}) AS g
            """
        )
        cursor.execute(
            f"""
            INSERT INTO campaigns_spendentry (campaign_id, date, amount, note, created_at)
            SELECT c.id, current_date - 7 * w, 50 + (c.id * 13 + w * 7) % 400, '', now()
            FROM campaigns_campaign c, generate_series(1, {weeks}) AS w
            """
        )


def _targets(*, weeks: int) -> None:
    """A revenue target per quarter, overall and per territory, over the history."""
    from metrics.models import Target, Territory
    from metrics.reporting.services import target_period_bounds

    today = date.today()
    first = today - timedelta(weeks=weeks + 13)
    quarter = date(first.year, 3 * ((first.month - 1) // 3) + 1, 1)
    rows = []
    territories = [None, *Territory.objects.all()]
    while quarter <= today:
        starts, ends = target_period_bounds(period="quarter", starts_on=quarter)
        for territory in territories:
            amount = Decimal(3_000_000 if territory is None else 1_000_000)
            rows.append(
                Target(
                    territory=territory,
                    period="quarter",
                    starts_on=starts,
                    ends_on=ends,
                    revenue_target=amount,
                )
            )
        quarter = ends
    Target.objects.bulk_create(rows, ignore_conflicts=True)


def _leads(cursor, *, first: int, last: int, weeks_back: int, reps: list[int]) -> None:
    """Leads with ids first..last, created over the 52 weeks ending `weeks_back` weeks ago.

    Each lead's stage timestamps follow its path, one `step` apart (at most 3 days);
    mql and later leads belong to a rep of their territory; open ones have an SLA
    deadline spread over ±10 days around now (about half overdue: the queue's worst case).
    """
    span_minutes = WEEKS * 7 * 24 * 60
    per_territory = REPS // 3
    territory_of = {c: i for i, (_n, _c, countries) in enumerate(TERRITORIES) for c in countries}
    country_territory = _array([str(territory_of[c]) for c in COUNTRIES])
    now = f"'{_now(cursor).isoformat()}'::timestamptz"
    reps_sql = "(ARRAY[" + ", ".join(str(int(r)) for r in reps) + "]::int[])"
    territories_sql = "(ARRAY[" + ", ".join(str(t) for t in _territory_ids()) + "]::int[])"
    stamps = ", ".join(f"{s}_at" for s in STAMPED)
    stamp_values = ", ".join(_stamp_sql(s) for s in STAMPED)
    cursor.execute(
        f"""
        INSERT INTO leads_lead (
            id, email, first_name, last_name, company, title, phone, country, industry,
            company_size, source, campaign_id, owner_id, territory_id, stage, score,
            score_breakdown, custom_fields, created_at, updated_at, inquiry_at,
            {stamps}, stage_entered_at, assigned_at, first_follow_up_at, last_activity_at,
            next_follow_up_at, sla_due_at
        )
        SELECT
            s.g, 'lead' || s.g || '@bench.accord.test', 'First' || s.g, 'Last' || s.g,
            CASE WHEN s.g % 17 = 0 THEN '' ELSE 'Company ' || (s.g % 50000) END,
            (ARRAY['Head of Sales', 'Marketing Director', 'Engineer', 'Analyst',
                   'VP Sales', 'Student', 'Head of IT', 'Office manager'])[1 + s.g % 8],
            CASE WHEN s.g % 3 = 0 THEN '' ELSE '+48 600 ' || s.g END,
            s.country,
            (ARRAY['Software', 'Retail', 'Finance', 'Health', ''])[1 + s.g % 5],
            CASE WHEN s.g % 11 = 0 THEN NULL ELSE (s.g * 37) % 2000 END,
            (ARRAY['referral', 'event', 'paid_search', 'organic_search', 'email',
                   'social', 'unknown'])[1 + s.g % 7],
            CASE WHEN s.g % 3 = 0 THEN NULL ELSE 1 + s.g % {CAMPAIGNS} END,
            CASE WHEN s.stage IN {tuple(OWNED_STAGES)} THEN
                 {reps_sql}[1 + s.t + 3 * (s.g % {per_territory})] END,
            {territories_sql}[1 + s.t],
            s.stage, 0, '[]'::jsonb, jsonb_build_object('seats', s.g % 40),
            s.c, s.c, s.c,
            {stamp_values},
            s.c + s.step * (array_length({_path_sql("s.stage")}, 1) - 1),
            CASE WHEN s.stage IN {tuple(OWNED_STAGES)} THEN {_stamp_sql("mql")} END,
            CASE WHEN s.stage IN {tuple(OWNED_STAGES)} THEN
                 {_stamp_sql("mql")} + s.step / 2 END,
            s.c + s.step * (array_length({_path_sql("s.stage")}, 1) - 1),
            CASE WHEN s.stage IN ('mql', 'sal', 'sql', 'opportunity') THEN
                 {now} + ((s.g * 7919) % 30) * interval '1 day' END,
            CASE WHEN s.stage IN {tuple(OPEN_STAGES)} THEN
                 {now} + (((s.g * 7919) % 480) - 240) * interval '1 hour' END
        FROM (
            SELECT g, stage, country, c,
                   (({country_territory})[1 + g % {len(COUNTRIES)}])::int AS t,
                   LEAST(interval '3 days', ({now} - c) / 8) AS step
            FROM (
                SELECT g, {_stage_sql()} AS stage,
                       ({_array(COUNTRIES)})[1 + g % {len(COUNTRIES)}] AS country,
                       {now} - interval '{weeks_back * 7} days'
                           - ((g::bigint * 7919) % {span_minutes}) * interval '1 minute'
                           - interval '1 minute' AS c
                FROM generate_series({int(first)}::bigint, {int(last)}::bigint) AS g
            ) AS raw
        ) AS s
        """,
    )


def _territory_ids() -> list[int]:
    from metrics.models import Territory

    by_code = dict(Territory.objects.values_list("code", "pk"))
    return [by_code[code] for _n, code, _c in TERRITORIES]


def _now(cursor) -> object:
    cursor.execute("SELECT now()")
    return cursor.fetchone()[0]


def _history(cursor, *, first: int, last: int) -> None:
    """Touches, stage events, follow-ups and deals of the leads first..last."""
    in_range = f"l.id BETWEEN {int(first)} AND {int(last)}"
    kinds = ["form_fill", "demo_request", "pricing_visit", "webinar", "content_download",
             "page_visit", "email_click", "event"]  # fmt: skip
    from campaigns.models import TouchKind

    kinds = [k for k in kinds if k in TouchKind.values] or list(TouchKind.values)
    # ~4 touches per lead (2..6), in the 3 weeks after it was created.
    cursor.execute(
        f"""
        INSERT INTO campaigns_touch (lead_id, campaign_id, kind, occurred_at, metadata,
                                     created_at)
        SELECT l.id,
               CASE WHEN (l.id + i) % 4 = 0 THEN NULL ELSE 1 + (l.id + i) % {CAMPAIGNS} END,
               ({_array(kinds)})[1 + (l.id * 7 + i) % {len(kinds)}],
               LEAST(now(), l.created_at + ((l.id * 31 + i * 997) % 30240) * interval '1 minute'),
               '{{}}'::jsonb, l.created_at
        FROM leads_lead l, generate_series(1, 2 + l.id % 5) AS i
        WHERE {in_range}
        """
    )
    # One event per step of the lead's path, at its stamped time.
    cursor.execute(
        f"""
        INSERT INTO leads_stageevent (lead_id, from_stage, to_stage, occurred_at,
                                      actor_id, reason_code, reason, source)
        SELECT l.id, COALESCE(p.path[i - 1], ''), p.path[i],
               CASE WHEN i = array_length(p.path, 1) THEN l.stage_entered_at
                    ELSE l.created_at + (l.stage_entered_at - l.created_at)
                         * (i - 1) / GREATEST(array_length(p.path, 1) - 1, 1) END,
               CASE WHEN i > 2 THEN l.owner_id END,
               CASE WHEN p.path[i] IN ('lost', 'disqualified', 'recycled') THEN 'bench'
                    ELSE '' END,
               '', 'import'
        FROM leads_lead l
        CROSS JOIN LATERAL (SELECT {_path_sql("l.stage")} AS path) AS p
        CROSS JOIN LATERAL generate_subscripts(p.path, 1) AS i
        WHERE {in_range}
        """
    )
    # Follow-ups by the owner: 1..11 per owned lead (~3 per lead overall), the first
    # half a step after assignment (within the SLA), then every few days.
    fu_kinds = ["call", "email", "meeting", "demo", "note"]
    outcomes = ["connected", "left_message", "no_answer", "meeting_booked", "interested"]
    cursor.execute(
        f"""
        INSERT INTO leads_followup (lead_id, author_id, kind, outcome, notes, occurred_at,
                                    next_step, next_follow_up_at, within_sla, is_contact,
                                    created_at)
        SELECT f.lead_id, f.author_id, f.kind, f.outcome, '', f.occurred_at, '', NULL,
               CASE WHEN f.i = 1 THEN true END,
               f.kind <> 'note' AND f.outcome IN ('connected', 'meeting_booked', 'interested'),
               f.created_at
        FROM (
            SELECT l.id AS lead_id, l.owner_id AS author_id, i,
                   -- the first follow-up is the contact that stopped the response clock
                   CASE WHEN i = 1 THEN 'call'
                        ELSE ({_array(fu_kinds)})[1 + (l.id + i) % 5] END AS kind,
                   CASE WHEN i = 1 THEN 'connected'
                        ELSE ({_array(outcomes)})[1 + (l.id * 3 + i) % 5] END AS outcome,
                   LEAST(now(), l.first_follow_up_at + (i - 1) * interval '2 days')
                       AS occurred_at,
                   l.first_follow_up_at AS created_at
            FROM leads_lead l, generate_series(1, 1 + l.id % 11) AS i
            WHERE {in_range} AND l.owner_id IS NOT NULL AND l.first_follow_up_at IS NOT NULL
        ) AS f
        """
    )
    cursor.execute(
        f"""
        INSERT INTO leads_deal (lead_id, name, owner_id, amount, gross_margin, expected_close,
                                outcome, closed_at, lost_reason, created_at, updated_at)
        SELECT l.id, 'Deal ' || l.id, l.owner_id, 1000 + (l.id * 37) % 50000, NULL,
               (l.opportunity_at + interval '30 days')::date,
               CASE l.stage WHEN 'opportunity' THEN 'open' ELSE l.stage END,
               CASE l.stage WHEN 'won' THEN l.won_at WHEN 'lost' THEN l.lost_at END,
               CASE WHEN l.stage = 'lost' THEN 'Price' ELSE '' END,
               l.opportunity_at, l.opportunity_at
        FROM leads_lead l
        WHERE {in_range} AND l.stage IN ('opportunity', 'won', 'lost')
        """
    )


def _count(cursor, table: str) -> int:
    cursor.execute(f"SELECT count(*) FROM {table}")
    return cursor.fetchone()[0]


def _analyze(cursor, *, vacuum: bool = False) -> None:
    """Statistics for the generated tables; with `vacuum`, their pages marked all-visible
    too (what the covering indexes need to be read without the heap)."""
    for table in ("leads_lead", "campaigns_touch", "leads_stageevent", "leads_followup",
                  "leads_deal"):  # fmt: skip
        cursor.execute(f"{'VACUUM ' if vacuum else ''}ANALYZE {table}")


def _describe(dataset: Dataset, cursor) -> Dataset:
    counts = {
        "leads": _count(cursor, "leads_lead"),
        "touches": _count(cursor, "campaigns_touch"),
        "stage_events": _count(cursor, "leads_stageevent"),
        "follow_ups": _count(cursor, "leads_followup"),
        "deals": _count(cursor, "leads_deal"),
    }
    dataset.leads = counts["leads"]
    dataset.touches = counts["touches"]
    dataset.stage_events = counts["stage_events"]
    dataset.follow_ups = counts["follow_ups"]
    dataset.deals = counts["deals"]
    dataset.counts = counts
    return dataset


def dataset_build(*, scale: str) -> Dataset:
    """Replace every lead, campaign, territory and scorecard with a generated set."""
    from alignment.agreement.services import agreement_create_default

    agreement_create_default()
    n = scale_size(scale)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE campaigns_touch, leads_stageevent, leads_followup, leads_slabreach, "
            "leads_deal, leads_lead, leads_leadimport, campaigns_campaign, "
            "campaigns_spendentry, metrics_territory, metrics_target, metrics_scorecard, "
            "metrics_stagedayrollup, metrics_leaddayrollup, metrics_rollupdirty, "
            "alignment_notification RESTART IDENTITY CASCADE"
        )
    reps = _reps_and_territories()
    _campaigns(weeks=2 * WEEKS)
    _targets(weeks=2 * WEEKS)
    with connection.cursor() as cursor, _rollup_triggers_off(cursor):
        _leads(cursor, first=1, last=n, weeks_back=0, reps=reps)
        _history(cursor, first=1, last=n)
        cursor.execute("SELECT setval(pg_get_serial_sequence('leads_lead', 'id'), %s)", [n])
        _analyze(cursor)
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
        dataset = Dataset(
            scale=scale, leads=n, touches=0, build_seconds=0.0, server_version=version
        )
        _describe(dataset, cursor)
    dataset.rollup_seconds = _rollups_rebuild()
    # Vacuumed once the rollups' rebuild is done and nothing else runs: a run on 2026-12-06
    # found a vacuum during the build had marked no page all-visible (relallvisible 0), so
    # every covering index was read with the heap (dashboard p50 670 ms; 520 ms after).
    with connection.cursor() as cursor:
        _analyze(cursor, vacuum=True)
    dataset.build_seconds = time.perf_counter() - started
    return dataset


@contextmanager
def _rollup_triggers_off(cursor):
    """Bulk generation without the rollups' change log (the triggers of metrics 0005 and
    0006; foreign keys' stay on): the rollups are rebuilt from the records once at the
    end instead. The lead's trigger that carries its changes onto its deals (leads 0021)
    is off too and not needed: a lead is not changed after its deals are inserted, and the
    deal's own trigger, on, sets them from the lead."""
    cursor.execute("ALTER TABLE leads_stageevent DISABLE TRIGGER USER")
    cursor.execute("ALTER TABLE leads_lead DISABLE TRIGGER USER")
    try:
        yield
    finally:
        cursor.execute("ALTER TABLE leads_stageevent ENABLE TRIGGER USER")
        cursor.execute("ALTER TABLE leads_lead ENABLE TRIGGER USER")


def worker_catch_up() -> float:
    """What the worker's beat job does every 10 s in production (metrics.tasks.
    refresh_rollups), which the bench runs without: the rollups take in the writes of the
    benchmarks before (creates, imports), so that the metrics read them as they would in
    production rather than the records. Called by the benchmarks that read the metrics;
    returns the seconds it took."""
    from metrics.tasks import refresh_rollups

    started = time.perf_counter()
    refresh_rollups()
    return time.perf_counter() - started


def _rollups_rebuild() -> float:
    from metrics.rollups import rollups_rebuild

    started = time.perf_counter()
    rollups_rebuild()
    return time.perf_counter() - started


def dataset_reuse(*, scale: str) -> Dataset:
    """The data set a previous run left in the database (counted, not rebuilt)."""
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        dataset = Dataset(
            scale=scale, leads=0, touches=0, build_seconds=0.0, server_version=cursor.fetchone()[0]
        )
        _describe(dataset, cursor)
    return dataset


def dataset_double_history(*, dataset: Dataset) -> float:
    """Add as many leads again, with their history, in the 52 weeks before; the seconds."""
    from django.contrib.auth import get_user_model

    started = time.perf_counter()
    reps = [get_user_model().objects.get(username=f"bench-rep-{i}").pk for i in range(REPS)]
    with connection.cursor() as cursor, _rollup_triggers_off(cursor):
        cursor.execute("SELECT max(id) FROM leads_lead")
        top = cursor.fetchone()[0] or 0
        n = dataset.counts.get("leads", dataset.leads)
        _leads(cursor, first=top + 1, last=top + n, weeks_back=WEEKS, reps=reps)
        _history(cursor, first=top + 1, last=top + n)
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('leads_lead', 'id'), "
            "(SELECT max(id) FROM leads_lead))"
        )
        _analyze(cursor)
        _describe(dataset, cursor)
    dataset.rollup_seconds = _rollups_rebuild()
    with connection.cursor() as cursor:
        _analyze(cursor, vacuum=True)
    dataset.weeks = 2 * WEEKS
    return time.perf_counter() - started
