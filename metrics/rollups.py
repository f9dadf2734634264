"""The funnel's stage entries and conversion cohorts, kept by day (StageDayRollup).

What is kept: for each day (the deployment's time zone), stage, territory of the lead
and day of the lead's previous entry into the same stage, the number of moves into the
stage (metrics.definitions `_moves`: no revert, nothing reverted), how many of those
the lead followed with a move into each later stage, at or after it, and how many were
sales' decisions on an MQL (`decided`: out of MQL, not by marketing).

That is enough for the exact figures of the stage-entry metrics and the conversion
cohorts over any period of whole days [s, e), overall or for one territory:
- leads that entered X in the period = entries on days in [s, e) whose previous entry
  into X was before s (or never): each lead's first entry in the period, counted once;
- of those, the leads that reached Y at or after their first entry in the period =
  the same rows' `reached_Y` (a lead reached Y after its first entry in the period iff
  it did after that entry);
- sales' decisions on MQLs in the period = `decided` over every row of its days (every
  move, not only each lead's first).

Beside them, LeadDayRollup: the leads created on each day, by territory, campaign and
source (new leads, narrowed or grouped by those, and cost per lead); and
ResponseDayRollup: the leads whose latest MQL entry fell on each day, by territory,
campaign, source and the whole hours (rounded up) their first follow-up took, none when
it has not come (SLA compliance for any SLA of whole hours, `mql_responses`).

How it is kept: database triggers (migrations metrics 0005, 0006, 0008, 0009; on
PostgreSQL, inserts and deletes are logged once per statement, 0010) write a
RollupDirty row for every change to a stage event, every lead that changes territory, and
every lead counted in or out of LeadDayRollup and ResponseDayRollup (created, deleted, or
its creation time, territory, campaign, source, MQL entry or first follow-up changed: out
with the old values, in with the new), on every path (services, admin, bulk SQL). A
lead's count moves with its own row alone, so those log rows go straight onto
LeadDayRollup and ResponseDayRollup. Keeping the rollups exact is then
`rollups_refresh`: under a lock and in one snapshot, each changed lead's part of the
stage rollups before the logged changes (the changes undone) and now, read from its
events, and the difference added to the rows; the log rows consumed. The worker runs it
every few seconds (`metrics.tasks.refresh_rollups`); a reader runs it too before reading, when a few
changes wait (at most REFRESH_AT_READ), so what it reads is exact at that moment. With
more waiting (a bulk import, a rebuild pending) or no rollups built yet, the metrics
read the stage events themselves (metrics.definitions): slower, never wrong.

Why triggers and a refresh rather than counters bumped by each service: the figures
depend on each lead's whole history (its previous entry, its later moves, its current
territory, reverts), which one event does not know; a lead's part is computed from its
events by the definition itself, and no write path can forget to log a change. Should
the rows ever disagree with the events (a row would go below zero), the readers read
the records and the worker rebuilds them (RollupsDrifted).
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import Count, Max, Min, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from alignment.models import StageKey, Team
from config.dates import day_start, deployment_date, deployment_tz
from leads.models import Lead, StageEvent
from metrics.models import (
    LeadDayRollup,
    ResponseDayRollup,
    RollupDirty,
    RollupState,
    StageDayRollup,
)

logger = logging.getLogger(__name__)

REACHED = (StageKey.MQL, StageKey.SAL, StageKey.SQL, StageKey.OPPORTUNITY, StageKey.WON)
# The stages a decision on an MQL moves it into: accepted, or rejected (the one list:
# metrics.definitions.mql_decisions reads it too).
DECISION_STAGES = (StageKey.SAL, StageKey.RECYCLED, StageKey.DISQUALIFIED)
# A reader refreshes the rollups itself when at most this many changes wait.
REFRESH_AT_READ = 2000
# Past this many waiting changes the worker rebuilds every day instead (at 1M leads the
# rebuild reads ~3M events in about a minute; the refresh takes ~25 us per change).
REBUILD_PAST = 2_000_000
# A backlog past this many changes (an import) is taken in steps of about as many, a
# range of leads at a time, each step its own transaction: memory stays flat.
CATCH_UP_ROWS = 100_000
CHUNK_DAYS = 31
LOCK_KEY = 0x6D52_4F4C  # pg_advisory_xact_lock: one refresh at a time


# An event as the rollups read it: (id, stage entered, moment, source, id it reverts,
# stage left, actor's team).
Event = tuple[int, str, datetime, str, int | None, str, str]
# day, stage, territory, campaign, previous day
Key = tuple[date, str, int | None, int | None, date | None]
LeadKey = tuple[date, int | None, int | None, str]  # day, territory, campaign, source
# day of the MQL entry, territory, campaign, source, hours to the first follow-up
ResponseKey = tuple[date, int | None, int | None, str, int | None]
# A lead counted into LeadDayRollup (+1) or out of it (-1), on its logged values' row.
LEAD_SIGNS = {RollupDirty.Kind.LEAD_IN: 1, RollupDirty.Kind.LEAD_OUT: -1}
# The columns a rollup is grouped by (the stage rollups: territory and campaign).
LEAD_GROUPS = {"territory": "territory_id", "campaign": "campaign_id", "source": "source"}


def _lead_counts(
    events: Iterable[Event], territory_id: int | None, campaign_id: int | None, *,
    days: set[date] | None = None, sign: int = 1, counts: dict[Key, Counter] | None = None,
) -> dict[Key, Counter]:  # fmt: skip
    """One lead's part of the rollups (on `days` only, when given): its moves, each on the
    row of its day with the day of its previous move into the same stage, and whether it
    moved into each later stage at or after it. `sign` -1 subtracts it."""
    counts = counts if counts is not None else defaultdict(Counter)
    events = list(events)
    reverted = {event[4] for event in events if event[4]}
    moves = sorted(
        (at, pk, stage, left, team)
        for pk, stage, at, source, _reverts, left, team in events
        if source != StageEvent.Source.REVERT and pk not in reverted
    )
    latest: dict[str, datetime] = {}
    for at, _pk, stage, _left, _team in moves:
        latest[stage] = at  # the last move into each stage
    previous: dict[str, date] = {}
    for at, _pk, stage, left, team in moves:
        day = deployment_date(at)
        if days is None or day in days:
            counter = counts[(day, stage, territory_id, campaign_id, previous.get(stage))]
            counter["entries"] += sign
            for target in REACHED:
                if target in latest and latest[target] >= at:
                    counter[target] += sign
            if _decision(left, stage, team):
                counter["decided"] += sign
        previous[stage] = day
    return counts


def _decision(left: str, entered: str, team: str) -> bool:
    """Whether a move is sales' decision on an MQL (metrics.definitions.mql_decisions: out
    of MQL into SAL, recycled or disqualified, not by marketing)."""
    return left == StageKey.MQL and entered in DECISION_STAGES and team != Team.MARKETING


def _events_of(leads: list[int]) -> dict[int, list[Event]]:
    found: dict[int, list[Event]] = defaultdict(list)
    rows = (
        StageEvent.objects.filter(lead_id__in=leads)
        .order_by()
        .values_list(
            "lead_id",
            "pk",
            "to_stage",
            "occurred_at",
            "source",
            "reverts_id",
            "from_stage",
            "actor_team",
        )
    )
    for lead_id, *event in rows:
        found[lead_id].append(tuple(event))  # type: ignore[arg-type]
    return found


def _dimensions(leads: list[int]) -> dict[int, tuple[int | None, int | None]]:
    """{lead id: (territory id, campaign id)} now."""
    rows = Lead.objects.filter(pk__in=leads).values_list("pk", "territory_id", "campaign_id")
    return {pk: (territory_id, campaign_id) for pk, territory_id, campaign_id in rows}


def _row(key: Key, counter: Counter) -> StageDayRollup:
    day, stage, territory_id, campaign_id, prev_day = key
    return StageDayRollup(
        day=day, stage=stage, territory_id=territory_id, campaign_id=campaign_id,
        prev_day=prev_day,
        entries=counter["entries"],
        **{f"reached_{target}": counter[target] for target in REACHED},
        decided=counter["decided"],
    )  # fmt: skip


def _days_rows(first: date, last: date) -> list[StageDayRollup]:
    """The rollup rows of the days first to last, computed from the stage events."""
    events = StageEvent.objects.filter(occurred_at__gte=day_start(first))
    if last < date.max:
        events = events.filter(occurred_at__lt=day_start(last + timedelta(days=1)))
    leads = sorted(set(events.order_by().values_list("lead_id", flat=True)))
    days = {first + timedelta(days=n) for n in range((last - first).days + 1)}
    counts: dict[Key, Counter] = defaultdict(Counter)
    for batch in _chunks(leads, 5000):
        dims = _dimensions(batch)
        for lead_id, lead_events in _events_of(batch).items():
            _lead_counts(lead_events, *dims.get(lead_id, (None, None)), days=days, counts=counts)
    return [_row(key, counter) for key, counter in counts.items() if counter["entries"]]


@contextmanager
def _exclusive(*, wait: bool) -> Iterator[bool]:
    """A transaction in which to change the rollups, yielding whether it may.

    One at a time: PostgreSQL's advisory lock (SQLite has one writer anyway), taken
    before the transaction starts, so that its snapshot is taken after the previous
    holder committed; the snapshot is REPEATABLE READ, so that the change log and the
    events are read as of one moment (a change committed meanwhile is seen with its log
    row or not at all). A reader does not wait for another refresh (a rebuild can take
    a minute): it is told no, and reads the events. Inside a transaction already (a
    test, a caller's atomic block) the lock is the transaction's and the snapshot its.
    """
    if connection.vendor != "postgresql":
        with transaction.atomic():
            yield True
        return
    if connection.in_atomic_block:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s)"
                if wait
                else "SELECT pg_try_advisory_xact_lock(%s)",
                [LOCK_KEY],
            )
            yield wait or bool(cursor.fetchone()[0])
        return
    with connection.cursor() as cursor:
        if wait:
            cursor.execute("SELECT pg_advisory_lock(%s)", [LOCK_KEY])
        else:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [LOCK_KEY])
            if not cursor.fetchone()[0]:
                yield False
                return
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            yield True
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [LOCK_KEY])


def _state() -> RollupState | None:
    return RollupState.objects.order_by("pk").first()


def rollups_rebuild() -> int:
    """Recompute every day from the stage events (the `rollups_rebuild` command, and the
    worker when no rollups are built or the deployment's time zone changed). Returns the
    number of rows written."""
    with _exclusive(wait=True):
        seen = list(RollupDirty.objects.values_list("pk", flat=True))
        StageDayRollup.objects.all().delete()
        bounds = StageEvent.objects.order_by().aggregate(
            first=Min("occurred_at"), last=Max("occurred_at")
        )
        written = 0
        if bounds["first"] is not None:
            day, last = deployment_date(bounds["first"]), deployment_date(bounds["last"])
            while day <= last:
                run_end = min(day + timedelta(days=CHUNK_DAYS - 1), last)
                rows = _days_rows(day, run_end)
                StageDayRollup.objects.bulk_create(rows, batch_size=2000)
                written += len(rows)
                day = run_end + timedelta(days=1)
        written += _lead_rows_rebuild()
        written += _response_rows_rebuild()
        for pk_chunk in _chunks(seen, 5000):
            RollupDirty.objects.filter(pk__in=pk_chunk).delete()
        RollupState.objects.all().delete()
        RollupState.objects.create(time_zone=settings.TIME_ZONE, rebuilt_at=timezone.now())
    _settle()
    return written


def _settle() -> None:
    """Leave the rebuilt tables as readers want them (PostgreSQL, outside a transaction):
    every row is new, so until a vacuum marks their pages visible and an analyze counts
    them, reads visit the row versions and plan from the old table's statistics (which
    may count no row at all: a first rebuild). Autovacuum would get there within
    minutes; the rebuild does not leave it to chance."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return
    with connection.cursor() as cursor:
        for model in (StageDayRollup, LeadDayRollup, ResponseDayRollup):
            cursor.execute(f"VACUUM ANALYZE {model._meta.db_table}")


def _lead_rows_rebuild() -> int:
    """LeadDayRollup from the leads: one grouped read (the day in the deployment's time
    zone, by the database), written in batches."""
    LeadDayRollup.objects.all().delete()
    rows = (
        Lead.objects.order_by()
        .values("territory_id", "campaign_id", "source",
                day=TruncDate("created_at", tzinfo=deployment_tz()))
        .annotate(leads=Count("pk"))
    )  # fmt: skip
    written, batch = 0, []
    for row in rows.iterator(chunk_size=5000):
        batch.append(LeadDayRollup(**row))
        if len(batch) == 2000:
            written += len(LeadDayRollup.objects.bulk_create(batch))
            batch = []
    written += len(LeadDayRollup.objects.bulk_create(batch))
    return written


def response_hours(mql_at: datetime, first_follow_up_at: datetime | None) -> int | None:
    """The whole hours from an MQL entry to the first follow-up, rounded up (0 at or
    before it; None: no follow-up): the lead was followed up within H whole hours iff
    this is at most H. Exact, in microseconds."""
    if first_follow_up_at is None:
        return None
    micros = (first_follow_up_at - mql_at) // timedelta(microseconds=1)
    return max(0, -(-micros // 3_600_000_000))


def _response_rows_rebuild() -> int:
    """ResponseDayRollup from the leads with an MQL entry: their columns read in chunks,
    the hours computed by `response_hours` (the one rule, exact on every database)."""
    ResponseDayRollup.objects.all().delete()
    counts: Counter[ResponseKey] = Counter()
    rows = (
        Lead.objects.filter(mql_at__isnull=False)
        .order_by()
        .values_list("mql_at", "first_follow_up_at", "territory_id", "campaign_id", "source")
    )
    for mql_at, followed, territory, campaign, source in rows.iterator(chunk_size=10000):
        counts[_response_key(mql_at, followed, territory, campaign, source)] += 1
    created = [_response_row(key, n) for key, n in counts.items()]
    ResponseDayRollup.objects.bulk_create(created, batch_size=2000)
    return len(created)


def _response_key(
    mql_at: datetime, followed: datetime | None, territory: int | None, campaign: int | None,
    source: str,
) -> ResponseKey:  # fmt: skip
    return (deployment_date(mql_at), territory, campaign, source, response_hours(mql_at, followed))


def _response_row(key: ResponseKey, n: int) -> ResponseDayRollup:
    day, territory_id, campaign_id, source, hours = key
    return ResponseDayRollup(
        day=day, territory_id=territory_id, campaign_id=campaign_id, source=source,
        response_hours=hours, leads=n,
    )  # fmt: skip


class RollupsDrifted(Exception):
    """A difference would take a row below zero: the rollups no longer match the events
    (a change the log missed). They are rebuilt; until then the events are read."""


def rollups_refresh(*, limit: int | None = None) -> bool:
    """Apply the logged changes (see _refresh); on drift or a database error, a reader is
    told no and reads the events, and the rollups are marked for a rebuild on drift."""
    try:
        return _refresh(limit=limit)
    except RollupsDrifted:
        logger.error("Rollups drifted from the events; rebuilding them.", exc_info=True)
        if limit is None:
            rollups_rebuild()
            return True
        RollupState.objects.all().delete()  # readers read the events; the worker rebuilds
        return False
    except DatabaseError:
        if limit is None or connection.in_atomic_block:
            raise
        logger.warning("Rollups not refreshed; reading the events.", exc_info=True)
        return False


def _refresh(*, limit: int | None = None) -> bool:
    """Apply the logged changes; True when the rollups are exact now. With more than
    `limit` changes waiting, no rollups built, or another refresh running, a reader's
    call (`limit`) does nothing and says False; the worker's (no limit) waits its turn,
    and rebuilds when none are built or a bulk load left too many changes."""
    state = _state()
    if state is None or state.time_zone != settings.TIME_ZONE:
        if limit is not None:
            return False
        rollups_rebuild()
        return True
    bound = limit if limit is not None else REBUILD_PAST
    waiting = RollupDirty.objects.order_by()[: bound + 1].count()  # counted up to the bound
    if waiting == 0:
        return True
    if waiting > bound:
        if limit is not None:
            return False
        rollups_rebuild()  # a bulk load: day by day from the events costs less
        return True
    if limit is not None and connection.vendor == "postgresql" and connection.in_atomic_block:
        # Inside a caller's transaction there is no one snapshot for the log and the
        # events (READ COMMITTED): a reader reads the events and leaves it to the worker.
        return False
    if limit is None and waiting > CATCH_UP_ROWS:
        _catch_up()
        return True
    with _exclusive(wait=limit is None) as allowed:
        if not allowed:
            return False
        _take(RollupDirty.objects.all())
    return True


LOG_FIELDS = ("pk", "kind", "lead_id", "event_id", "to_stage", "occurred_at", "source",
              "reverts_id", "territory_id", "campaign_id", "mql_at",
              "first_follow_up_at", "from_stage", "actor_team")  # fmt: skip


def _take(rows: Any) -> None:
    """Apply these log rows (a queryset) and consume them."""
    log = list(rows.order_by("pk").values_list(*LOG_FIELDS))
    if log:
        _apply(log)
        for pk_chunk in _chunks([entry[0] for entry in log], 5000):
            RollupDirty.objects.filter(pk__in=pk_chunk).delete()


def _catch_up() -> None:
    """A large backlog (an import of 100k leads logs 200k changes) in steps: each takes
    every log row of a range of leads, about CATCH_UP_ROWS in all, in a transaction and
    snapshot of its own. A lead's part of the rollups depends on its own events and log
    rows alone, so taking all of a lead's rows at once keeps each step exact; rows logged
    meanwhile for leads already taken wait for the next refresh."""
    after: int | None = None
    while True:
        with _exclusive(wait=True):
            rows = RollupDirty.objects.order_by()
            if after is not None:
                rows = rows.filter(lead_id__gt=after)
            ends = rows.order_by("lead_id").values_list("lead_id", flat=True)
            end = next(iter(ends[CATCH_UP_ROWS : CATCH_UP_ROWS + 1]), None)
            _take(rows if end is None else rows.filter(lead_id__lte=end))
        if end is None:
            return
        after = end


def _apply(log: list[tuple]) -> None:
    """The logged changes onto the rows: a lead counted in or out adds or takes one on its
    LeadDayRollup row, and on its ResponseDayRollup row when it has an MQL entry; the
    stage rollups take each changed lead's difference (_apply_moves)."""
    leads: Counter[LeadKey] = Counter()
    responses: Counter[ResponseKey] = Counter()
    for entry in log:
        _pk, kind, _lead, _event, _stage, at, source, _reverts, territory, campaign = entry[:10]
        if kind in LEAD_SIGNS:
            leads[(deployment_date(at), territory, campaign, source)] += LEAD_SIGNS[kind]
            mql_at, followed = entry[10:12]
            if mql_at is not None:
                key = _response_key(mql_at, followed, territory, campaign, source)
                responses[key] += LEAD_SIGNS[kind]
    _count_rows_add(LeadDayRollup, ("day", "territory_id", "campaign_id", "source"), leads)
    _count_rows_add(
        ResponseDayRollup,
        ("day", "territory_id", "campaign_id", "source", "response_hours"),
        responses,
    )
    _apply_moves(log)


def _count_rows_add(model: Any, columns: tuple[str, ...], delta: Counter) -> None:
    """Add `delta` ({values of `columns`: n}) to the `leads` of a count rollup's rows."""
    delta = Counter({key: n for key, n in delta.items() if n})
    if not delta:
        return
    existing = _rows_of_days(
        model.objects.all(),
        {key[0] for key in delta},
        lambda row: tuple(getattr(row, column) for column in columns),
    )
    changed, created, emptied = [], [], []
    for key, n in delta.items():
        row = existing.get(key)
        if row is None:
            row = model(**dict(zip(columns, key, strict=True)), leads=0)
            created.append(row)
        row.leads += n
        if row.leads < 0:
            raise RollupsDrifted(key)
        if row.pk is not None:
            (emptied if row.leads == 0 else changed).append(row)
    _rows_write(model, [row for row in created if row.leads], changed, emptied, ["leads"])


def _apply_moves(log: list[tuple]) -> None:
    """Each changed lead's part of the stage rollups, before the logged changes and now:
    the difference goes on the rows (the changes undone, newest first, give the before).
    A lead counted out (LEAD_OUT: deleted, or its territory, campaign, source or creation
    time changed) says which campaign it was in before."""
    by_lead: dict[int, list[tuple]] = defaultdict(list)
    for entry in log:
        by_lead[entry[2]].append(entry)
    delta: dict[Key, Counter] = defaultdict(Counter)
    for batch in _chunks(sorted(by_lead), 5000):
        now_events = _events_of(batch)
        dims = _dimensions(batch)
        for lead_id in batch:
            entries = by_lead[lead_id]
            current = now_events.get(lead_id, [])
            before = {event[0]: event for event in current}
            for entry in reversed(entries):
                _pk, kind, _lead, event_id, stage, at, source, reverts = entry[:8]
                if kind == RollupDirty.Kind.ADDED:
                    before.pop(event_id, None)
                elif kind == RollupDirty.Kind.REMOVED:
                    left, team = entry[12] or "", entry[13] or ""
                    before[event_id] = (event_id, stage, at, source, reverts, left, team)
            # The territory before the changes: the first territory change's old value, or
            # the lead's territory now (an event's own log row says what the territory was
            # when it was written, which a territory change committed meanwhile outdates).
            # A deleted lead has no territory now: its events' log rows, written as they
            # were deleted (before the lead), say where it was.
            territory_now, campaign_now = dims.get(lead_id, (None, None))
            moved = [e for e in entries if e[1] == RollupDirty.Kind.TERRITORY]
            if moved:
                territory_before = moved[0][8]
            elif lead_id in dims:
                territory_before = territory_now
            else:
                territory_before = entries[-1][8]
            counted_out = [e for e in entries if e[1] == RollupDirty.Kind.LEAD_OUT]
            campaign_before = counted_out[0][9] if counted_out else campaign_now
            _lead_counts(before.values(), territory_before, campaign_before, sign=-1, counts=delta)
            _lead_counts(current, territory_now, campaign_now, counts=delta)
    _rows_add(delta)


def _rows_add(delta: dict[Key, Counter]) -> None:
    """Add `delta` to the rows (read, changed, written: one refresh runs at a time)."""
    delta = {key: c for key, c in delta.items() if any(c.values())}
    if not delta:
        return
    existing = _rows_of_days(
        StageDayRollup.objects.filter(stage__in={key[1] for key in delta}),
        {key[0] for key in delta},
        lambda row: (row.day, row.stage, row.territory_id, row.campaign_id, row.prev_day),
    )
    fields = ["entries", *(f"reached_{t}" for t in REACHED), "decided"]
    changed, created, emptied = [], [], []
    for key, counter in delta.items():
        row = existing.get(key)
        if row is None:
            if any(value < 0 for value in counter.values()):
                raise RollupsDrifted(key)
            created.append(_row(key, counter))
            continue
        row.entries += counter["entries"]
        for target in REACHED:
            setattr(row, f"reached_{target}", getattr(row, f"reached_{target}") + counter[target])
        row.decided += counter["decided"]
        # Of a row's entries, at most all reached a later stage or were decisions: past
        # that, or below zero, the rows no longer match the events.
        counts = [getattr(row, f"reached_{t}") for t in REACHED] + [row.decided]
        if any(not 0 <= n <= row.entries for n in counts):
            raise RollupsDrifted(key)
        (emptied if row.entries == 0 else changed).append(row)
    _rows_write(StageDayRollup, created, changed, emptied, fields)


def _rows_of_days(rows: Any, days: set[date], key_of: Callable[[Any], tuple]) -> dict[tuple, Any]:
    """The rollup rows of these days (of `rows`, a queryset), by their key."""
    existing = {}
    for day_chunk in _chunks(sorted(days), 500):
        for row in rows.filter(day__in=day_chunk):
            existing[key_of(row)] = row
    return existing


def _rows_write(model: Any, created: list, changed: list, emptied: list, fields: list[str]) -> None:
    """New rows inserted, changed rows' counts updated, rows left with nothing deleted."""
    model.objects.bulk_create(created, batch_size=2000)
    model.objects.bulk_update(changed, fields, batch_size=2000)
    for pk_chunk in _chunks([row.pk for row in emptied], 5000):
        model.objects.filter(pk__in=pk_chunk).delete()


def _chunks(items: list, size: int) -> Iterable[list]:
    for offset in range(0, len(items), size):
        yield items[offset : offset + size]


# --- reading -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entries:
    """Leads that entered a stage in a period, and how many of them reached each later one."""

    entered: int
    reached: dict[str, int]
    # Sales' decisions on MQLs among the period's moves into the stage (every move, not
    # only each lead's first in the period).
    decided: int = 0


_READY: ContextVar[bool | None] = ContextVar("rollups_ready", default=None)
# Inside `rollups_reading`: figures once read, for the figures after it: every stage's
# entries of a period (and territory, campaign), which a page reads for several metrics,
# and a count's values by group, whose sum is its whole (metrics.definitions).
_MEMO: ContextVar[dict[tuple, Any] | None] = ContextVar("rollups_memo", default=None)


def reading_memo() -> dict[tuple, Any] | None:
    """The figures kept for the rest of the reading (`rollups_reading`); None outside one."""
    return _MEMO.get()


def rollups_ready() -> bool:
    """Whether the rollups are exact now (refreshing them if a few changes wait); inside
    `rollups_reading`, the answer found when it began."""
    known = _READY.get()
    if known is not None:
        return known
    return rollups_refresh(limit=REFRESH_AT_READ)


@contextmanager
def rollups_reading() -> Iterator[None]:
    """Read many figures as of one moment: whether the rollups serve is decided once (a
    page, a scorecard, the API's list of metrics), not once per figure."""
    if _READY.get() is not None:
        yield
        return
    token = _READY.set(rollups_refresh(limit=REFRESH_AT_READ))
    memo = _MEMO.set({})
    try:
        yield
    finally:
        _MEMO.reset(memo)
        _READY.reset(token)


def _first_in_period(start: date) -> Q:
    """The rows of each lead's first move into their stage in a period from `start`."""
    return Q(prev_day__isnull=True) | Q(prev_day__lt=start)


def _period_rows(stage: str | None, start: date, end: date) -> Any:
    # The rows of later moves in the period count only for their decisions: the others
    # are left out before summing (a half year's read holds many re-entries).
    rows = StageDayRollup.objects.filter(
        _first_in_period(start) | Q(decided__gt=0), day__gte=start, day__lt=end
    )
    return rows if stage is None else rows.filter(stage=stage)


def _sums(start: date) -> dict[str, Sum]:
    """The entries and their reach over each lead's first move in the period (the rows
    whose previous entry was before `start`), the decisions over every move."""
    first = _first_in_period(start)
    return {
        "entries": Sum("entries", filter=first),
        **{t: Sum(f"reached_{t}", filter=first) for t in REACHED},
        "decided": Sum("decided"),
    }


def _narrowed(
    rows: Any, *, territory: int | None, campaign: int | None, source: str | None = None
) -> Any:
    """Rollup rows of one territory, campaign and source (each when given)."""
    for column, value in (("territory_id", territory), ("campaign_id", campaign),
                          ("source", source)):  # fmt: skip
        if value not in (None, ""):
            rows = rows.filter(**{column: value})
    return rows


def _entries(row: dict[str, Any]) -> Entries:
    return Entries(
        entered=row["entries"] or 0,
        reached={t: row[t] or 0 for t in REACHED},
        decided=row["decided"] or 0,
    )


def stage_entries(
    *, stage: str, start: date, end: date, territory: int | None, campaign: int | None = None
) -> Entries:
    """Leads that entered `stage` in [start, end) (of `territory` and `campaign`, or all).

    Inside `rollups_reading` every stage's are read at once, in one query, and kept for
    the rest of the reading."""
    memo = _MEMO.get()
    if memo is None:
        rows = _narrowed(_period_rows(stage, start, end), territory=territory, campaign=campaign)
        return _entries(rows.aggregate(**_sums(start)))
    key = ("entries", start, end, territory, campaign)
    if key not in memo:
        rows = _narrowed(_period_rows(None, start, end), territory=territory, campaign=campaign)
        memo[key] = {
            row["stage"]: _entries(row)
            for row in rows.order_by().values("stage").annotate(**_sums(start))
        }
    return memo[key].get(stage) or Entries(entered=0, reached=dict.fromkeys(REACHED, 0))


def stage_entries_by(
    *, by: str, stage: str, start: date, end: date, territory: int | None = None,
    campaign: int | None = None,
) -> dict[int | None, Entries]:  # fmt: skip
    """The same grouped by territory or campaign ({id or None: entries})."""
    column = LEAD_GROUPS[by]
    rows = _narrowed(_period_rows(stage, start, end), territory=territory, campaign=campaign)
    grouped = rows.order_by().values(column).annotate(**_sums(start))
    return {row[column]: _entries(row) for row in grouped}


def leads_created_count(
    *, start: date, end: date, territory: int | None = None, campaign: int | None = None,
    source: str | None = None,
) -> int:  # fmt: skip
    """Leads created in [start, end), narrowed by their territory, campaign and source."""
    rows = LeadDayRollup.objects.filter(day__gte=start, day__lt=end)
    rows = _narrowed(rows, territory=territory, campaign=campaign, source=source)
    return rows.aggregate(n=Sum("leads"))["n"] or 0


def leads_created_by(
    *, by: str, start: date, end: date, territory: int | None = None,
    campaign: int | None = None, source: str | None = None,
) -> dict[Any, int]:  # fmt: skip
    """The same grouped by territory, campaign or source ({id or source: leads}; groups
    without a lead left out)."""
    column = LEAD_GROUPS[by]
    rows = LeadDayRollup.objects.filter(day__gte=start, day__lt=end)
    rows = _narrowed(rows, territory=territory, campaign=campaign, source=source)
    grouped = rows.order_by().values(column).annotate(n=Sum("leads"))
    return {row[column]: row["n"] for row in grouped if row["n"]}


def mql_responses(
    *, start: date, end: date, hours: int, territory: int | None = None,
    campaign: int | None = None, source: str | None = None,
) -> tuple[int, int]:  # fmt: skip
    """Of the leads whose latest MQL entry fell on a day in [start, end) (narrowed by their
    territory, campaign and source), how many were followed up within `hours` whole
    hours of it, and how many there are: (within, all)."""
    rows = ResponseDayRollup.objects.filter(day__gte=start, day__lt=end)
    rows = _narrowed(rows, territory=territory, campaign=campaign, source=source)
    found = rows.aggregate(
        within=Sum("leads", filter=Q(response_hours__lte=hours)), all=Sum("leads")
    )
    return found["within"] or 0, found["all"] or 0
