"""The funnel's stage entries and conversion cohorts, kept by day (StageDayRollup).

What is kept: for each day (the deployment's time zone), stage, territory of the lead
and day of the lead's previous entry into the same stage, the number of moves into the
stage (metrics.definitions `_moves`: no revert, nothing reverted), and how many of those
the lead followed with a move into each later stage, at or after it.

That is enough for the exact figures of the stage-entry metrics and the conversion
cohorts over any period of whole days [s, e), overall or for one territory:
- leads that entered X in the period = entries on days in [s, e) whose previous entry
  into X was before s (or never): each lead's first entry in the period, counted once;
- of those, the leads that reached Y at or after their first entry in the period =
  the same rows' `reached_Y` (a lead reached Y after its first entry in the period iff
  it did after that entry).

How it is kept: database triggers (migration metrics 0005) write a RollupDirty row for
every change to a stage event and every lead that changes territory, on every path
(services, admin, bulk SQL). Keeping the rollups exact is then `rollups_refresh`: the
days those rows touch (the changed event's day, and every day the lead has events on,
whose previous-entry days and reached counts may move) are recomputed from the events,
under a lock, and the rows consumed. The worker runs it every few seconds
(`metrics.tasks.refresh_rollups`); a reader runs it too before reading, when a few
changes wait (at most REFRESH_AT_READ), so what it reads is exact at that moment. With
more waiting (a bulk import, a rebuild pending) or no rollups built yet, the metrics
read the stage events themselves (metrics.definitions): slower, never wrong.

Why triggers and a refresh rather than counters bumped by each service: the figures
depend on each lead's whole history (its previous entry, its later moves, its current
territory, reverts), which one event does not know; recomputing a day from the events
is the definition itself, so the rollups cannot drift from it, and no write path can
forget to keep them.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max, Min, Q, Sum
from django.utils import timezone

from alignment.models import StageKey
from config.dates import day_start, deployment_tz
from leads.models import Lead, StageEvent
from metrics.models import RollupDirty, RollupState, StageDayRollup

REACHED = (StageKey.MQL, StageKey.SAL, StageKey.SQL, StageKey.OPPORTUNITY, StageKey.WON)
# A reader refreshes the rollups itself when at most this many changes wait.
REFRESH_AT_READ = 2000
# Past this many waiting changes the worker rebuilds every day instead.
REBUILD_PAST = 200_000
CHUNK_DAYS = 31
LOCK_KEY = 0x6D52_4F4C  # pg_advisory_xact_lock: one refresh at a time


def _local_day(moment: datetime) -> date:
    return timezone.localtime(moment, deployment_tz()).date()


def _moves(leads: Iterable[int] | None = None, *, start: datetime | None = None,
           end: datetime | None = None) -> list[tuple[int, int, str, datetime]]:  # fmt: skip
    """(id, lead id, stage entered, moment) of the moves (metrics.definitions `_moves`)."""
    events = StageEvent.objects.all()
    if leads is not None:
        events = events.filter(lead_id__in=list(leads))
    if start is not None:
        events = events.filter(occurred_at__gte=start)
    if end is not None:
        events = events.filter(occurred_at__lt=end)
    reverted = set(
        StageEvent.objects.filter(
            reverts__isnull=False, **({"lead_id__in": list(leads)} if leads is not None else {})
        ).values_list("reverts_id", flat=True)
    )
    rows = (
        events.exclude(source=StageEvent.Source.REVERT)
        .order_by()
        .values_list("pk", "lead_id", "to_stage", "occurred_at")
    )
    return [row for row in rows if row[0] not in reverted]


def _days_rows(days: set[date]) -> list[StageDayRollup]:
    """The rollup rows of `days`, computed from the stage events."""
    if not days:
        return []
    ordered = sorted(days)
    leads: set[int] = set()
    for start_day, end_day in _ranges(ordered):
        after = day_start(end_day + timedelta(days=1)) if end_day < date.max else None
        for _pk, lead_id, _stage, _at in _moves(start=day_start(start_day), end=after):
            leads.add(lead_id)
    counts: dict[tuple, Counter] = defaultdict(Counter)
    lead_list = sorted(leads)
    for offset in range(0, len(lead_list), 5000):
        batch = lead_list[offset : offset + 5000]
        territory = dict(Lead.objects.filter(pk__in=batch).values_list("pk", "territory_id"))
        history: dict[int, list[tuple[datetime, int, str]]] = defaultdict(list)
        for pk, lead_id, stage, at in _moves(batch):
            history[lead_id].append((at, pk, stage))
        for lead_id, moves in history.items():
            _lead_rows(moves, territory.get(lead_id), days, counts)
    rows = []
    for (day, stage, territory_id, prev_day), counter in counts.items():
        rows.append(
            StageDayRollup(
                day=day,
                stage=stage,
                territory_id=territory_id,
                prev_day=prev_day,
                entries=counter["entries"],
                **{f"reached_{target}": counter[target] for target in REACHED},
            )
        )
    return rows


def _lead_rows(
    moves: list[tuple[datetime, int, str]],
    territory_id: int | None,
    days: set[date],
    counts: dict[tuple, Counter],
) -> None:
    moves.sort()
    latest: dict[str, datetime] = {}
    for at, _pk, stage in moves:
        latest[stage] = at  # the last move into each stage
    previous: dict[str, date] = {}
    for at, _pk, stage in moves:
        day = _local_day(at)
        if day in days:
            counter = counts[(day, stage, territory_id, previous.get(stage))]
            counter["entries"] += 1
            for target in REACHED:
                if target in latest and latest[target] >= at:
                    counter[target] += 1
        previous[stage] = day


def _ranges(days: list[date]) -> list[tuple[date, date]]:
    """Sorted days as runs of consecutive days, at most CHUNK_DAYS long."""
    runs: list[tuple[date, date]] = []
    for day in days:
        if (
            runs
            and day - runs[-1][1] == timedelta(days=1)
            and (day - runs[-1][0]).days < CHUNK_DAYS
        ):
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


def _days_replace(days: set[date]) -> None:
    rows = _days_rows(days)
    for start_day, end_day in _ranges(sorted(days)):
        StageDayRollup.objects.filter(day__gte=start_day, day__lte=end_day).delete()
    StageDayRollup.objects.bulk_create(rows, batch_size=2000)


def _lock(*, wait: bool = True) -> bool:
    """One refresh at a time (PostgreSQL; SQLite has one writer anyway). A reader does
    not wait for the worker's (a rebuild can take minutes): it reads the events."""
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        if wait:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])
            return True
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [LOCK_KEY])
        return bool(cursor.fetchone()[0])


