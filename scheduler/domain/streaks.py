"""The streak contract: how consistent a ritual has been, judged period by period. Pure.

Read "Streak rules" in DESIGN.md: kept / excused / missed / open periods,
forgiving streaks (skips, pauses and freezes excuse, never break), Loop Habit
Tracker's strength, effective-dated cadence versions.

Where DESIGN.md is silent, this module decides:

- Versions are taken oldest first (sorted by ``effective_from``; on a tie the later one
  wins). The version in force on ``history.start`` (or the first one, if all start later)
  judges from the period that contains ``start``; every later version judges its
  cadence's periods that start on or after its ``effective_from``. An older version's
  last period is clipped to end where the next version's first period starts; a version
  whose periods would all be overtaken by a newer one judges nothing.
- The listed periods run from the period containing ``start`` to the one containing
  ``today`` (or ``end``, when the ritual ended earlier); the period containing ``end``
  is listed whole.
- Only days in ``start..end`` are ever due: a period whose due days all fall outside
  them (a weekly ``fri`` ritual that starts on a Saturday) is REST. Completions and
  skips count from ``start`` on, for the listed period that holds their day; those
  before ``start`` or after the newest listed period count for nothing.
- A period is judged in this order: no due day -> REST; ``done >= times`` -> KEPT;
  a skip on any of its days -> EXCUSED(skip); paused over all its due days ->
  EXCUSED(pause); contains ``today`` -> OPEN; a freeze token left in the month of its
  last day -> EXCUSED(freeze), oldest periods first; else MISSED.
- ``complete_when = both`` with no people listed counts every completion, like ``either``; a
  completion ``by`` ``household`` (both of you together) is each person's.
- ``periods_until_break`` counts from the newest period (0) to the first one whose miss
  would break the streak, spending the freeze tokens left in the newest period's month.
  At risk: the tokens left (0: keep the open period or lose the streak). Not at risk
  (already kept, excused, rest, no streak, or the ritual ended): 1 + the tokens left.
- ``last_completion`` is the newest completion that counted toward some listed period.
- ``strength`` is Loop Habit Tracker's decay applied to calendar periods: the closed kept and
  missed periods, and the running one once it is kept (open, it neither raises nor lowers it).
  Loop scores a sliding window of days instead, so the two differ when completions are irregular
  within weeks or months; for a daily ritual they agree.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from math import sqrt
from operator import itemgetter
from types import MappingProxyType
from typing import NamedTuple

from scheduler.domain.cadence import (
    Cadence,
    DueDay,
    Every,
    NthWeekday,
    Period,
    Weekday,
    due_days,
    period_of,
    periods,
)
from scheduler.domain.definitions import CompleteWhen
from scheduler.domain.people import HOUSEHOLD


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


class Done(NamedTuple):
    """A completion as the streak maths sees it: the ritual day it counts for, and who.

    A named tuple, not a dataclass: reports build hundreds of thousands of them
    straight from database rows (``map(Done._make, rows)``).
    """

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
    # (day, by) pairs: a Done, or the plain row tuple the store reads (same shape, no copy).
    completions: Sequence[tuple[date, str]] = ()
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


_FOREVER = date.max.toordinal()
_NOBODY: Mapping[str, int] = MappingProxyType({})
_Month = tuple[int, int]
_EVERY_WEEKDAY = frozenset(range(7))
_DAY_OF = itemgetter(0)  # a Done's day, read in C when converting a whole history
_BY_OF = itemgetter(1)
# Plain module names for the members: on Python 3.11 reading ``PeriodStatus.KEPT`` in a loop over
# thousands of periods costs several times more than the comparison itself.
_KEPT, _MISSED, _EXCUSED, _OPEN, _REST = (
    PeriodStatus.KEPT,
    PeriodStatus.MISSED,
    PeriodStatus.EXCUSED,
    PeriodStatus.OPEN,
    PeriodStatus.REST,
)


@dataclass(frozen=True, slots=True)
class _Segment:
    """The stretch one cadence version judges: its periods from ``first`` up to ``until``."""

    cadence: Cadence
    times: int  # the cadence's target, read once per period
    first: date  # a period start of ``cadence``
    until: date | None  # the next version's first period start (exclusive); None: no end
    length: int | None  # days per period when fixed (day, week); None: ask cadence (month)
    weekdays: frozenset[int] | None  # due weekdays when ``on`` names only weekdays; None: ask cadence
    every_day_due: bool  # no ``on`` (or all seven days): the hot path, no day-by-day check
    day_multiplier: float  # Loop's per-day decay for this cadence's target frequency
    due_starts: frozenset[int] | None  # weekdays a whole period can start on and hold a due day; None: ask


class _Run(NamedTuple):
    """The periods ``first..stop`` (indexes, stop exclusive) that one segment judges."""

    segment: _Segment
    first: int
    stop: int


@dataclass(frozen=True, slots=True)
class _Ledger:
    """The judged periods column by column, as day ordinals, so a summary builds no object per period."""

    starts: list[int]
    ends: list[int]  # exclusive
    segments: list[_Segment]  # the one judging each period
    runs: list[_Run]  # the same, segment by segment
    statuses: list[PeriodStatus]
    excuses: list[Excuse | None]
    done: list[int]
    slots: list[int]  # per completion, in the given order: its period's index, -1 for none (outcomes only)
    freezes_by_month: dict[_Month, int]
    last_completion: date | None


def outcomes(history: History, today: date) -> list[PeriodOutcome]:
    """One outcome per period from the start up to the one containing ``today``, oldest first."""
    ledger = _judge(history, today, with_slots=True)
    by_person: list[dict[str, int] | None] = [None] * len(ledger.starts)
    for (_day, by), index in zip(history.completions, ledger.slots, strict=True):
        if index >= 0:
            counts = by_person[index]
            if counts is None:
                counts = by_person[index] = {}
            counts[by] = counts.get(by, 0) + 1
    return [
        PeriodOutcome(
            Period(date.fromordinal(start), date.fromordinal(end)),
            status,
            done,
            segment.cadence.times,
            excuse,
            counts or _NOBODY,
        )
        for start, end, segment, status, excuse, done, counts in zip(
            ledger.starts,
            ledger.ends,
            ledger.segments,
            ledger.statuses,
            ledger.excuses,
            ledger.done,
            by_person,
            strict=True,
        )
    ]


def summarize(history: History, today: date) -> StreakSummary:
    """The numbers the reports show for one ritual on ``today``."""
    return _summary(history, _judge(history, today, with_slots=False), today)


def summarize_with_newest(history: History, today: date) -> tuple[StreakSummary, PeriodOutcome | None]:
    """``summarize`` and the newest period's outcome (``outcomes(...)[-1]``), judged in one pass:
    what the today page needs, without building an outcome for every period of the history."""
    ledger = _judge(history, today, with_slots=True)
    summary = _summary(history, ledger, today)
    if not ledger.starts:
        return summary, None
    last = len(ledger.starts) - 1
    counts: dict[str, int] = {}
    for (_day, by), index in zip(history.completions, ledger.slots, strict=True):
        if index == last:
            counts[by] = counts.get(by, 0) + 1
    newest = PeriodOutcome(
        Period(date.fromordinal(ledger.starts[last]), date.fromordinal(ledger.ends[last])),
        ledger.statuses[last],
        ledger.done[last],
        ledger.segments[last].cadence.times,
        ledger.excuses[last],
        counts or _NOBODY,
    )
    return summary, newest


def _summary(history: History, ledger: _Ledger, today: date) -> StreakSummary:
    statuses = ledger.statuses
    # Only the newest period can still be running.
    running = bool(ledger.ends) and ledger.ends[-1] > today.toordinal()
    closed = len(statuses) - running
    # Strength counts the running period once it is kept; open (or excused) it changes nothing.
    scored = closed + (running and statuses[-1] is _KEPT)
    kept_closed = statuses[:closed].count(_KEPT)
    missed = statuses.count(_MISSED)
    current = _current_streak(statuses)
    at_risk = bool(statuses) and statuses[-1] is _OPEN and current > 0
    tokens_left = _tokens_left(history, ledger)
    newest = sorted(history.versions, key=lambda version: version[0])[-1][1]
    return StreakSummary(
        period=newest.every,
        current_streak=current,
        longest_streak=_longest_streak(statuses),
        completion_rate=kept_closed / (kept_closed + missed) if kept_closed + missed else None,
        strength=_strength(ledger, scored),
        at_risk=at_risk,
        periods_until_break=tokens_left if at_risk else 1 + tokens_left,
        last_completion=ledger.last_completion,
        kept=statuses.count(_KEPT),
        missed=missed,
        excused=statuses.count(_EXCUSED),
        freezes_used=sum(ledger.freezes_by_month.values()),
    )


def _judge(history: History, today: date, *, with_slots: bool) -> _Ledger:
    segments = _segments(history)
    last = today if history.end is None else min(today, history.end)
    starts: list[int] = []
    ends: list[int] = []
    owners: list[_Segment] = []
    runs: list[_Run] = []
    if history.start <= last:
        runs = _list_periods(segments, last.toordinal(), starts, ends, owners)
    slots, done, last_completion = _count(history, starts, ends, runs, with_slots=with_slots)
    statuses, excuses, freezes = _statuses(history, today.toordinal(), starts, ends, owners, runs, done)
    return _Ledger(starts, ends, owners, runs, statuses, excuses, done, slots, freezes, last_completion)


def _segments(history: History) -> list[_Segment]:
    """Which cadence version judges which stretch of periods (see the module docstring)."""
    if not history.versions:
        raise ValueError("a ritual history needs at least one cadence version")
    versions = sorted(history.versions, key=lambda version: version[0])
    in_force = max((i for i, (since, _) in enumerate(versions) if since <= history.start), default=0)
    first_cadence = versions[in_force][1]
    firsts = [(first_cadence, period_of(first_cadence, history.start).start)]
    for since, cadence in versions[in_force + 1 :]:
        first = _first_period_from(cadence, since)
        while len(firsts) > 1 and first <= firsts[-1][1]:
            firsts.pop()  # overtaken before it judged anything
        firsts.append((cadence, first))
    untils = [first for _, first in firsts[1:]] + [None]
    return [_segment(cadence, first, until) for (cadence, first), until in zip(firsts, untils, strict=True)]


def _segment(cadence: Cadence, first: date, until: date | None) -> _Segment:
    weekdays = _due_weekdays(cadence)
    length = _fixed_length(cadence)
    return _Segment(
        cadence,
        cadence.times,
        first,
        until,
        length,
        weekdays,
        weekdays is not None and len(weekdays) == 7,
        _day_multiplier(cadence),
        _due_starts(cadence, weekdays, length),
    )


def _fixed_length(cadence: Cadence) -> int | None:
    """Days per period for daily and weekly cadences; months vary, so cadence lists those."""
    days = cadence.every.kind.fixed_days
    return None if days is None else cadence.interval * days


def _due_starts(
    cadence: Cadence, weekdays: frozenset[int] | None, length: int | None
) -> frozenset[int] | None:
    """The weekdays a whole period can start on and still hold a due day; None: only the cadence can tell.

    A whole month holds every weekday, every (clamped) day of the month and every nth weekday but a fifth.
    """
    if length is None:  # months: every calendar month holds these days
        if weekdays is not None or any(_monthly_hit(due) for due in cadence.on):
            return _EVERY_WEEKDAY
        return None
    if weekdays is None or length is None:
        return None
    return frozenset(w for w in range(7) if any((w + k) % 7 in weekdays for k in range(min(length, 7))))


def _monthly_hit(due: DueDay) -> bool:
    """Whether ``due`` falls in every calendar month."""
    return not isinstance(due, NthWeekday) or due.nth in (1, 2, 3, 4, -1)


def _first_period_from(cadence: Cadence, since: date) -> date:
    period = period_of(cadence, since)
    return period.start if period.start >= since else period.end


def _list_periods(
    segments: Sequence[_Segment], last: int, starts: list[int], ends: list[int], owners: list[_Segment]
) -> list[_Run]:
    """Append each segment's periods up to the one holding ``last``; clip the one the next overtakes."""
    runs: list[_Run] = []
    for segment in segments:
        first = segment.first.toordinal()
        if first > last:
            break
        until = _FOREVER if segment.until is None else segment.until.toordinal()
        stop = min(last, until - 1)
        begun = len(starts)
        if segment.length is not None:
            new = range(first, stop + 1, segment.length)
            starts.extend(new)
            ends.extend(range(new.start + new.step, new.stop + new.step, new.step))
        else:
            for period in periods(segment.cadence, segment.first, date.fromordinal(stop)):
                starts.append(period.start.toordinal())
                ends.append(period.end.toordinal())
        owners.extend([segment] * (len(starts) - begun))
        runs.append(_Run(segment, begun, len(starts)))
        ends[-1] = min(ends[-1], until)
    return runs


