"""Where each ritual stands today: due now, this week or later, its current period, its streak. Pure.

The today page shows this; the streak contract decides it, so a ritual two people keep
together ("both") is kept only once each of them did it, as its streak counts it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import assert_never

from scheduler.domain.cadence import Cadence, Period, due_days, period_of
from scheduler.domain.definitions import CompleteWhen
from scheduler.domain.heatmap import Cell, heatmap_cells
from scheduler.domain.people import HOUSEHOLD
from scheduler.domain.streaks import (
    Excuse,
    History,
    PeriodOutcome,
    PeriodStatus,
    StreakSummary,
    summarize_with_newest,
)

_WEEK = timedelta(days=7)
_LOOKAHEAD_PERIODS = 60  # how far to look for a next due day (rest periods in between)


class Section(StrEnum):
    TODAY = "today"  # a due day is today
    WEEK = "week"  # the next due day is within the week
    LATER = "later"


class State(StrEnum):
    """The current period in one word, as the today page shows it (and colours it)."""

    KEPT = "kept"
    WAITING = "waiting"  # a "both" ritual someone has done and someone not yet
    AT_RISK = "at risk"  # open, and missing it would break a streak
    OPEN = "open"
    EXCUSED = "excused"  # skipped (or a freeze token)
    PAUSED = "paused"
    REST = "rest"  # no due day in this period
    NOT_STARTED = "not started"


@dataclass(frozen=True, slots=True)
class DayMark:
    """One of the last days of a ritual: who did it that day and whether it was skipped."""

    day: date
    by: tuple[str, ...]
    skipped: bool


@dataclass(frozen=True, slots=True)
class Standing:
    """One ritual today: when it is next due, how its current period stands, its streak."""

    section: Section
    next_due: date | None  # the next due day from today on, in this period or the next
    period: PeriodOutcome | None  # the period holding today as judged; None before the ritual starts
    summary: StreakSummary
    cells: tuple[Cell, ...] = ()  # a year of squares, when asked for
    waiting: tuple[str, ...] = ()  # of a "both" ritual: who has not done their part of this period
    following: date | None = None  # the first due day of a later period (what comes after a kept one)
    recent: tuple[DayMark, ...] = ()  # the last days, oldest first, when asked for

    @property
    def state(self) -> State:
        period = self.period
        if period is None:
            return State.NOT_STARTED
        match period.status:
            case PeriodStatus.KEPT:
                return State.KEPT
            case PeriodStatus.REST:
                return State.REST
            case PeriodStatus.EXCUSED:
                return State.PAUSED if period.excuse is Excuse.PAUSE else State.EXCUSED
            case PeriodStatus.OPEN | PeriodStatus.MISSED:
                if self.waiting and period.by_person:
                    return State.WAITING
                return State.AT_RISK if self.summary.at_risk else State.OPEN
            case _ as unreachable:
                assert_never(unreachable)

    def did(self, person: str) -> bool:
        """Whether ``person`` (or both of you together) recorded a completion in this period."""
        counts = {} if self.period is None else self.period.by_person
        return counts.get(person, 0) > 0 or counts.get(HOUSEHOLD, 0) > 0

    @property
    def kept(self) -> bool:
        return self.period is not None and self.period.status is PeriodStatus.KEPT

    @property
    def done(self) -> int:
        """Completions that count toward this period's target (for "both": once everyone did it)."""
        return 0 if self.period is None else self.period.done

    @property
    def target(self) -> int:
        return 1 if self.period is None else self.period.target


def standing(history: History, today: date, *, year: bool = False, days: int = 0) -> Standing:
    """How the ritual with ``history`` stands on its ritual day ``today``; ``year`` adds a year
    of squares, ``days`` the last days one by one (today included)."""
    ordered = sorted(history.versions, key=lambda version: version[0])
    cadence = ordered[0][1]  # the oldest version also covers the days before it
    for effective_from, version in ordered:
        if effective_from <= today:
            cadence = version
    period = period_of(cadence, today)
    next_due = _first_due(cadence, period, today)
    later = _first_due(cadence, period_of(cadence, period.end), today)
    summary, newest = summarize_with_newest(history, today)
    current = newest if newest is not None and today in newest.period else None
    return Standing(
        section=_section(next_due, today),
        next_due=next_due,
        period=current,
        summary=summary,
        cells=tuple(heatmap_cells(history, today)) if year else (),
        waiting=_waiting(history, current),
        following=later,
        recent=_recent(history, today, days) if days else (),
    )


def _first_due(cadence: Cadence, period: Period, today: date) -> date | None:
    """The first due day from ``today`` on, in ``period`` or a later one: a weekday ritual seen
    on a Saturday is due on Monday, two rest periods on."""
    for _ in range(_LOOKAHEAD_PERIODS):
        upcoming = [day for day in due_days(cadence, period) if day >= today]
        if upcoming:
            return upcoming[0]
        period = period_of(cadence, period.end)
    return None


def _waiting(history: History, current: PeriodOutcome | None) -> tuple[str, ...]:
    """Who of a "both" ritual has not reached the target in the current period yet."""
    if current is None or history.complete_when is not CompleteWhen.BOTH or not history.people:
        return ()
    together = current.by_person.get(HOUSEHOLD, 0)
    return tuple(
        person for person in history.people if current.by_person.get(person, 0) + together < current.target
    )


def _recent(history: History, today: date, days: int) -> tuple[DayMark, ...]:
    first = today - timedelta(days=days - 1)
    who: dict[date, list[str]] = {}
    for day, by in history.completions:
        if first <= day <= today:
            who.setdefault(day, []).append(by)
    skipped = {day for day in history.skips if first <= day <= today}
    return tuple(
        DayMark(day, tuple(dict.fromkeys(who.get(day, ()))), day in skipped)
        for day in (first + timedelta(days=n) for n in range(days))
        if day >= history.start
    )


def _section(next_due: date | None, today: date) -> Section:
    if next_due == today:
        return Section.TODAY
    if next_due is not None and next_due - today < _WEEK:
        return Section.WEEK
    return Section.LATER
