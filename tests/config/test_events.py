"""config.events: row-writing handlers commit or roll back with the change, a failing one
alone; enqueuing handlers run only once the change has committed."""

from __future__ import annotations

import logging
from dataclasses import FrozenInstanceError, dataclass

import pytest
from django.db import transaction

from config.events import Event, publish, subscriber
from metrics.models import Territory


@dataclass(frozen=True, kw_only=True)
class Happened(Event):
    name: str


@dataclass(frozen=True, kw_only=True)
class Broke(Event):
    name: str


@dataclass(frozen=True, kw_only=True)
class Committed(Event):
    name: str


seen_after_commit: list[str] = []


@subscriber(Happened)
def write_a_row(event: Happened) -> None:
    Territory.objects.create(name=f"handled {event.name}", code=f"h-{event.name}")


@subscriber(Broke)
def fail(event: Broke) -> None:
    Territory.objects.create(name=f"half-written {event.name}", code=f"w-{event.name}")
    raise RuntimeError("a handler bug")


@subscriber(Broke)
def still_runs(event: Broke) -> None:
    Territory.objects.create(name=f"second {event.name}", code=f"s-{event.name}")


@subscriber(Committed, on_commit=True)
def after_commit(event: Committed) -> None:
    seen_after_commit.append(event.name)


def test_events_are_typed_and_frozen():
    event = Happened(name="x")
    with pytest.raises(FrozenInstanceError):
        event.name = "y"  # type: ignore[misc]
    with pytest.raises(TypeError):
        Happened("x")  # type: ignore[misc]  # keyword-only
    with pytest.raises(TypeError):
        publish("lead moved")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        subscriber(str)(write_a_row)  # type: ignore[arg-type]


def test_subscribing_twice_registers_once(db):
    subscriber(Happened)(write_a_row)
    publish(Happened(name="once"))
    assert Territory.objects.filter(name="handled once").count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_handlers_rows_commit_with_the_change_and_vanish_with_it():
    with transaction.atomic():
        Territory.objects.create(name="the change", code="change")
        publish(Happened(name="kept"))
    assert Territory.objects.filter(name__in=["the change", "handled kept"]).count() == 2

    with pytest.raises(ValueError), transaction.atomic():
        Territory.objects.create(name="a change that fails", code="fails")
        publish(Happened(name="lost"))
        raise ValueError("the service refuses after publishing")
    assert not Territory.objects.filter(name__in=["a change that fails", "handled lost"]).exists()


@pytest.mark.django_db(transaction=True)
def test_a_failing_handler_is_rolled_back_alone_and_logged(caplog):
    with caplog.at_level(logging.ERROR, logger="config.events"), transaction.atomic():
        Territory.objects.create(name="the change", code="change")
        publish(Broke(name="b"))
    names = set(Territory.objects.values_list("name", flat=True))
    assert {"the change", "second b"} <= names
    assert "half-written b" not in names
    assert "a handler bug" in caplog.text and "fail" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_an_on_commit_handler_runs_after_commit_and_never_on_rollback():
    seen_after_commit.clear()
    with transaction.atomic():
        publish(Committed(name="committed"))
        assert seen_after_commit == []  # not while the change may still roll back
    assert seen_after_commit == ["committed"]

    with pytest.raises(ValueError), transaction.atomic():
        publish(Committed(name="rolled back"))
        raise ValueError
    assert seen_after_commit == ["committed"]

    publish(Committed(name="autocommit"))  # no transaction: at once
    assert seen_after_commit == ["committed", "autocommit"]
