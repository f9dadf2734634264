"""The list of benchmarks: a decorator registers a function; the runner times it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Measurement:
    """What one benchmark reports: its time, the rows it touched, free-form notes."""

    name: str
    seconds: float
    rows: int | None = None
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Benchmark:
    name: str
    func: Callable[..., list[Measurement]]
    order: int
    description: str
    default: bool = True  # False: runs only when named in BENCH


BENCHMARKS: dict[str, Benchmark] = {}


def benchmark(name: str, *, order: int = 100, default: bool = True) -> Callable:
    """Register `func(context) -> list[Measurement]`; `context` is a bench.dataset.Dataset.

    `default=False`: an opt-in benchmark (too slow for every run), run with BENCH=name.
    """

    def register(func: Callable[..., list[Measurement]]) -> Callable[..., list[Measurement]]:
        BENCHMARKS[name] = Benchmark(
            name=name,
            func=func,
            order=order,
            description=(func.__doc__ or "").strip(),
            default=default,
        )
        return func

    return register
