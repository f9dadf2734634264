"""What the agreement services announce (config.events)."""

from __future__ import annotations

from dataclasses import dataclass

from config.events import Event


@dataclass(frozen=True, kw_only=True)
class AgreementActivated(Event):
    """A signed version became the one in force: every lead is to be rescored under it."""

    agreement_id: int
