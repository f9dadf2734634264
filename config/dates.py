"""The date bounds every entry path holds to: pages, the API, the importer and the services.

Two windows, one rule each, so a date a page refuses is refused by the API and the
importer with the same message:

- **history**, a moment that has happened (a lead's created and stage dates, a follow-up's
  `occurred_at`, a deal's `closed_at`, a touch's `occurred_at`, a spend date): from
  1970-01-01 to now + 1 day. The day of slack absorbs clock skew and time zones (a spend
  booked "today" in Auckland is tomorrow's date in UTC), nothing more.
- **planned**, a date planned ahead (the next follow-up, a deal's expected close, a
  campaign's start and end): from 1970-01-01 up to five years ahead.

Dates before 1970 or in year 9999 are typing slips or placeholder values from another
system; beyond the window they would also overflow date arithmetic (a period that ends
on 9999-12-31 has no next day). The `*_check` functions raise ValidationError, keyed by
`field` when one is named (services, the importer); the `*_validator` callables go on
form and serializer fields (DRF turns Django's ValidationError into a 400 field error).
Model fields carry no such validator: the window moves with the clock.

Report periods read from a query string (`start`, `end`, `week` of the metric and campaign
pages and API) go through `period_params_parse`, the one parser for them; a stored date
that should never have been (a campaign ending 9999-12-31) is moved into the window by
`period_clamp` before a period is built from it.

Days and weeks of reports are the deployment's (settings.TIME_ZONE), whoever reads them:
an ISO week runs from Monday 00:00 to the next Monday 00:00 there. `week_start_of` and
`week_bounds` are the one definition every page, API, scorecard and ledger counts with.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime, time, timedelta, tzinfo
from datetime import timezone as dt_timezone
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

EARLIEST_DAY = date(1970, 1, 1)
# The first moment that is 1970-01-01 somewhere (UTC+14): a date-only value imported as
# midnight in the deployment's time zone is inside the window whatever that zone is.
EARLIEST_MOMENT = datetime(1970, 1, 1, tzinfo=dt_timezone(timedelta(hours=14)))
HISTORY_SLACK = timedelta(days=1)
PLANNED_YEARS = 5


WEEK = timedelta(days=7)


def deployment_tz() -> tzinfo:
    """The deployment's time zone (settings.TIME_ZONE), whatever zone a reader has chosen."""
    return timezone.get_default_timezone()


def deployment_date(moment: date | datetime | None = None) -> date:
    """The deployment's calendar day of `moment` (a date is its own day); None: today."""
    if moment is None:
        moment = timezone.now()
    if isinstance(moment, datetime):
        if timezone.is_naive(moment):
            return moment.date()
        return timezone.localtime(moment, deployment_tz()).date()
    return moment


def day_start(day: date) -> datetime:
    """Midnight at the start of `day` in the deployment's time zone."""
    return datetime.combine(day, time.min, tzinfo=deployment_tz())


def week_start_of(moment: date | datetime | None = None) -> date:
    """The Monday of the ISO week holding `moment` (a day, or a moment read in the
    deployment's time zone); None: this week."""
    day = deployment_date(moment)
    return day - timedelta(days=day.weekday())


def iso_week(day: date) -> tuple[int, int]:
    """The ISO year and week number of `day` (a scoring week's name: "week 49, 2026")."""
    year, week, _weekday = day.isocalendar()
    return year, week


def week_bounds(moment: date | datetime | None = None) -> tuple[datetime, datetime]:
    """[start, end) of the ISO week holding `moment`: Monday 00:00 to the next Monday 00:00
    in the deployment's time zone, as aware datetimes."""
    monday = week_start_of(moment)
    return day_start(monday), day_start(monday + WEEK)


