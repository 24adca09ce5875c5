"""Cadence: which periods a ritual's streak counts and which days inside them are due.

Pure: values in, values out, no I/O and no clock. Periods are calendar periods
in the ritual's zone; a ritual day starts at ``day_starts_at`` so a talk at
00:30 can still count for the evening before.
"""

from __future__ import annotations

import re
from calendar import monthrange
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import assert_never
from zoneinfo import ZoneInfo

WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEKDAY_FULL_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
ORDINAL_NAMES = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth", -1: "last"}

_WEEKDAY_WORDS = {name: i for i, name in enumerate(WEEKDAY_NAMES)} | {
    name: i for i, name in enumerate(WEEKDAY_FULL_NAMES)
}
_GROUP_WORDS = {"weekdays": (0, 1, 2, 3, 4), "weekends": (5, 6)}
_ORDINAL_WORDS = {name: n for n, name in ORDINAL_NAMES.items()} | {
    "1st": 1,
    "2nd": 2,
    "3rd": 3,
    "4th": 4,
    "5th": 5,
}
_DAY_NUMBER = re.compile(r"[0-9]+")

# Where interval > 1 periods are counted from when a cadence has no anchor (2001-01-01 is a Monday).
DEFAULT_ANCHOR = date(2001, 1, 1)
_ONE_DAY = timedelta(days=1)
_QUOTE_LIMIT = 40


def quote(text: str) -> str:
    """User text as an error message shows it: in single quotes, on one line, at most 40 characters.

    Line breaks, tabs and other characters that do not print are escaped the way Python writes them
    (``\\n``, ``\\t``, ``\\x00``, ``\\u2028``), so a bad key or value can never split a one-line error.
    """
    pieces = [char if char.isprintable() else repr(char)[1:-1] for char in text]
    if sum(map(len, pieces)) <= _QUOTE_LIMIT:
        return "'" + "".join(pieces) + "'"
    shown = ""
    for piece in pieces:  # cut between characters, never inside an escape
        if len(shown) + len(piece) > _QUOTE_LIMIT - 3:
            break
        shown += piece
    return f"'{shown}...'"


class Every(StrEnum):
    """The kind of period a cadence counts. Each kind's facts are in ``PeriodKind`` below.

    Adding a kind touches this module only: a member here, its facts in ``_kind``, and its
    arithmetic in ``period_of`` (mypy's assert_never points at each ``match`` that lacks it).
    Everything else asks ``every.kind`` (tests/test_cadence.py checks every kind has its facts).
    """

    DAY = "day"
    WEEK = "week"
    MONTH = "month"

    @property
    def kind(self) -> PeriodKind:
        return _kind(self)


@dataclass(frozen=True, slots=True)
class PeriodKind:
    """What a kind of period is called and how long it lasts, for wording and the maths."""

    unit: str  # "week": "kept this week", "a 3-week streak"
    plural: str  # "weeks"
    adverb: str  # "weekly", for "weekly on fri"
    per: str  # "a week", for "2x a week"
    this: str  # "this week", for "it needs you this week"
    average_days: float  # Loop's frequency and the longest-streak comparison
    fixed_days: int | None  # days in one period, None when it varies (months)


def _kind(every: Every) -> PeriodKind:
    match every:
        case Every.DAY:
            return PeriodKind("day", "days", "daily", "a day", "today", 1.0, 1)
        case Every.WEEK:
            return PeriodKind("week", "weeks", "weekly", "a week", "this week", 7.0, 7)
        case Every.MONTH:
            return PeriodKind("month", "months", "monthly", "a month", "this month", 30.44, None)
        case _:
            assert_never(every)


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
        return f"{ORDINAL_NAMES[self.nth]} {WEEKDAY_NAMES[self.weekday]}"


@dataclass(frozen=True, slots=True)
class DayOfMonth:
    """A day of the month (1..31; short months clamp to their last day) or the last day (-1)."""

    day: int

    def __str__(self) -> str:
        return "last" if self.day == -1 else str(self.day)


DueDay = Weekday | NthWeekday | DayOfMonth


def parse_due_days(every: Every, words: Sequence[str]) -> tuple[DueDay, ...]:
    """Parse the ``on`` words of a ritual; raise ValueError with the user-facing message."""
    seen: set[DueDay] = set()
    for word in words:
        for due in _parse_due_word(every, " ".join(word.lower().split())):
            if due in seen:
                raise ValueError(f"'{due}' is listed twice")
            seen.add(due)
    return tuple(sorted(seen, key=_due_day_order))


