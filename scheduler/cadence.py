"""Cadence: which periods a ritual's streak counts and which days inside them are due.

Pure: values in, values out, no I/O and no clock. Periods are calendar periods
in the ritual's zone; a ritual day starts at ``day_starts_at`` so a talk at
00:30 can still count for the evening before.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from enum import StrEnum
from zoneinfo import ZoneInfo

WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class Every(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


@dataclass(frozen=True, slots=True)
class Weekday:
    """A day of the week; 0 is Monday. Valid for daily and weekly rituals (and monthly: every such day)."""

    weekday: int

    def __str__(self) -> str:
        return WEEKDAY_NAMES[self.weekday]


@dataclass(frozen=True, slots=True)
class NthWeekday:
    """The nth given weekday of a month (1..5), or the last one (-1): ``first sat``, ``last fri``."""

    nth: int
    weekday: int

    def __str__(self) -> str:
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class DayOfMonth:
    """A day of the month (1..31; short months clamp to their last day) or the last day (-1)."""

    day: int

    def __str__(self) -> str:
        raise NotImplementedError


DueDay = Weekday | NthWeekday | DayOfMonth


def parse_due_days(every: Every, words: Sequence[str]) -> tuple[DueDay, ...]:
    """Parse the ``on`` words of a ritual; raise ValueError with the user-facing message."""
    raise NotImplementedError


@dataclass(frozen=True, slots=True)
class Cadence:
    """What keeps a period: ``times`` completions per ``interval`` x ``every``, on the ``on`` days."""

    every: Every = Every.DAY
    interval: int = 1
    times: int = 1
    on: tuple[DueDay, ...] = ()
    timezone: str = "UTC"
    day_starts_at: time = time(0, 0)
    week_starts: int = 0
    anchor: date | None = None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True, slots=True, order=True)
class Period:
    """One calendar period of ritual days, ``start`` inclusive, ``end`` exclusive."""

    start: date
    end: date

    @property
    def key(self) -> str:
        return self.start.isoformat()

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day < self.end


def ritual_date(cadence: Cadence, instant: datetime) -> date:
    """The ritual day an aware instant counts for (local date, shifted by ``day_starts_at``)."""
    raise NotImplementedError


def period_of(cadence: Cadence, day: date) -> Period:
    """The period that contains the ritual day ``day``."""
    raise NotImplementedError


def periods(cadence: Cadence, first: date, last: date) -> Iterator[Period]:
    """Every period that overlaps the ritual days ``first..last`` (inclusive), oldest first."""
    raise NotImplementedError


def due_days(cadence: Cadence, period: Period) -> tuple[date, ...]:
    """The days of ``period`` that are due; with no ``on`` every day of the period is."""
    raise NotImplementedError


def is_due_day(cadence: Cadence, day: date) -> bool:
    raise NotImplementedError


def local_instant(zone: ZoneInfo, day: date, at: time) -> datetime:
    """The aware UTC instant of wall-clock ``at`` on ``day`` in ``zone``.

    A time repeated by a fall-back change means its first occurrence; a time
    skipped by a spring-forward gap means the first valid minute after the gap.
    """
    raise NotImplementedError


def day_start(cadence: Cadence, day: date) -> datetime:
    """The aware UTC instant at which ritual day ``day`` begins."""
    raise NotImplementedError