def _years_ahead(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February into a year without one
        return day.replace(year=day.year + years, day=28)


def history_end(*, now: datetime | None = None) -> datetime:
    """The latest moment history may record: now + 1 day."""
    return (now or timezone.now()) + HISTORY_SLACK


def planned_end(*, now: datetime | None = None) -> datetime:
    """The latest moment a plan may name: five years from now."""
    moment = timezone.localtime(now or timezone.now())
    return datetime.combine(_years_ahead(moment.date(), PLANNED_YEARS), moment.timetz())


def _inside(value: date | datetime, end: datetime) -> bool:
    """Whether value lies in [1970-01-01, end]; a date compares by days, a moment exactly."""
    try:
        if isinstance(value, datetime):
            moment = value
            if timezone.is_naive(moment):
                moment = timezone.make_aware(moment)
            return EARLIEST_MOMENT <= moment <= end
        return EARLIEST_DAY <= value <= timezone.localtime(end).date()
    except (OverflowError, ValueError):  # year 1 or 9999 shifted by a time zone
        return False


def _raise(message: str, *, field: str, code: str) -> None:
    if field:
        raise ValidationError({field: [ValidationError(message, code=code)]})
    raise ValidationError(message, code=code)


def history_moment_check(
    value: date | datetime | None, *, field: str = "", now: datetime | None = None
) -> None:
    """Refuse a moment that has happened if it lies before 1970 or over a day ahead.

    None passes (an optional field left empty). Raises ValidationError keyed by `field`
    when given.
    """
    if value is None:
        return
    end = history_end(now=now)
    if not _inside(value, end):
        message = _(
            "Enter a date between 1970-01-01 and %(end)s (a day from now): this records "
            "when something happened."
        ) % {"end": timezone.localtime(end).date().isoformat()}
        _raise(message, field=field, code="history_out_of_range")


def planned_date_check(
    value: date | datetime | None, *, field: str = "", now: datetime | None = None
) -> None:
    """Refuse a planned date before 1970 or more than five years ahead (None passes)."""
    if value is None:
        return
    end = planned_end(now=now)
    if not _inside(value, end):
        message = _(
            "Enter a date between 1970-01-01 and %(end)s: plans reach at most five years ahead."
        ) % {"end": end.date().isoformat()}
        _raise(message, field=field, code="planned_out_of_range")


def period_date_check(value: date | None, *, field: str = "", now: datetime | None = None) -> None:
    """Refuse a report period's bound outside 1970-01-01 to five years ahead (None passes)."""
    if value is None:
        return
    end = planned_end(now=now)
    if not _inside(value, end):
        message = _("Enter a date between 1970-01-01 and %(end)s.") % {
            "end": end.date().isoformat()
        }
        _raise(message, field=field, code="period_out_of_range")


def history_moment_validator(value: date | datetime | None) -> None:
    """history_moment_check as a form or serializer field validator."""
    history_moment_check(value)


def planned_date_validator(value: date | datetime | None) -> None:
    """planned_date_check as a form or serializer field validator."""
    planned_date_check(value)


def period_date_validator(value: date | None) -> None:
    """period_date_check as a form or serializer field validator."""
    period_date_check(value)


PERIOD_PARAMS = ("start", "end", "week")


def period_param_parse(raw: Any, *, field: str, now: datetime | None = None) -> date | None:
    """A report period's day from one query parameter: YYYY-MM-DD inside the period window.

    Empty (or absent) is None. Anything else raises ValidationError keyed by `field`: not a
    date ("Enter a date as YYYY-MM-DD."), or before 1970 or over five years ahead, where a
    period's next day or week would overflow date arithmetic.
    """
    text = str(raw if raw is not None else "").strip()
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:  # also "99999-01-01": Python's dates end in year 9999
        message = _("Enter a date as YYYY-MM-DD.")
        raise ValidationError({field: [ValidationError(message, code="invalid")]}) from None
    period_date_check(day, field=field, now=now)
    return day


def period_params_parse(
    params: Mapping[str, Any], *, names: Iterable[str] = PERIOD_PARAMS, now: datetime | None = None
) -> dict[str, date]:
    """The period dates among `params` (a QueryDict or a dict), by name; those not given are
    left out. One ValidationError names every bad one (a field error each)."""
    found: dict[str, date] = {}
    errors: dict[str, list[ValidationError]] = {}
    for name in names:
        try:
            day = period_param_parse(params.get(name), field=name, now=now)
        except ValidationError as exc:
            errors.update(exc.error_dict)
            continue
        if day is not None:
            found[name] = day
    if errors:
        raise ValidationError(errors)
    return found


def period_clamp(day: date, *, now: datetime | None = None) -> date:
    """`day` moved into the period window: a stored date outside it (a placeholder 9999-12-31
    from another system) still gives a period that pages and exports can compute."""
    return min(max(day, EARLIEST_DAY), planned_end(now=now).date())


class PeriodDateField(forms.DateField):
    """A page form's report-period day, read by period_param_parse like the API's: the
    date widget's YYYY-MM-DD inside the period window, else a form error (a date it cannot
    read says so in the words of Django's other date fields)."""

    def to_python(self, value: Any) -> date | None:
        if value in self.empty_values:
            return None
        if isinstance(value, datetime):
            value = value.date()
        if isinstance(value, date):
            value = value.isoformat()
        try:
            return period_param_parse(value, field="value")
        except ValidationError as exc:
            errors = exc.error_dict["value"]
            if errors[0].code == "invalid":
                raise ValidationError(self.error_messages["invalid"], code="invalid") from None
            raise ValidationError(errors) from None


def dates_collect(errors: dict[str, list[str]], check: Any, value: Any, field: str) -> None:
    """Collect config.dates' verdict on one date into a service's field errors."""
    try:
        check(value, field=field)
    except ValidationError as exc:
        errors.setdefault(field, []).extend(exc.message_dict[field])
