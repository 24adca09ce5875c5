"""Plain, immutable records the store hands out; the rest of the house never sees ORM rows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from scheduler.cadence import Cadence
from scheduler.definitions import Ritual


class RitualSource(StrEnum):
    FILE = "file"  # owned by rituals.toml: the file wins, the CLI refuses to edit it
    CLI = "cli"  # created with `ritual add` (or the API): edited with `ritual edit`


@dataclass(frozen=True, slots=True)
class StoredRitual:
    id: int
    ritual: Ritual
    source: RitualSource
    created_at: datetime
    updated_at: datetime
    removed_at: datetime | None = None

    @property
    def name(self) -> str:
        return self.ritual.name


@dataclass(frozen=True, slots=True)
class CadenceVersion:
    """The cadence in force from ``effective_from`` (a ritual day) until the next version."""

    effective_from: date
    cadence: Cadence
    recorded_at: datetime


def cadence_in_force(versions: Sequence[CadenceVersion], day: date, fallback: Cadence) -> Cadence:
    """The cadence in force on ``day``; the oldest version also covers the days before it."""
    chosen = versions[0].cadence if versions else fallback
    for version in versions:
        if version.effective_from <= day:
            chosen = version.cadence
    return chosen


@dataclass(frozen=True, slots=True)
class CompletionRecord:
    id: int
    ritual_id: int
    day: date  # the ritual day it counts for
    at: datetime  # when it happened (aware UTC)
    period_key: str  # the period it counted for under the cadence in force when recorded
    by: str  # person, "" when not said
    note: str
    source: str  # cli, link, api, import
    occurrence: str | None  # occurrence key when recorded from a nudge; idempotency per person
    created_at: datetime


@dataclass(frozen=True, slots=True)
class SkipRecord:
    id: int
    ritual_id: int
    day: date
    reason: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class PauseRecord:
    id: int
    ritual_id: int
    start: date
    until: date | None  # inclusive; None while open-ended
    reason: str
    created_at: datetime
