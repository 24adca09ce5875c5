"""Reminders: when to nudge, as opposed to the cadence, which says what counts.

Pure: given a cadence, reminder rules and a window of time, list the nudges
that fall in it. The daemon turns these into timers; streak maths never asks.
"""

from __future__ import annotations

import dataclasses
import re
from calendar import monthrange
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from functools import cache, lru_cache
from heapq import heappop, heappush, merge
from itertools import takewhile
from math import gcd
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from scheduler.domain.cadence import Cadence, is_due_day, local_instant, quote
from scheduler.domain.errors import ScheduleError

if TYPE_CHECKING:
    from dateutil.rrule import rrule


class NudgeKind(StrEnum):
    DUE = "due"  # at the ritual's time
    BEFORE = "before"  # the heads-up of remind_before
    NAG = "nag"  # nag_after, if the period is still not kept


@dataclass(frozen=True, slots=True)
class Reminders:
    at: tuple[time, ...] = ()
    remind_before: timedelta | None = None
    nag_after: timedelta | None = None
    quiet_hours: tuple[time, time] | None = None
    cron: str | None = None
    rrule: str | None = None
    catch_up_grace: timedelta = timedelta(hours=2)


@dataclass(frozen=True, slots=True, order=True)
class Nudge:
    """One planned nudge. (ritual, ``day``, ``slot``) is the occurrence key."""

    due: datetime  # aware, UTC
    day: date  # the ritual day the nudge belongs to
    # Unique within the day: "20:30", "before/20:30", "nag/20:30", "cron/09:00"; a time in the night
    # after the ritual day (before day_starts_at) counts on past 24:00: "25:15" is 01:15 the next morning.
    slot: str
    kind: NudgeKind
    # When quiet hours moved the nudge: the due time they moved it from (aware, UTC), so the daemon
    # can measure the catch-up grace from there. Not part of equality or order: the key is the same.
    intended: datetime | None = dataclasses.field(default=None, compare=False)


# --- durations and times of day ------------------------------------------------------------------

_MINUTE = timedelta(minutes=1)
# The longest duration anything takes (reminders, grace periods, settings): a year. Longer ones mean
# nothing to a household and would push planned instants off the calendar (year 10000).
LONGEST_DURATION = timedelta(days=366)
_DURATION_UNITS = (
    ("w", timedelta(weeks=1)),
    ("d", timedelta(days=1)),
    ("h", timedelta(hours=1)),
    ("m", _MINUTE),
)
_DURATION_RE = re.compile(
    r"(?:(?P<w>\d+)w)?\s*(?:(?P<d>\d+)d)?\s*(?:(?P<h>\d+)h)?\s*(?:(?P<m>\d+)m)?\s*(?:(?P<s>\d+)s)?",
    re.IGNORECASE | re.ASCII,
)
_CLOCK_RE = re.compile(r"(?P<h>\d{1,2}):(?P<m>\d{2})", re.ASCII)


def parse_duration(text: str, *, name: str = "duration") -> timedelta:
    """``90m``, ``2h``, ``1d``, ``1w``, ``1h30m``, up to LONGEST_DURATION; raise ValueError with the
    user-facing message (``name``, e.g. the key, is what the message calls a value that is too long)."""
    shown = text.strip()
    match = _DURATION_RE.fullmatch(shown)
    if not shown or match is None:
        raise ValueError(f"not a duration: {quote(shown)} (try 90m, 2h, 1d)")
    if match["s"] is not None:
        raise ValueError(f"durations are whole minutes, hours, days or weeks: {quote(shown)}")
    try:
        total = sum((int(match[unit]) * size for unit, size in _DURATION_UNITS if match[unit]), timedelta())
    except (OverflowError, ValueError):  # beyond timedelta, or more digits than int() accepts
        total = LONGEST_DURATION + _MINUTE
    if total > LONGEST_DURATION:
        raise ValueError(f"{name} must be at most {LONGEST_DURATION.days}d (a year), not {quote(shown)}")
    if total <= timedelta():
        raise ValueError(f"duration must be longer than zero: {quote(shown)}")
    return total


