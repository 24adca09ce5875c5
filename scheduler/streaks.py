"""The streak contract: how consistent a ritual has been, judged period by period. Pure.

Read "Streak rules" in DESIGN.md: kept / excused / missed / open periods,
forgiving streaks (skips, pauses and freezes excuse, never break), Loop Habit
Tracker's strength, effective-dated cadence versions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from scheduler.cadence import Cadence, Every, Period
from scheduler.definitions import CompleteWhen


class PeriodStatus(StrEnum):
    KEPT = "kept"
    MISSED = "missed"
    EXCUSED = "excused"
    OPEN = "open"  # the period that contains today, not kept yet
    REST = "rest"  # no due day in the period (a weekend for a weekdays-only ritual)


class Excuse(StrEnum):
    SKIP = "skip"
    PAUSE = "pause"
    FREEZE = "freeze"


@dataclass(frozen=True, slots=True)
class Done:
    """A completion as the streak maths sees it: the ritual day it counts for, and who."""

    day: date
    by: str = ""


@dataclass(frozen=True, slots=True)
class PausedSpan:
    start: date
    until: date | None = None  # inclusive; None: open-ended


@dataclass(frozen=True, slots=True)
class History:
    """Everything the contract needs to know about one ritual."""

    versions: tuple[tuple[date, Cadence], ...]  # (effective_from, cadence), oldest first
    start: date
    completions: tuple[Done, ...] = ()
    skips: tuple[date, ...] = ()
    pauses: tuple[PausedSpan, ...] = ()
    end: date | None = None
    people: tuple[str, ...] = ()
    complete_when: CompleteWhen = CompleteWhen.EITHER
    freezes_per_month: int = 0


@dataclass(frozen=True, slots=True)
class PeriodOutcome:
    period: Period
    status: PeriodStatus
    done: int  # completions that count toward the target
    target: int
    excuse: Excuse | None = None
    by_person: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StreakSummary:
    period: Every
    current_streak: int
    longest_streak: int
    completion_rate: float | None  # kept / (kept + missed) over closed periods; None before any
    strength: float  # 0..1
    at_risk: bool
    periods_until_break: int
    last_completion: date | None
    kept: int
    missed: int
    excused: int
    freezes_used: int


def outcomes(history: History, today: date) -> list[PeriodOutcome]:
    """One outcome per period from the start up to the one containing ``today``, oldest first."""
    raise NotImplementedError


def summarize(history: History, today: date) -> StreakSummary:
    raise NotImplementedError