def _parse_due_word(every: Every, word: str) -> tuple[DueDay, ...]:
    """One normalized ``on`` item: a weekday, a weekday group, a month day or ``<nth> <weekday>``."""
    if word in _WEEKDAY_WORDS:
        return (Weekday(_WEEKDAY_WORDS[word]),)
    if word in _GROUP_WORDS:
        return tuple(Weekday(w) for w in _GROUP_WORDS[word])
    if word == "last" or _DAY_NUMBER.fullmatch(word):
        day = -1 if word == "last" else int(word)
        if day != -1 and not 1 <= day <= 31:
            raise ValueError(f"day of month must be 1..31, not {quote(word)}")
        if every is not Every.MONTH:
            raise ValueError(f"{quote(word)} is a day of the month; only a monthly ritual can use it")
        return (DayOfMonth(day),)
    parts = word.split(" ")
    if len(parts) == 2 and parts[0] in _ORDINAL_WORDS:
        if parts[1] not in _WEEKDAY_WORDS:
            raise ValueError(f"unknown weekday {quote(parts[1])}")
        if every is not Every.MONTH:
            raise ValueError(f"{quote(word)} needs a monthly ritual")
        return (NthWeekday(_ORDINAL_WORDS[parts[0]], _WEEKDAY_WORDS[parts[1]]),)
    from difflib import get_close_matches  # only for a mistake: not on every command's start-up

    if get_close_matches(word, _WEEKDAY_WORDS, n=1, cutoff=0.7):
        raise ValueError(f"unknown weekday {quote(word)}")
    raise ValueError(f"unknown day {quote(word)}")


def _due_day_order(due: DueDay) -> tuple[int, int, int]:
    """Weekdays in week order, then month days ascending, then nth weekdays, then the last day."""
    if isinstance(due, Weekday):
        return (0, due.weekday, 0)
    if isinstance(due, DayOfMonth):
        return (3, 0, 0) if due.day == -1 else (1, due.day, 0)
    return (2, 6 if due.nth == -1 else due.nth, due.weekday)


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

    def __post_init__(self) -> None:
        # Caught here because a bad value would otherwise surface as a ZeroDivisionError deep in period_of.
        if self.interval < 1:
            raise ValueError(f"interval must be at least 1, not '{self.interval}'")
        if self.times < 1:
            raise ValueError(f"times must be at least 1, not '{self.times}'")
        if not 0 <= self.week_starts <= 6:
            raise ValueError(f"week_starts must be 0 (monday)..6 (sunday), not '{self.week_starts}'")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


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
    if instant.utcoffset() is None:
        raise ValueError(f"time '{instant.isoformat()}' has no time zone")
    local = instant.astimezone(cadence.zone)
    day = local.date()
    if local.time() >= cadence.day_starts_at:
        return day
    # In the second pass of a fall-back hour, the day may already have begun at the first pass of
    # day_starts_at; asking day_start keeps ritual_date and day_start in agreement.
    if local.fold and instant >= day_start(cadence, day):
        return day
    return day - _ONE_DAY


def period_of(cadence: Cadence, day: date) -> Period:
    """The period that contains the ritual day ``day``."""
    anchor = cadence.anchor or DEFAULT_ANCHOR
    n = cadence.interval
    match cadence.every:
        case Every.MONTH:
            first = _month_index(anchor) + (_month_index(day) - _month_index(anchor)) // n * n
            return Period(_month_start(first), _month_start(first + n))
        case Every.WEEK:
            origin = _week_start(anchor, cadence.week_starts).toordinal()
        case Every.DAY:
            origin = anchor.toordinal()
        case _:
            assert_never(cadence.every)
    length = n * (cadence.every.kind.fixed_days or 1)
    start = origin + (day.toordinal() - origin) // length * length
    return Period(date.fromordinal(start), date.fromordinal(start + length))


def periods(cadence: Cadence, first: date, last: date) -> Iterator[Period]:
    """Every period that overlaps the ritual days ``first..last`` (inclusive), oldest first."""
    if last < first:
        return
    period = period_of(cadence, first)
    while period.start <= last:
        yield period
        # A period's end is the start of the next one, so this steps without gaps or overlaps.
        period = period_of(cadence, period.end)


