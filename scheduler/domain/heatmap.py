"""The heatmap's cells: a year of one ritual, period by period, for the terminal and the pages.

A daily ritual gets one cell per day; a weekly ritual one cell per week; a monthly
ritual one per month. Every cell shows the status of the period that holds it, so a
weekly ritual's kept week is kept on each of its days alike. Drawing them is the
edges' business (``scheduler.cli.heatmap``, the today page).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from scheduler.domain.cadence import Period, periods
from scheduler.domain.streaks import History, PeriodOutcome, PeriodStatus, outcomes

DEFAULT_DAYS = 365


@dataclass(frozen=True, slots=True)
class Cell:
    """One square: a ritual day (daily) or the first day of a period (weekly, monthly)."""

    day: date
    status: PeriodStatus | None  # None: before the ritual's start or after its end
    done: int = 0


def heatmap_cells(history: History, today: date, days: int = DEFAULT_DAYS) -> list[Cell]:
    """The cells of the last ``days`` ritual days up to ``today``, oldest first.

    Daily cadences get a cell per day; weekly and monthly ones a cell per period
    overlapping those days (at most ~53 weeks or 12 months for a year).
    """
    if days < 1:
        raise ValueError(f"a heatmap needs at least one day, not '{days}'")
    listed = outcomes(history, today)
    first = today - timedelta(days=days - 1)
    newest = max(history.versions, key=lambda version: version[0])[1]
    if newest.every.kind.fixed_days == 1:
        return [_cell(listed, first + timedelta(days=n), history.start) for n in range(days)]
    spans = list(periods(newest, first, today))
    fixed = newest.every.kind.fixed_days
    cap = days // fixed + 1 if fixed else max(1, round(days / newest.every.kind.average_days))
    return [_period_cell(listed, span, history.start) for span in spans[-cap:]]


def _holding(listed: Sequence[PeriodOutcome], day: date) -> PeriodOutcome | None:
    index = bisect_right([o.period.start for o in listed], day) - 1
    if index >= 0 and day < listed[index].period.end:
        return listed[index]
    return None


def _cell(listed: Sequence[PeriodOutcome], day: date, start: date) -> Cell:
    outcome = _holding(listed, day) if day >= start else None
    return Cell(day, None, 0) if outcome is None else Cell(day, outcome.status, outcome.done)


def _period_cell(listed: Sequence[PeriodOutcome], span: Period, start: date) -> Cell:
    if span.end <= start:
        return Cell(span.start, None, 0)
    outcome = _holding(listed, max(span.start, start))
    return Cell(span.start, None, 0) if outcome is None else Cell(span.start, outcome.status, outcome.done)