def _count(
    history: History, starts: list[int], ends: list[int], runs: Sequence[_Run], *, with_slots: bool
) -> tuple[list[int], list[int], date | None]:
    """Each completion's period (if asked), each period's count that counts, and the newest day counted."""
    n = len(starts)
    lo = history.start.toordinal()
    hi = ends[-1] if n else lo
    days = list(map(date.toordinal, map(_DAY_OF, history.completions)))
    newest = max(days, default=0)
    if not lo <= newest < hi:  # rare: a completion after the listed periods (or none counted at all)
        newest = max((day for day in days if lo <= day < hi), default=0)
    last_completion = date.fromordinal(newest) if newest > 0 else None
    both = history.complete_when is CompleteWhen.BOTH and bool(history.people)
    # Each count list has a spare last cell: a completion that counts for nothing (slot -1) lands
    # there, so the tally needs no branch; the spare is dropped after.
    if not with_slots and not both and (length := _one_length(runs)) is not None:
        # summarize's hot path: _slots' arithmetic inline, with no list of slots in between.
        first = starts[0]
        done = [0] * (n + 1)
        for day in days:
            done[(day - first) // length if lo <= day < hi else -1] += 1
        done.pop()
        return [], done, last_completion
    slots = _slots(days, lo, hi, starts, runs)
    if both:
        columns = {person: [0] * (n + 1) for person in history.people}
        for index, by in zip(slots, map(_BY_OF, history.completions), strict=True):
            if by == HOUSEHOLD:  # both of you together: everyone's part
                for each in columns.values():
                    each[index] += 1
            elif (column := columns.get(by)) is not None:
                column[index] += 1
        done = [min(counts) for counts in zip(*columns.values(), strict=True)]
    else:
        done = [0] * (n + 1)
        for index in slots:
            done[index] += 1
    done.pop()
    return slots, done, last_completion


def _slots(days: list[int], lo: int, hi: int, starts: list[int], runs: Sequence[_Run]) -> list[int]:
    """Each day's period index, -1 outside ``lo..hi`` (hi exclusive)."""
    if (length := _one_length(runs)) is not None:
        first = starts[0]
        return [(day - first) // length if lo <= day < hi else -1 for day in days]
    return [bisect_right(starts, day) - 1 if lo <= day < hi else -1 for day in days]


def _one_length(runs: Sequence[_Run]) -> int | None:
    """The period length when one fixed-length cadence judges every period: a day's index is arithmetic."""
    return runs[0].segment.length if len(runs) == 1 else None


def _statuses(
    history: History,
    today: int,
    starts: list[int],
    ends: list[int],
    owners: list[_Segment],
    runs: Sequence[_Run],
    done: list[int],
) -> tuple[list[PeriodStatus], list[Excuse | None], dict[_Month, int]]:
    """Judge each period in the module docstring's order; freeze tokens go to the oldest misses."""
    statuses, unsure = _presume(starts, runs, done)
    excuses: list[Excuse | None] = [None] * len(statuses)
    first_day = history.start.toordinal()
    due_until = _FOREVER if history.end is None else history.end.toordinal() + 1
    skipped = _skipped(history, starts, ends)
    pauses = [
        (p.start.toordinal(), _FOREVER if p.until is None else p.until.toordinal()) for p in history.pauses
    ]
    per_month = history.freezes_per_month
    freezes: dict[_Month, int] = {}
    if skipped or pauses or per_month:
        pending = [i for i, status in enumerate(statuses) if status is _MISSED]
    else:  # no excuse for a presumed miss, and only the newest period (unsure) can be open
        pending = sorted(unsure)
    # Oldest first, so freeze tokens go to the oldest misses.
    for index in pending:
        start, end, segment = starts[index], ends[index], owners[index]
        # The due days matter only for pauses, and to tell REST where _presume could not.
        due: Sequence[int] = ()
        if pauses or index in unsure:
            lo = start if start > first_day else first_day
            hi = end if end < due_until else due_until
            # The hot path (every day of a period due) builds a range, not a list.
            due = range(lo, hi) if segment.every_day_due else _due_in(segment, start, lo, hi)
            if not due:
                statuses[index] = _REST
                continue
        excuse: Excuse | None = None
        if done[index] >= segment.times:
            status = _KEPT
        elif index in skipped:
            status, excuse = _EXCUSED, Excuse.SKIP
        elif pauses and all(any(a <= day <= b for a, b in pauses) for day in due):
            status, excuse = _EXCUSED, Excuse.PAUSE
        elif end > today:
            status = _OPEN
        elif per_month and freezes.get(month := _month_of(end), 0) < per_month:
            freezes[month] = freezes.get(month, 0) + 1
            status, excuse = _EXCUSED, Excuse.FREEZE
        else:
            status = _MISSED
        statuses[index] = status
        excuses[index] = excuse
    return statuses, excuses, freezes


def _presume(starts: list[int], runs: Sequence[_Run], done: list[int]) -> tuple[list[PeriodStatus], set[int]]:
    """Judge in bulk what a glance can judge; mark the rest MISSED and return the unsure ones.

    Every period but the first and the last of each segment lies wholly inside the ritual's days
    and has its cadence's full length, so its start's weekday tells whether it holds a due day
    (REST if not) and its count whether it is KEPT; if neither, it is MISSED unless a skip, pause
    or freeze excuses it. The edge periods, and those of cadences whose due days only the cadence
    knows, are unsure: marked MISSED too, the full rule judges them.
    """
    statuses: list[PeriodStatus] = []
    unsure = {0, *(stop - 1 for _, _, stop in runs)} if runs else set()
    for segment, first, stop in runs:
        times, due_starts = segment.times, segment.due_starts
        if due_starts is None:
            statuses += [_MISSED] * (stop - first)
            unsure.update(range(first, stop))
        elif len(due_starts) == 7:
            statuses += [_KEPT if count >= times else _MISSED for count in done[first:stop]]
        else:
            statuses += [
                _REST if (start - 1) % 7 not in due_starts else _KEPT if count >= times else _MISSED
                for start, count in zip(starts[first:stop], done[first:stop], strict=True)
            ]  # ordinal 1 is a Monday
    for index in unsure:
        statuses[index] = _MISSED
    return statuses, unsure


def _skipped(history: History, starts: list[int], ends: list[int]) -> set[int]:
    lo = history.start.toordinal()
    hi = ends[-1] if ends else lo
    days = (skip.toordinal() for skip in history.skips)
    return {bisect_right(starts, day) - 1 for day in days if lo <= day < hi}


def _due_weekdays(cadence: Cadence) -> frozenset[int] | None:
    """Due weekdays when they alone decide (no ``on``: every day); None when only cadence can tell."""
    if not all(isinstance(due, Weekday) for due in cadence.on):
        return None
    return frozenset(due.weekday for due in cadence.on if isinstance(due, Weekday)) or frozenset(range(7))


def _due_in(segment: _Segment, start: int, lo: int, hi: int) -> Sequence[int]:
    """The due days (ordinals) of the period starting at ``start`` that lie in ``lo..hi`` (hi exclusive)."""
    weekdays = segment.weekdays
    if weekdays is None:
        full = period_of(segment.cadence, date.fromordinal(start))
        return [o for o in (day.toordinal() for day in due_days(segment.cadence, full)) if lo <= o < hi]
    return [day for day in range(lo, hi) if (day - 1) % 7 in weekdays]  # ordinal 1 is a Monday


def _month_of(end: int) -> _Month:
    """The calendar month of a period's last day: the month whose freeze tokens it may use."""
    last_day = date.fromordinal(end - 1)
    return last_day.year, last_day.month


def _tokens_left(history: History, ledger: _Ledger) -> int:
    if not ledger.ends:
        return history.freezes_per_month
    used = ledger.freezes_by_month.get(_month_of(ledger.ends[-1]), 0)
    return max(0, history.freezes_per_month - used)


def _current_streak(statuses: Sequence[PeriodStatus]) -> int:
    streak = 0
    for status in reversed(statuses):
        if status is _MISSED:
            break
        if status is _KEPT:
            streak += 1
    return streak


def _longest_streak(statuses: Sequence[PeriodStatus]) -> int:
    longest = run = 0
    for status in statuses:
        if status is _MISSED:
            longest = max(longest, run)
            run = 0
        elif status is _KEPT:
            run += 1
    return max(longest, run)


def _day_multiplier(cadence: Cadence) -> float:
    """Loop Habit Tracker's decay per day: a half-life of 13 / sqrt(f) days, f = target per day."""
    per_day = cadence.times / (cadence.every.kind.average_days * cadence.interval)
    return float(0.5 ** (sqrt(per_day) / 13))


def _strength(ledger: _Ledger, closed: int) -> float:
    """Exponential smoothing of min(1, done / target) over the first ``closed`` periods' kept and
    missed ones: Loop Habit Tracker's decay, applied to calendar periods."""
    score = 0.0
    for segment, first, stop in ledger.runs:
        last = min(stop, closed)
        if last <= first:
            break
        if segment.length is None:  # months: each period its own length
            stretches = [(index, index + 1) for index in range(first, last)]
        else:  # all one length but a last period clipped by the next version
            stretches = [(first, last - 1), (last - 1, last)]
        for begin, end in stretches:
            if begin < end:  # the first stretch is empty when the run has one period
                decay = segment.day_multiplier ** (ledger.ends[begin] - ledger.starts[begin])
                statuses, done = ledger.statuses[begin:end], ledger.done[begin:end]
                score = _smooth(score, decay, segment.times, statuses, done)
    return score


def _smooth(score: float, decay: float, target: int, statuses: list[PeriodStatus], done: list[int]) -> float:
    """Fold periods of one length into ``score``; a kept period's value is 1, a missed one's done / target."""
    rest = 1 - decay
    for status, count in zip(statuses, done, strict=True):
        if status is _KEPT:
            score = score * decay + rest
        elif status is _MISSED:
            score = score * decay + count / target * rest
    return score