def due_days(cadence: Cadence, period: Period) -> tuple[date, ...]:
    """The days of ``period`` that are due; with no ``on`` every day of the period is."""
    start, end = period.start.toordinal(), period.end.toordinal()
    if not cadence.on:
        return tuple(date.fromordinal(o) for o in range(start, end))
    weekdays = {due.weekday for due in cadence.on if isinstance(due, Weekday)}
    found = {date.fromordinal(o) for o in range(start, end) if (o - 1) % 7 in weekdays}
    month_rules = [due for due in cadence.on if not isinstance(due, Weekday)]
    if month_rules:
        # Month rules are judged per calendar month, so walk every month the period touches.
        for month in range(_month_index(period.start), _month_index(period.end - _ONE_DAY) + 1):
            year, month_no = divmod(month, 12)
            for rule in month_rules:
                hit = _month_rule_day(rule, year, month_no + 1)
                if hit is not None and period.start <= hit < period.end:
                    found.add(hit)
    return tuple(sorted(found))


def is_due_day(cadence: Cadence, day: date) -> bool:
    """Whether ``day`` is due, judged from the day alone (no period list is built)."""
    if not cadence.on:
        return True
    return any(_rule_matches(rule, day) for rule in cadence.on)


def local_instant(zone: ZoneInfo, day: date, at: time) -> datetime:
    """The aware UTC instant of wall-clock ``at`` on ``day`` in ``zone``.

    A time repeated by a fall-back change means its first occurrence; a time
    skipped by a spring-forward gap means the first valid minute after the gap.
    """
    if at.tzinfo is not None or at.fold:
        at = at.replace(tzinfo=None, fold=0)
    local = datetime.combine(day, at, tzinfo=zone)
    instant = local.astimezone(UTC)
    # Same tzinfo: == compares wall clocks, so a time in a gap comes back changed.
    if instant.astimezone(zone) == local:
        return instant
    return _end_of_gap(zone, local.replace(tzinfo=None))


def day_start(cadence: Cadence, day: date) -> datetime:
    """The aware UTC instant at which ritual day ``day`` begins."""
    return local_instant(cadence.zone, day, cadence.day_starts_at)


def _month_index(day: date) -> int:
    return day.year * 12 + day.month - 1


def _month_start(index: int) -> date:
    year, month = divmod(index, 12)
    return date(year, month + 1, 1)


def _week_start(day: date, week_starts: int) -> date:
    return day - timedelta(days=(day.weekday() - week_starts) % 7)


def _month_rule_day(rule: NthWeekday | DayOfMonth, year: int, month: int) -> date | None:
    """The day a month rule picks in one month, or None (a 'fifth fri' in a month with four)."""
    first_weekday, length = monthrange(year, month)
    if isinstance(rule, DayOfMonth):
        return date(year, month, length if rule.day == -1 else min(rule.day, length))
    first_hit = 1 + (rule.weekday - first_weekday) % 7
    if rule.nth == -1:
        return date(year, month, first_hit + (length - first_hit) // 7 * 7)
    day = first_hit + 7 * (rule.nth - 1)
    return date(year, month, day) if day <= length else None


def _rule_matches(rule: DueDay, day: date) -> bool:
    if isinstance(rule, Weekday):
        return day.weekday() == rule.weekday
    if isinstance(rule, NthWeekday):
        if day.weekday() != rule.weekday:
            return False
        if rule.nth == -1:
            return day.day + 7 > monthrange(day.year, day.month)[1]
        return (day.day - 1) // 7 + 1 == rule.nth
    length = monthrange(day.year, day.month)[1]
    return day.day == (length if rule.day == -1 else min(rule.day, length))


def _end_of_gap(zone: ZoneInfo, wall: datetime) -> datetime:
    """The first valid minute after the spring-forward gap that swallows the wall time ``wall``.

    fold=1 reads ``wall`` with the offset after the change and fold=0 with the one before, so the
    change itself lies between the two readings; bisect the seconds in between to find it.
    """
    low = int(wall.replace(tzinfo=zone, fold=1).timestamp())  # before the change
    high = int(wall.replace(tzinfo=zone, fold=0).timestamp())  # at or after the change
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, zone).replace(tzinfo=None) > wall:
            high = middle
        else:
            low = middle
    after = datetime.fromtimestamp(high, zone)
    if after.second:
        after += timedelta(seconds=60 - after.second)
    return after.astimezone(UTC)
