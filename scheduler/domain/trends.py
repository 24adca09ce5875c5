"""Consistency over time, for the report's chart: each ritual's share of kept periods. Pure.

Per ritual, the share of its periods kept over a rolling window (four weeks, or its last
four periods when those are longer): it puts daily, weekly and monthly rituals on one 0..1
scale, where raw streak lengths would not be comparable. Beside it, the window's balance.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from scheduler.domain.report import DimensionBalance, RitualInput, build_report
from scheduler.domain.streaks import PeriodStatus, outcomes

ROLLING_DAYS = 28
ROLLING_PERIODS = 4
DAILY_SAMPLES_UP_TO = 62  # windows up to about two months get a point per day, longer ones per week


@dataclass(frozen=True, slots=True)
class ChartSeries:
    name: str
    title: str
    kept_share: tuple[float | None, ...]  # one per ChartData.days; None: nothing judged yet


@dataclass(frozen=True, slots=True)
class ChartData:
    first: date
    last: date
    days: tuple[date, ...]  # the sample days on the time axis
    series: tuple[ChartSeries, ...]
    balance: tuple[DimensionBalance, ...]
    verdict: str


def chart_data(items: Sequence[RitualInput], first: date, last: date) -> ChartData:
    """What the chart shows for the report window ``first..last``; pure."""
    report = build_report(items, first, last)
    newest = max((item.today for item in items), default=last)
    days = _sample_days(first, min(last, max(first, newest)))
    series = tuple(
        ChartSeries(item.ritual.name, item.ritual.title, _rolling_kept_share(item, days)) for item in items
    )
    return ChartData(first, last, days, series, report.balance, report.verdict)


def _sample_days(first: date, last: date) -> tuple[date, ...]:
    step = 1 if (last - first).days <= DAILY_SAMPLES_UP_TO else 7
    days = [first + timedelta(days=n) for n in range(0, (last - first).days + 1, step)]
    if days[-1] != last:
        days.append(last)
    return tuple(days)


def _rolling_kept_share(item: RitualInput, days: Sequence[date]) -> tuple[float | None, ...]:
    """Per sample day: kept / (kept + missed) over the periods whose last day is in the rolling window."""
    judged = [
        o for o in outcomes(item.history, item.today) if o.status in (PeriodStatus.KEPT, PeriodStatus.MISSED)
    ]
    if not judged:
        return tuple(None for _ in days)
    newest = judged[-1].period
    window = max(ROLLING_DAYS, ROLLING_PERIODS * (newest.end - newest.start).days)
    last_days = [o.period.end.toordinal() - 1 for o in judged]
    kept_before = [0]
    for outcome in judged:
        kept_before.append(kept_before[-1] + (outcome.status is PeriodStatus.KEPT))
    shares: list[float | None] = []
    for day in days:
        # Only closed periods: their last day is on or before the sample day (and before today).
        hi = bisect_right(last_days, min(day.toordinal(), item.today.toordinal() - 1))
        lo = bisect_right(last_days, day.toordinal() - window)
        shares.append(
            (kept_before[hi] - kept_before[lo]) / (hi - lo) if hi > lo and day <= item.today else None
        )
    return tuple(shares)