def format_duration(delta: timedelta) -> str:
    """The inverse of parse_duration: the canonical string, largest units first, that parses back.

    ``90m`` comes back as ``1h30m`` and ``7d`` as ``1w``, so a stored ritual reads the same everywhere.
    """
    if delta <= timedelta() or delta % _MINUTE:
        raise ValueError(f"only positive whole minutes can be written as a duration: '{delta}'")
    parts = []
    rest = delta
    for unit, size in _DURATION_UNITS:
        count, rest = divmod(rest, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


def parse_clock_time(text: str) -> time:
    """``20:30`` or ``7:05`` (24-hour, minutes); raise ValueError with the user-facing message."""
    shown = text.strip()
    match = _CLOCK_RE.fullmatch(shown)
    if match is None or int(match["h"]) > 23 or int(match["m"]) > 59:
        raise ValueError(f"not a time of day: {quote(shown)} (use HH:MM, 24-hour)")
    return time(int(match["h"]), int(match["m"]))


# --- cron -----------------------------------------------------------------------------------------

_MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_CRON_WEEKDAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


@dataclass(frozen=True, slots=True)
class _CronField:
    name: str
    low: int
    high: int
    names: dict[str, int]


_CRON_FIELDS = (
    _CronField("minute", 0, 59, {}),
    _CronField("hour", 0, 23, {}),
    _CronField("day", 1, 31, {}),
    _CronField("month", 1, 12, {name: number for number, name in enumerate(_MONTH_NAMES, start=1)}),
    _CronField("weekday", 0, 7, {name: number for number, name in enumerate(_CRON_WEEKDAY_NAMES)}),
)


@dataclass(frozen=True, slots=True)
class _Cron:
    """The allowed values of each field; weekdays are Python's (0 is Monday)."""

    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    days_restricted: bool
    weekdays_restricted: bool

    def matches_day(self, day: date) -> bool:
        """Standard cron: with both day fields restricted, either one matching is enough."""
        if day.month not in self.months:
            return False
        by_day = day.day in self.days
        by_weekday = day.weekday() in self.weekdays
        if self.days_restricted and self.weekdays_restricted:
            return by_day or by_weekday
        return (by_day or not self.days_restricted) and (by_weekday or not self.weekdays_restricted)


def _is_number(text: str) -> bool:
    """ASCII digits only: ``str.isdigit`` also accepts digits that ``int`` cannot read."""
    return text.isascii() and text.isdigit()


def _cron_value(field: _CronField, token: str) -> int:
    if token in field.names:
        return field.names[token]
    if not _is_number(token):
        kind = f"a number or {field.name} name" if field.names else "a number"
        raise ValueError(f"cron {field.name} field: {quote(token)} is not {kind}")
    value = int(token)
    if not field.low <= value <= field.high:
        raise ValueError(f"cron {field.name} field: {quote(token)} is out of range {field.low}..{field.high}")
    return value


def _cron_item(field: _CronField, item: str) -> set[int]:
    """One comma-separated item: ``*``, ``5``, ``1-5``, with an optional ``/step``."""
    body, slash, step_text = item.partition("/")
    step = 1
    if slash:
        if not _is_number(step_text) or int(step_text) < 1:
            raise ValueError(f"cron {field.name} field: {quote(item)} needs a step of 1 or more after '/'")
        step = int(step_text)
    if body == "*":
        first, last = field.low, field.high
    elif "-" in body:
        start_text, _, end_text = body.partition("-")
        first, last = _cron_value(field, start_text), _cron_value(field, end_text)
        if field.name == "weekday" and last == 0 < first:
            last = 7  # "fri-sun"
        if first > last:
            raise ValueError(f"cron {field.name} field: {quote(item)} is a range that runs backwards")
    else:
        first = _cron_value(field, body)
        last = field.high if slash else first  # "5/15" means from 5 to the end, every 15
    return set(range(first, last + 1, step))


def _parse_cron(expression: str) -> _Cron:
    """Parse a 5-field cron expression into the value sets planned_nudges walks."""
    fields = expression.lower().split()
    if len(fields) != len(_CRON_FIELDS):
        raise ValueError(f"cron needs 5 fields (minute hour day month weekday), got {len(fields)}")
    sets = []
    for field, text in zip(_CRON_FIELDS, fields, strict=True):
        values: set[int] = set()
        for item in text.split(","):
            values |= _cron_item(field, item)
        sets.append(values)
    minutes, hours, days, months, cron_weekdays = sets
    return _Cron(
        minutes=tuple(sorted(minutes)),
        hours=tuple(sorted(hours)),
        days=frozenset(days),
        months=frozenset(months),
        weekdays=frozenset((value - 1) % 7 for value in cron_weekdays),  # cron 0/7 = Sunday -> 6
        days_restricted=not fields[2].startswith("*"),
        weekdays_restricted=not fields[4].startswith("*"),
    )


def check_cron_text(expression: str) -> None:
    """Raise ValueError naming the bad field of a 5-field cron expression (the text alone)."""
    _parse_cron(expression)


def check_cron(expression: str, *, start: date | None = None) -> None:
    """``check_cron_text``, and the expression must match a day within a year of ``start``
    (2001-01-01 without one), so "0 9 30 2 *" (February 30th) is refused instead of never firing."""
    _probe_cron(_parse_cron(expression), start or _FALLBACK_START)


@lru_cache(maxsize=1024)
def _probe_cron(cron: _Cron, start: date) -> None:
    for offset in range(FIRST_WITHIN.days + 1):
        if cron.matches_day(start + timedelta(days=offset)):
            return
    raise ValueError(f"cron matches no day within a year of {_start_shown(start)}")


def _start_shown(start: date) -> str:
    if start == _FALLBACK_START:
        return f"{start} (where a ritual without 'start' begins)"
    return f"its start {start}"


# --- rrule ----------------------------------------------------------------------------------------

_RRULE_NAMES = frozenset(
    {
        "FREQ", "UNTIL", "COUNT", "INTERVAL", "WKST", "BYSETPOS", "BYMONTH", "BYMONTHDAY", "BYYEARDAY",
        "BYWEEKNO", "BYDAY", "BYWEEKDAY", "BYHOUR", "BYMINUTE", "BYSECOND", "BYEASTER",
    }
)  # fmt: skip
_RRULE_RANGES = {
    "BYMONTH": (1, 12, False),
    "BYMONTHDAY": (1, 31, True),
    "BYYEARDAY": (1, 366, True),
    "BYWEEKNO": (1, 53, True),
    "BYSETPOS": (1, 366, True),
    "BYHOUR": (0, 23, False),
    "BYMINUTE": (0, 59, False),
}
_UTC_UNTIL_RE = re.compile(r"\d{8}T\d{6}Z", re.IGNORECASE | re.ASCII)
_DATEUTIL_INVALID_RE = re.compile(r"invalid '(\w+)': (.*)")


def _rrule_parts(expression: str) -> list[tuple[str, str]]:
    """Split an RRULE into upper-case (NAME, VALUE) pairs, with the reasons a person can act on."""
    body = expression.strip()
    if "DTSTART" in body.upper():
        raise ValueError("put the start date in 'start', not in the rrule")
    if body[:6].upper() == "RRULE:":
        body = body[6:]
    if not body.strip(" ;"):
        raise ValueError("not a valid rrule: it is empty")
    if "\n" in body or "\r" in body:
        raise ValueError("not a valid rrule: write it on one line, without DTSTART, RDATE or EXDATE")
    parts: list[tuple[str, str]] = []
    for pair in filter(None, body.rstrip(" ;").split(";")):
        name, equals, value = pair.strip().partition("=")
        name, value = name.strip().upper(), value.strip().upper()
        if not equals or not name or not value:
            raise ValueError(f"not a valid rrule: {quote(pair.strip())} is not NAME=VALUE")
        if name not in _RRULE_NAMES:
            raise ValueError(f"not a valid rrule: unknown part {quote(name)}")
        if any(name == seen for seen, _ in parts):
            raise ValueError(f"not a valid rrule: {quote(name)} is given twice")
        parts.append((name, value))
    names = {name for name, _ in parts}
    if "FREQ" not in names:
        raise ValueError("not a valid rrule: it needs a FREQ (e.g. FREQ=WEEKLY)")
    if {"COUNT", "UNTIL"} <= names:
        raise ValueError("not a valid rrule: COUNT and UNTIL cannot both be set")
    for name, value in parts:
        _check_rrule_part(name, value)
    _check_month_days(dict(parts))
    return parts


def _check_month_days(parts: dict[str, str]) -> None:
    """Reject "February 30th": dateutil would search until the year 9999 for a day that never comes."""
    if "BYMONTH" not in parts or "BYMONTHDAY" not in parts:
        return
    longest = max(monthrange(2000, int(month))[1] for month in parts["BYMONTH"].split(","))
    if all(abs(int(day)) > longest for day in parts["BYMONTHDAY"].split(",")):
        raise ValueError(
            f"not a valid rrule: BYMONTH {quote(parts['BYMONTH'])} has no day {quote(parts['BYMONTHDAY'])}"
        )


def _check_rrule_part(name: str, value: str) -> None:
    if name == "FREQ" and value == "SECONDLY":
        raise ValueError("not a valid rrule: reminders repeat at most every minute, not 'SECONDLY'")
    if name in ("INTERVAL", "COUNT") and (not _is_number(value) or int(value) < 1):
        raise ValueError(f"not a valid rrule: {name} must be a whole number of 1 or more, not {quote(value)}")
    if name == "BYSECOND" and any(not _is_number(second) or int(second) for second in value.split(",")):
        raise ValueError(
            f"not a valid rrule: reminders are whole minutes, so BYSECOND can only be 0, not {quote(value)}"
        )
    if name in _RRULE_RANGES:
        low, high, signed = _RRULE_RANGES[name]
        for item in value.split(","):
            number = item[1:] if signed and item[:1] in "+-" else item
            if not _is_number(number) or not low <= int(number) <= high:
                allowed = f"{low}..{high}" + (" or negative" if signed else "")
                raise ValueError(f"not a valid rrule: {name} {quote(item)} is not in {allowed}")


# What a rule must do to be planned: fire within a year of its start. A walk without an occurrence
# ends after a bound instead of at the year 9999, where dateutil would stop by itself.
FIRST_WITHIN = timedelta(days=366)
_FALLBACK_START = date(2001, 1, 1)  # where rules of a ritual without 'start' run from
_MAX_COUNT = 10_000
_EASTER_OFFSETS = (-80, 250)  # Easter Sunday is March 22nd..April 25th: these stay in its year
_BYDAY_RE = re.compile(r"(?P<n>[+-]?\d+)?(?P<day>[A-Z]{2})|(?P<day2>[A-Z]{2})\((?P<n2>[+-]?\d+)\)")
_SIGNED_RE = re.compile(r"[+-]?\d{1,4}")
_PERIODS = {
    "YEARLY": ("year", 366),
    "MONTHLY": ("month", 31),
    "WEEKLY": ("week", 7),
    "DAILY": ("day", 1),
    "HOURLY": ("hour", 1),
    "MINUTELY": ("minute", 1),
}
# dateutil rebuilds its masks at every new month it walks into (every period of a monthly or yearly
# rule); these bound how many rebuilds may pass without an occurrence.
_PROBE_WALK = 15  # a year of months, and then some
_PLAN_WALK = 1200  # a century of months
_DATEUTIL_FAILURES = (ValueError, TypeError, IndexError, KeyError, OverflowError)


def _check_bounded(parts: dict[str, str]) -> None:
    """Refuse the forms dateutil reads but cannot follow: it would crash mid-walk (BYEASTER past its
    year, a BYDAY ordinal past the period) or walk to the year 9999 for a BYSETPOS no period holds."""
    freq = parts["FREQ"]
    if "COUNT" in parts and int(parts["COUNT"]) > _MAX_COUNT:
        count = quote(parts["COUNT"])
        raise ValueError(f"not a valid rrule: COUNT must be at most {_MAX_COUNT}, not {count}")
    low, high = _EASTER_OFFSETS
    for item in _list(parts.get("BYEASTER")):
        if not _SIGNED_RE.fullmatch(item) or not low <= int(item) <= high:
            raise ValueError(
                f"not a valid rrule: BYEASTER {quote(item)} is not in {low}..{high} "
                "(days from Easter Sunday within its year)"
            )
    most_nth = 5 if freq == "MONTHLY" or (freq == "YEARLY" and "BYMONTH" in parts) else 53
    for item in _list(parts.get("BYDAY", parts.get("BYWEEKDAY"))):
        found = _BYDAY_RE.fullmatch(item)
        nth = found and (found["n"] or found["n2"])
        if nth and freq in ("MONTHLY", "YEARLY") and not 1 <= abs(int(nth)) <= most_nth:
            period = "month" if most_nth == 5 else "year"
            raise ValueError(
                f"not a valid rrule: BYDAY {quote(item)}: a {period} has at most {most_nth} of each weekday"
            )
    period, days = _PERIODS[freq]
    if freq == "MINUTELY":
        times = 1
    elif freq == "HOURLY":
        times = len(set(_list(parts.get("BYMINUTE")))) or 1
    else:
        times = (len(set(_list(parts.get("BYHOUR")))) or 1) * (len(set(_list(parts.get("BYMINUTE")))) or 1)
    most = days * times
    for item in _list(parts.get("BYSETPOS")):
        if abs(int(item)) > most:
            plural = "time" if most == 1 else "times"
            raise ValueError(
                f"not a valid rrule: BYSETPOS {quote(item)} never matches: "
                f"FREQ={freq} makes at most {most} {plural} per {period}"
            )


def _list(value: str | None) -> list[str]:
    return [item for item in (value or "").split(",") if item]


def _build_rrule(parts: list[tuple[str, str]], dtstart: datetime, zone: tzinfo, *, walk: int) -> rrule:
    """A dateutil rrule over naive local wall times whose walk between two occurrences is bounded
    by ``walk`` mask rebuilds (see ``_walk_limited``); a UTC ``UNTIL`` is turned into local time."""
    # Imported here: only rituals with an rrule need dateutil, so most commands never load it.
    from dateutil.rrule import rrule, rrulestr

    body = []
    for name, value in parts:
        text = value
        if name == "UNTIL" and _UTC_UNTIL_RE.fullmatch(value):
            until = datetime.strptime(value[:-1] + "+0000", "%Y%m%dT%H%M%S%z").astimezone(zone)
            text = until.replace(tzinfo=None).strftime("%Y%m%dT%H%M%S")
        body.append(f"{name}={text}")
    try:
        rule = rrulestr(";".join(body), dtstart=dtstart)
    except _DATEUTIL_FAILURES as error:
        raise ValueError(f"not a valid rrule: {_dateutil_reason(error)}") from None
    if not isinstance(rule, rrule):  # pragma: no cover - a single line always reads as one rrule
        raise ValueError("not a valid rrule: give a single RRULE")
    return _walk_limited(rule, walk)


def _dateutil_reason(error: Exception) -> str:
    reason = str(error) or "a value is out of range"
    if invalid := _DATEUTIL_INVALID_RE.fullmatch(reason):
        return f"{invalid[1]} {quote(invalid[2])} is not valid"
    if not reason[:2].isupper():  # keep "RRULE ...", lower "Hour must be ..."
        return reason[:1].lower() + reason[1:]
    return reason


class _WalkTooLong(Exception):
    """dateutil walked past the allowed number of months without finding an occurrence."""


def _walk_limited(rule: rrule, walk: int) -> rrule:
    """``rule``, but its walk gives up after ``walk`` months (or yearly periods), or a month of
    minutes for an hourly or minutely rule, without an occurrence.

    dateutil walks period by period until the next occurrence or the year 9999: a rule that never
    matches would hold its caller for minutes. Nothing public bounds that walk. What dateutil does
    at every new month (every period of a monthly or yearly rule) is rebuild its masks, reading the
    rule's ``_byeaster``; an hourly or minutely rule reads ``_bysecond`` for each period's times. The
    limited rule counts those reads. tests/test_reminders.py times rules that never match, so a
    dateutil that stops reading them fails there, not on someone's server.
    """
    limited: Any = object.__new__(_walk_limited_class())
    limited.__dict__.update(vars(rule))
    limited.__dict__.update(_walk_limit=walk, _months=0, _steps=0)
    return limited  # type: ignore[no-any-return]


_STEP_LIMIT = 31 * 24 * 60  # periods of an hourly or minutely rule: a month of minutes


@cache
def _walk_limited_class() -> type:
    from dateutil.rrule import rrule

    class WalkLimited(rrule):
        @property
        def _byeaster(self) -> object:
            state = self.__dict__
            state["_months"] += 1
            if state["_months"] > state["_walk_limit"]:
                raise _WalkTooLong
            return state["_byeaster"]

        @property
        def _bysecond(self) -> object:
            state = self.__dict__
            state["_steps"] += 1
            if state["_steps"] > _STEP_LIMIT:
                raise _WalkTooLong
            return state["_bysecond"]

        def _iter(self) -> Iterator[datetime]:
            self.__dict__.update(_months=0, _steps=0)
            for occurrence in rrule._iter(self):  # type: ignore[attr-defined]
                self.__dict__.update(_months=0, _steps=0)
                yield occurrence

    return WalkLimited


def check_rrule_text(expression: str) -> None:
    """Raise ValueError when ``expression`` is not an RFC 5545 RRULE dateutil can read: the text
    alone, as a stored ritual was checked when it was saved (``check_rrule`` adds the rest)."""
    _build_rrule(_rrule_parts(expression), datetime(2001, 1, 1), UTC, walk=_PROBE_WALK)  # noqa: DTZ001


def check_rrule(expression: str, *, start: date | None = None, timezone: str = "UTC") -> None:
    """``check_rrule_text``, and a rule the planner can follow: none of the forms that crash dateutil
    or walk it to the year 9999 (``_check_bounded``), COUNT at most 10000, and a first occurrence
    within a year of ``start`` (2001-01-01 without one), found within a short walk."""
    check_rrule_text(expression)
    _check_bounded(dict(_rrule_parts(expression)))
    _probe_rrule(expression, start or _FALLBACK_START, timezone)


@lru_cache(maxsize=1024)
def _probe_rrule(expression: str, start: date, timezone: str) -> None:
    origin = datetime.combine(start, time())
    rule = _build_rrule(_rrule_parts(expression), origin, ZoneInfo(timezone), walk=_PROBE_WALK)
    try:
        first = next(iter(rule), None)
    except _WalkTooLong:
        first = None
    except _DATEUTIL_FAILURES as error:
        raise ValueError(f"not a valid rrule: it cannot be planned ({_dateutil_reason(error)})") from None
    if first is None or first - origin > FIRST_WITHIN:
        raise ValueError(f"not a valid rrule: it has no occurrence within a year of {_start_shown(start)}")


def check_schedule(cadence: Cadence, reminders: Reminders) -> None:
    """Raise ScheduleError (naming ``cron`` or ``rrule``) when the reminders' cron or rrule cannot be
    planned from the cadence's start; ``at`` times always can."""
    try:
        if reminders.cron:
            check_cron(reminders.cron, start=cadence.anchor)
    except ValueError as error:
        raise ScheduleError("cron", str(error)) from None
    try:
        if reminders.rrule:
            check_rrule(reminders.rrule, start=cadence.anchor, timezone=cadence.timezone)
    except ValueError as error:
        raise ScheduleError("rrule", str(error)) from None


# --- planning -------------------------------------------------------------------------------------


_ONE_DAY = timedelta(days=1)
# How much longer than their count of 24 hours some calendar days can be: DST gives an hour back
# (Lord Howe half of one); the most in the zone database is Kwajalein's 23 hours in 1969.
_CALENDAR_SLACK = timedelta(days=1)
# (due instant in UTC, slot, ritual day, the wall time it was planned for: naive, in the ritual's zone)
_DueTime = tuple[datetime, str, date, datetime]
# (due, intended, slot, day, kind): sorts by due time, then by the time the nudge was meant for (quiet
# hours delay nudges, they never reorder them), then slot; intended is the due time before quiet hours.
_Planned = tuple[datetime, datetime, str, date, NudgeKind]


def planned_nudges(
    cadence: Cadence, reminders: Reminders, after: datetime, until: datetime
) -> Iterator[Nudge]:
    """Nudges with ``after < due <= until``, ordered by due time (then the time meant for, then slot).

    The window and the rules are checked here, before any nudge is asked for, so bad input fails at
    the call rather than somewhere down the iteration.
    """
    for bound in (after, until):
        if bound.utcoffset() is None:
            raise ValueError(f"planning needs time-zone aware times, not '{bound.isoformat()}'")
    check_schedule(cadence, reminders)
    return _plan(cadence, reminders, after.astimezone(UTC), until.astimezone(UTC))


def _plan(cadence: Cadence, reminders: Reminders, after: datetime, until: datetime) -> Iterator[Nudge]:
    """Walk the due times in order and release each nudge once no later due time can precede it.

    Every nudge lies at or after ``due - lead`` of its due time (quiet hours only delay), so a heap
    of pending nudges streams out in order without holding a long window in memory.
    """
    if after >= until:
        return
    zone = cadence.zone
    lead = _reach(reminders.remind_before)
    lag = _reach(reminders.nag_after)
    quiet = reminders.quiet_hours
    if quiet is not None and quiet[0] == quiet[1]:
        quiet = None  # an empty stretch: nothing is quiet
    # Due times whose heads-up, nag or quiet-hours delay can land in the window, plus a day of slack.
    earliest = after - lag - (_ONE_DAY if quiet else timedelta())
    first_day = earliest.astimezone(zone).date() - _ONE_DAY
    last_day = (until + lead).astimezone(zone).date() + _ONE_DAY
    pending: list[_Planned] = []
    for due, slot, day, wall in _due_times(cadence, reminders, first_day, last_day):
        while pending and pending[0][0] < due - lead:
            yield from _in_window(heappop(pending), after, until)
        if due - lead > until:
            break
        for planned in _with_extras(zone, reminders, due, slot, day, wall):
            heappush(pending, _out_of_quiet(zone, quiet, planned))
    while pending:
        yield from _in_window(heappop(pending), after, until)


def _reach(delta: timedelta | None) -> timedelta:
    """How far from its due time a nudge ``delta`` before or after it can lie."""
    if delta is None:
        return timedelta()
    return delta + _CALENDAR_SLACK if delta.days else delta


def _in_window(planned: _Planned, after: datetime, until: datetime) -> Iterator[Nudge]:
    due, intended, slot, day, kind = planned
    if after < due <= until:
        yield Nudge(due=due, day=day, slot=slot, kind=kind, intended=intended if intended != due else None)


def _with_extras(
    zone: ZoneInfo, reminders: Reminders, due: datetime, slot: str, day: date, wall: datetime
) -> Iterator[_Planned]:
    """The DUE nudge and the heads-up and nag hanging off it; all share the DUE nudge's day."""
    yield due, due, slot, day, NudgeKind.DUE
    if reminders.remind_before:
        before = _shifted(zone, due, wall, -reminders.remind_before)
        yield before, before, f"before/{slot}", day, NudgeKind.BEFORE
    if reminders.nag_after:
        nag = _shifted(zone, due, wall, reminders.nag_after)
        yield nag, nag, f"nag/{slot}", day, NudgeKind.NAG


def _shifted(zone: ZoneInfo, due: datetime, wall: datetime, delta: timedelta) -> datetime:
    """``delta`` away from a nudge due at ``due`` (UTC), planned for the naive local ``wall``.

    Whole days (``1d``, ``1w``; ``24h`` is ``1d``) are calendar days: the same wall-clock time that
    many days away, a repeated time at its first pass and a time in a gap at the first minute after
    it, as for ``at``. What is left (hours, minutes) is elapsed time, from the actual due instant
    when there are no days, or from the wall-clock time the days land on.
    """
    sign = -1 if delta < timedelta() else 1
    size = abs(delta)
    days = size.days
    rest = size - timedelta(days=days)
    base = local_instant(zone, wall.date() + sign * timedelta(days=days), wall.time()) if days else due
    return base + sign * rest


def _out_of_quiet(zone: ZoneInfo, quiet: tuple[time, time] | None, planned: _Planned) -> _Planned:
    """Hold a nudge that falls inside the quiet hours until they end; its slot, day and intended
    time stay. The end is the first moment after the nudge whose wall clock reads it, so quiet hours
    ending in a repeated hour hold a nudge of the second pass until the second pass ends."""
    if quiet is None:
        return planned
    end = _quiet_end(zone, quiet, planned[0])
    return planned if end is None else (end, *planned[1:])


def _quiet_end(zone: ZoneInfo, quiet: tuple[time, time], instant: datetime) -> datetime | None:
    """When the quiet hours that ``instant`` lies in end (aware, UTC); None when it lies outside."""
    start, end = quiet
    local = instant.astimezone(zone)
    wall = local.time()
    if start < end:
        inside, end_day = start <= wall < end, local.date()
    elif wall >= start:  # quiet hours that wrap midnight, evening side
        inside, end_day = True, local.date() + _ONE_DAY
    else:
        inside, end_day = wall < end, local.date()
    if not inside:
        return None
    for day in (end_day, end_day + _ONE_DAY):  # the next day only if a jump of the clock skipped it
        later = [moment for moment in _passes(zone, day, end) if moment > instant]
        if later:
            return later[0]
    return None  # pragma: no cover - the wall clock reads every time of day within two days


def _passes(zone: ZoneInfo, day: date, wall: time) -> tuple[datetime, ...]:
    """Each instant the wall clock reads ``wall`` on ``day``, in order (UTC): one, two when the
    clocks go back over it, and the first minute after the gap when it is skipped."""
    naive = datetime.combine(day, wall)
    first, second = naive.replace(tzinfo=zone), naive.replace(tzinfo=zone, fold=1)
    if first.utcoffset() == second.utcoffset():  # neither skipped nor repeated: most days
        return (first.astimezone(UTC),)
    once = local_instant(zone, day, wall)
    again = second.astimezone(UTC)
    if again > once and again.astimezone(zone).replace(tzinfo=None) == naive:
        return once, again
    return (once,)


def _due_times(cadence: Cadence, reminders: Reminders, first_day: date, last_day: date) -> Iterator[_DueTime]:
    """DUE times of the local days ``first_day..last_day``, in time order."""
    sources: list[Iterator[_DueTime]] = []
    if reminders.cron:
        sources.append(_cron_times(cadence, _parse_cron(reminders.cron), first_day, last_day))
    if reminders.rrule:
        sources.append(_rrule_times(cadence, reminders.rrule, first_day, last_day))
    if reminders.at:
        sources.append(_at_times(cadence, reminders.at, first_day, last_day))
    return merge(*sources)


def _days(cadence: Cadence, first_day: date, last_day: date) -> Iterator[date]:
    """The local days of the range, none before the ritual's start."""
    if cadence.anchor is not None:
        first_day = max(first_day, cadence.anchor)
    for ordinal in range(first_day.toordinal(), last_day.toordinal() + 1):
        yield date.fromordinal(ordinal)


def _at_times(cadence: Cadence, ats: tuple[time, ...], first_day: date, last_day: date) -> Iterator[_DueTime]:
    """Each due ritual day's ``at`` times. An ``at`` before ``day_starts_at`` lies inside the ritual day:
    the night after it, on the next calendar day, with a slot past 24:00 (day D's 01:15 is "25:15")."""
    starts = cadence.day_starts_at
    distinct = {at.replace(second=0, microsecond=0, tzinfo=None) for at in ats}
    walls = sorted(distinct, key=lambda wall: (wall < starts, wall))
    if walls[-1] < starts:  # the night after the ritual day before the range falls in it
        first_day -= _ONE_DAY
    for day in _days(cadence, first_day, last_day):
        if is_due_day(cadence, day):
            for wall in walls:
                night = wall < starts
                calendar = day + _ONE_DAY if night else day
                yield (
                    local_instant(cadence.zone, calendar, wall),
                    _clock(wall, night=night),
                    day,
                    datetime.combine(calendar, wall),
                )


def _cron_times(cadence: Cadence, cron: _Cron, first_day: date, last_day: date) -> Iterator[_DueTime]:
    walls = [time(hour, minute) for hour in cron.hours for minute in cron.minutes]
    days = (day for day in _calendar_days(first_day, last_day) if cron.matches_day(day))
    yield from _distinct(cadence, "cron", ((day, wall) for day in days for wall in walls))


def _calendar_days(first_day: date, last_day: date) -> Iterator[date]:
    """Every calendar day of ``first_day..last_day``."""
    for ordinal in range(first_day.toordinal(), last_day.toordinal() + 1):
        yield date.fromordinal(ordinal)


def _rrule_times(cadence: Cadence, expression: str, first_day: date, last_day: date) -> Iterator[_DueTime]:
    """Occurrences of the rrule, read as local wall times from the ritual's start (or 2001-01-01)."""
    parts = _rrule_parts(expression)
    start = datetime.combine(cadence.anchor or _FALLBACK_START, time())
    first = datetime.combine(first_day, time())
    if first > start and "COUNT" not in dict(parts):
        parts, start = _moved_start(parts, start, first)
    rule = _build_rrule(parts, start, cadence.zone, walk=_PLAN_WALK)
    walls = ((occurrence.date(), occurrence.time().replace(second=0)) for occurrence in _walk(rule, first))
    yield from _distinct(cadence, "rrule", takewhile(lambda wall: wall[0] <= last_day, walls))


def _walk(rule: rrule, first: datetime) -> Iterator[datetime]:
    """``rule.xafter(first, inc=True)``; a walk that finds nothing for too long, or that dateutil
    cannot go on with, is a ScheduleError naming the rrule."""
    try:
        yield from rule.xafter(first, inc=True)
    except _WalkTooLong:
        reason = "planning gave up looking for its next occurrence"
    except _DATEUTIL_FAILURES as error:
        reason = f"it cannot be planned ({_dateutil_reason(error)})"
    else:
        return
    raise ScheduleError("rrule", f"not a valid rrule: {reason}")


# Parts that choose days: without any of them dateutil takes the day (and a yearly rule the month)
# from the rule's start.
_DAY_PARTS = frozenset({"BYWEEKNO", "BYYEARDAY", "BYMONTHDAY", "BYDAY", "BYWEEKDAY", "BYEASTER"})


def _moved_start(
    parts: list[tuple[str, str]], start: datetime, first: datetime
) -> tuple[list[tuple[str, str]], datetime]:
    """The same occurrences from ``first`` on, from a start on the rule's own grid just before it:
    far less walking than from a start decades back (a rule with COUNT must count from its start)."""
    named = dict(parts)
    freq, interval = named["FREQ"], int(named.get("INTERVAL", "1"))
    if step := _lattice_days(freq, interval):
        return parts, start + timedelta(days=(first - start).days // step * step)
    months = interval * (12 if freq == "YEARLY" else 1)
    passed = (first.year - start.year) * 12 + first.month - start.month
    jump = passed // months * months
    if jump <= 0:
        return parts, start
    # The day (and month) dateutil would take from the start, written out: the start moves to the
    # first of a month on the grid, and a yearly rule's month stays the start's month.
    implied = []
    if not _DAY_PARTS & named.keys():
        if freq == "YEARLY" and "BYMONTH" not in named:
            implied.append(("BYMONTH", str(start.month)))
        implied.append(("BYMONTHDAY", str(start.day)))
    years, month = divmod(start.month - 1 + jump, 12)
    return [*parts, *implied], start.replace(year=start.year + years, month=month + 1, day=1)


def _lattice_days(freq: str, interval: int) -> int:
    """The smallest whole number of days that is a multiple of the rule's step (0: no such grid)."""
    if freq == "DAILY":
        return interval
    if freq == "WEEKLY":
        return 7 * interval
    if freq == "HOURLY":
        return interval // gcd(interval, 24)
    if freq == "MINUTELY":
        return interval // gcd(interval, 24 * 60)
    return 0


def _distinct(cadence: Cadence, prefix: str, walls: Iterable[tuple[date, time]]) -> Iterator[_DueTime]:
    """Map ordered calendar wall times to instants, once per instant (a DST gap folds several into one).

    Cron and rrule pick calendar days and times; a time before ``day_starts_at`` belongs to the ritual
    day before its calendar day, and is labelled so (slot past 24:00), none before the ritual's start.
    """
    zone, starts, anchor = cadence.zone, cadence.day_starts_at, cadence.anchor
    previous = None
    for calendar, wall in walls:
        due = local_instant(zone, calendar, wall)
        if due == previous:
            continue
        previous = due
        night = wall < starts
        day = calendar - _ONE_DAY if night else calendar
        if anchor is None or day >= anchor:
            yield due, f"{prefix}/{_clock(wall, night=night)}", day, datetime.combine(calendar, wall)


def _clock(wall: time, *, night: bool = False) -> str:
    """A slot's time: ``20:30``; a time in the night after its ritual day counts on, ``25:15``."""
    return f"{wall.hour + (24 if night else 0):02d}:{wall.minute:02d}"
