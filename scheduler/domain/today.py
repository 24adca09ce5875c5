"""Where each ritual stands today: due now, this week or later, its current period, its streak. Pure.

The today page shows this; the streak contract decides it, so a ritual two people keep
together ("both") is kept only once each of them did it, as its streak counts it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from scheduler.domain.cadence import due_days, period_of
from scheduler.domain.heatmap import Cell, heatmap_cells
from scheduler.domain.streaks import History, PeriodOutcome, PeriodStatus, StreakSummary, outcomes, summarize

_WEEK = timedelta(days=7)


class Section(StrEnum):
    TODAY = "today"  # a due day is today
    WEEK = "week"  # the next due day is within the week
    LATER = "later"


@dataclass(frozen=True, slots=True)
class Standing:
    """One ritual today: when it is next due, how its current period stands, its streak."""

    section: Section
    next_due: date | None  # the next due day from today on, in this period or the next
    period: PeriodOutcome | None  # the period holding today as judged; None before the ritual starts
    summary: StreakSummary
    cells: tuple[Cell, ...] = ()  # a year of squares, when asked for

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


def standing(history: History, today: date, *, year: bool = False) -> Standing:
    """How the ritual with ``history`` stands on its ritual day ``today``."""
    ordered = sorted(history.versions, key=lambda version: version[0])
    cadence = ordered[0][1]  # the oldest version also covers the days before it
    for effective_from, version in ordered:
        if effective_from <= today:
            cadence = version
    period = period_of(cadence, today)
    following = period_of(cadence, period.end)
    upcoming = [d for d in (*due_days(cadence, period), *due_days(cadence, following)) if d >= today]
    next_due = upcoming[0] if upcoming else None
    judged = outcomes(history, today)
    current = judged[-1] if judged and today in judged[-1].period else None
    return Standing(
        section=_section(next_due, today),
        next_due=next_due,
        period=current,
        summary=summarize(history, today),
        cells=tuple(heatmap_cells(history, today)) if year else (),
    )


def _section(next_due: date | None, today: date) -> Section:
    if next_due == today:
        return Section.TODAY
    if next_due is not None and next_due - today < _WEEK:
        return Section.WEEK
    return Section.LATER