def _state() -> RollupState | None:
    return RollupState.objects.order_by("pk").first()


def rollups_rebuild() -> int:
    """Recompute every day from the stage events (the `rollups_rebuild` command, and the
    worker when no rollups are built or the deployment's time zone changed). Returns the
    number of rows written."""
    with transaction.atomic():
        _lock()
        seen = list(RollupDirty.objects.values_list("pk", flat=True))
        StageDayRollup.objects.all().delete()
        bounds = StageEvent.objects.order_by().aggregate(
            first=Min("occurred_at"), last=Max("occurred_at")
        )
        written = 0
        if bounds["first"] is not None:
            day, last = _local_day(bounds["first"]), _local_day(bounds["last"])
            while day <= last:
                chunk = {day + timedelta(days=n) for n in range(CHUNK_DAYS)}
                rows = _days_rows({d for d in chunk if d <= last})
                StageDayRollup.objects.bulk_create(rows, batch_size=2000)
                written += len(rows)
                day += timedelta(days=CHUNK_DAYS)
        RollupDirty.objects.filter(pk__in=seen).delete()
        RollupState.objects.all().delete()
        RollupState.objects.create(time_zone=settings.TIME_ZONE, rebuilt_at=timezone.now())
    return written


def rollups_refresh(*, limit: int | None = None) -> bool:
    """Recompute the days the waiting changes touch; True when the rollups are exact
    now. With more than `limit` changes waiting, or no rollups built, nothing is done
    and False returned (the worker, with no limit, rebuilds)."""
    state = _state()
    if state is None or state.time_zone != settings.TIME_ZONE:
        if limit is not None:
            return False
        rollups_rebuild()
        return True
    waiting = RollupDirty.objects.order_by()
    if limit is not None and waiting[: limit + 1].count() > limit:
        return False
    if not waiting.exists():
        return True
    if limit is None and waiting[: REBUILD_PAST + 1].count() > REBUILD_PAST:
        rollups_rebuild()  # a bulk load: day by day from the events costs less
        return True
    with transaction.atomic():
        if not _lock(wait=limit is None):
            return False
        found = list(waiting.values_list("pk", "lead_id", "occurred_at"))
        if not found:
            return True
        days = {_local_day(at) for _pk, _lead, at in found if at is not None}
        leads = {lead for _pk, lead, _at in found}
        for lead_chunk in _chunks(sorted(leads), 5000):
            days |= {
                _local_day(at)
                for at in StageEvent.objects.filter(lead_id__in=lead_chunk).values_list(
                    "occurred_at", flat=True
                )
            }
        _days_replace(days)
        for pk_chunk in _chunks([pk for pk, _lead, _at in found], 5000):
            RollupDirty.objects.filter(pk__in=pk_chunk).delete()
    return True


def _chunks(items: list, size: int) -> Iterable[list]:
    for offset in range(0, len(items), size):
        yield items[offset : offset + size]


# --- reading -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entries:
    """Leads that entered a stage in a period, and how many of them reached each later one."""

    entered: int
    reached: dict[str, int]


_READY: ContextVar[bool | None] = ContextVar("rollups_ready", default=None)


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
    try:
        yield
    finally:
        _READY.reset(token)


def _period_rows(stage: str, start: date, end: date) -> Any:
    return StageDayRollup.objects.filter(
        Q(prev_day__isnull=True) | Q(prev_day__lt=start),
        stage=stage,
        day__gte=start,
        day__lt=end,
    )


_SUMS = {"entries": Sum("entries"), **{t: Sum(f"reached_{t}") for t in REACHED}}


def _entries(row: dict[str, Any]) -> Entries:
    return Entries(entered=row["entries"] or 0, reached={t: row[t] or 0 for t in REACHED})


def stage_entries(*, stage: str, start: date, end: date, territory: int | None) -> Entries:
    """Leads that entered `stage` in [start, end) (of `territory`, or all)."""
    rows = _period_rows(stage, start, end)
    if territory is not None:
        rows = rows.filter(territory_id=territory)
    return _entries(rows.aggregate(**_SUMS))


def stage_entries_by_territory(*, stage: str, start: date, end: date) -> dict[int | None, Entries]:
    """The same for every territory at once ({territory id or None: entries})."""
    rows = _period_rows(stage, start, end).order_by().values("territory_id").annotate(**_SUMS)
    return {row["territory_id"]: _entries(row) for row in rows}
