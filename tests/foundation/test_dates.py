"""config/dates.py: the history and planned windows every entry path holds to."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django import forms
from django.core.exceptions import ValidationError
from rest_framework import serializers

from config.dates import (
    history_moment_check,
    history_moment_validator,
    period_date_check,
    planned_date_check,
    planned_date_validator,
)

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "value",
    [
        date(1970, 1, 1),
        datetime(1970, 1, 1, tzinfo=ZoneInfo("Pacific/Kiritimati")),  # UTC+14, its midnight
        datetime(1970, 1, 1, tzinfo=ZoneInfo("America/Sao_Paulo")),
        date(2026, 3, 11),  # tomorrow: the day of slack
        NOW + timedelta(hours=23, minutes=59),
        datetime(2026, 3, 10, 9, 0),  # naive: read in the deployment's time zone
        None,
    ],
)
def test_history_takes_1970_up_to_a_day_from_now(value):
    history_moment_check(value, field="occurred_at", now=NOW)


@pytest.mark.parametrize(
    "value",
    [
        date(9999, 12, 31),
        date(1, 1, 1),
        datetime(9999, 12, 31, 23, 59, tzinfo=UTC),
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(1, 1, 1, tzinfo=ZoneInfo("Asia/Tokyo")),  # before year 1 in UTC
        date(1969, 12, 31),
        date(2026, 3, 12),
        NOW + timedelta(days=1, seconds=1),
    ],
)
def test_history_refuses_what_lies_outside_with_a_message_naming_the_window(value):
    with pytest.raises(ValidationError) as refused:
        history_moment_check(value, field="occurred_at", now=NOW)
    [message] = refused.value.message_dict["occurred_at"]
    assert "1970-01-01" in message and "2026-03-11" in message
    assert refused.value.error_dict["occurred_at"][0].code == "history_out_of_range"


def test_without_a_field_the_error_is_not_keyed():
    with pytest.raises(ValidationError) as refused:
        history_moment_check(date(9999, 12, 31), now=NOW)
    assert not hasattr(refused.value, "error_dict") and "1970-01-01" in refused.value.messages[0]


def test_plans_reach_five_years_ahead_and_not_before_1970():
    planned_date_check(date(2031, 3, 10), field="expected_close", now=NOW)
    planned_date_check(NOW + timedelta(days=365 * 5), field="next_follow_up_at", now=NOW)
    planned_date_check(date(1970, 1, 1), field="expected_close", now=NOW)
    for value in (date(2031, 3, 11), date(9999, 12, 31), date(1, 1, 1), date(1969, 12, 31)):
        with pytest.raises(ValidationError) as refused:
            planned_date_check(value, field="expected_close", now=NOW)
        [message] = refused.value.message_dict["expected_close"]
        assert "2031-03-10" in message and "five years" in message


def test_five_years_from_the_29th_of_february_is_the_28th():
    leap = datetime(2028, 2, 29, 12, 0, tzinfo=UTC)
    planned_date_check(date(2033, 2, 28), now=leap)
    with pytest.raises(ValidationError):
        planned_date_check(date(2033, 3, 1), now=leap)


def test_a_report_period_takes_the_planned_window():
    period_date_check(date(2030, 1, 1), field="end", now=NOW)
    with pytest.raises(ValidationError) as refused:
        period_date_check(date(9999, 12, 31), field="end", now=NOW)
    assert "1970-01-01" in refused.value.message_dict["end"][0]


def test_the_validators_work_on_form_and_serializer_fields():
    class Form(forms.Form):
        when = forms.DateTimeField(validators=[history_moment_validator])
        close = forms.DateField(validators=[planned_date_validator])

    form = Form({"when": "9999-12-31T10:00", "close": "0001-01-01"})
    assert not form.is_valid()
    assert "1970-01-01" in form.errors["when"][0] and "five years" in form.errors["close"][0]

    class Body(serializers.Serializer):
        when = serializers.DateTimeField(validators=[history_moment_validator])
        close = serializers.DateField(validators=[planned_date_validator])

    body = Body(data={"when": "0001-01-01T00:00:00Z", "close": "9999-12-31"})
    assert not body.is_valid()
    assert set(body.errors) == {"when", "close"}
    assert "1970-01-01" in str(body.errors["when"][0])
