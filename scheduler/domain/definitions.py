"""The ritual file and ritual definitions: parsing and validation, pure.

One parser serves the file, ``ritual add``/``edit`` and the store (which keeps
each ritual as the normalized table this module writes), so every path through
the house validates the same way and says what is wrong the same way.

Errors: the table parser raises ``DefinitionError(key, message)``; the file
parser turns that into one line, ``rituals.toml:14: ritual 'date-night': unknown
weekday 'fryday'`` (``ritual #3`` while a ritual has no valid name yet,
``[defaults]`` for the defaults table, nothing for file-wide problems).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from scheduler.domain.cadence import WEEKDAY_FULL_NAMES, WEEKDAY_NAMES, Cadence, Every, parse_due_days, quote
from scheduler.domain.errors import DefinitionError, RitualFileError
from scheduler.domain.reminders import (
    Reminders,
    check_cron_text,
    check_rrule_text,
    check_schedule,
    format_duration,
    parse_clock_time,
    parse_duration,
)

if TYPE_CHECKING:
    import tomllib


# A ritual (or a cadence) as the ritual file writes it: TOML keys to TOML values. Its keys are
# RITUAL_KEYS; ``ritual_from_table`` checks every value, so the type stays this loose only here.
RitualTable = dict[str, Any]


class Dimension(StrEnum):
    """The seed article's five kinds of connection, plus rituals for yourself and the rest."""

    EMOTIONAL = "emotional"
    PHYSICAL = "physical"
    INTELLECTUAL = "intellectual"
    EXPERIENTIAL = "experiential"
    SPIRITUAL = "spiritual"
    SELF = "self"
    OTHER = "other"


CONNECTION_DIMENSIONS = (
    Dimension.EMOTIONAL,
    Dimension.PHYSICAL,
    Dimension.INTELLECTUAL,
    Dimension.EXPERIENTIAL,
    Dimension.SPIRITUAL,
)


class CompleteWhen(StrEnum):
    EITHER = "either"
    BOTH = "both"


class TurnsOn(StrEnum):
    """When whose turn it is moves on: after a kept period (a skipped or missed one keeps the same
    planner), or after every period."""

    KEPT = "kept"
    PERIOD = "period"


# ``prompts = "deck"``: the deck shipped with ritual-scheduler; any other value is a deck file.
SHIPPED_DECK = "deck"


@dataclass(frozen=True, slots=True)
class Ritual:
    name: str
    title: str
    cadence: Cadence
    reminders: Reminders
    description: str = ""
    dimension: Dimension = Dimension.OTHER
    notify: tuple[str, ...] = ()
    people: tuple[str, ...] = ()
    complete_when: CompleteWhen = CompleteWhen.EITHER
    start: date | None = None
    end: date | None = None
    discreet: bool = False
    freezes_per_month: int = 0
    turns: tuple[str, ...] = ()  # whose turn to plan, in order; empty: nobody's in particular
    turns_on: TurnsOn = TurnsOn.KEPT
    prompts: str | None = None  # "deck" (the shipped one) or a deck file; None: no question
    escalate_after: timedelta | None = None
    escalate_to: tuple[str, ...] = ()  # people or tags the escalation goes to


@dataclass(frozen=True, slots=True)
class RitualFile:
    path: str
    rituals: tuple[Ritual, ...]
    lines: Mapping[str, int]  # ritual name -> line of its [[ritual]] header
    # The file's [defaults] table as written (validated), so `ritual add` can share it.
    defaults: Mapping[str, Any] = field(default_factory=dict)
    # ritual name -> the line of each key written in its [[ritual]] table
    key_lines: Mapping[str, Mapping[str, int]] = field(default_factory=dict)


# Every key of a [[ritual]] table, in the order ritual_to_table and render_ritual_toml write them.
RITUAL_KEYS = (
    "name",
    "title",
    "description",
    "dimension",
    "every",
    "interval",
    "times",
    "on",
    "at",
    "cron",
    "rrule",
    "timezone",
    "day_starts_at",
    "week_starts",
    "remind_before",
    "nag_after",
    "quiet_hours",
    "catch_up_grace",
    "notify",
    "people",
    "complete_when",
    "start",
    "end",
    "discreet",
    "freezes_per_month",
    "turns",
    "turns_on",
    "prompts",
    "escalate_after",
    "escalate_to",
)
DEFAULT_KEYS = (
    "dimension",
    "timezone",
    "day_starts_at",
    "week_starts",
    "remind_before",
    "nag_after",
    "quiet_hours",
    "catch_up_grace",
    "notify",
    "people",
    "complete_when",
    "discreet",
    "freezes_per_month",
)
CADENCE_KEYS = ("every", "interval", "times", "on", "timezone", "day_starts_at", "week_starts", "start")

DEFAULT_CATCH_UP_GRACE = timedelta(hours=2)
_SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,47}")
_SLUG_RULE = "a lowercase slug (letters, digits, '-')"
_T = TypeVar("_T")
_E = TypeVar("_E", bound=StrEnum)
_NO_NAMES: tuple[str, ...] = ()
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# start and end: far enough either way for any household, and far enough inside date's range that a
# weekly or monthly period (up to 52 of them) around a start or end never leaves the calendar.
FIRST_DATE = date(1900, 1, 1)
LAST_DATE = date(2999, 12, 31)


# --- reading one value ----------------------------------------------------------------------------
# Each reader takes (key, raw TOML value) and returns the normalized value or raises ValueError with
# the user-facing message. Type errors name the key (the value alone would not say what was expected);
# errors from the value parsers name only the value, the line already points at the key.


def _brief(value: object) -> str:
    """A short, one-line TOML-ish rendering of a value for an error message."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return quote(value)
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list):
        text = "[" + ", ".join(_brief(item) for item in value) + "]"
        return text if len(text) <= 40 else text[:36] + "...]"
    return str(value)


def _string(key: str, value: object, what: str = "a string") -> str:
    if not isinstance(value, str):
        raise ValueError(f"{key} must be {what}, not {_brief(value)}")
    return value


def _whole(low: int, high: int) -> Callable[[str, object], int]:
    def read(key: str, value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{key} must be a whole number, not {_brief(value)}")
        if not low <= value <= high:
            raise ValueError(f"{key} must be between {low} and {high}, not {value}")
        return value

    return read


# Control characters free text may not hold: all but tab, line feed and carriage return. NUL cannot
# be stored in PostgreSQL at all, and the rest would reach terminals and channels as they are.
_CONTROL_CHARACTER = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def check_text(value: str) -> str:
    """Free text (a description, a note, a reason): line breaks and tabs, no other control
    character; ValueError names the first one found."""
    if found := _CONTROL_CHARACTER.search(value):
        raise ValueError(f"control characters such as {quote(found.group())} cannot be stored")
    return value


def is_ritual_name(text: str) -> bool:
    """Whether ``text`` can name a ritual at all (a lowercase slug): anything else names none."""
    return _SLUG.fullmatch(text) is not None


def _text(key: str, value: object) -> str:
    return check_text(_string(key, value))


def _flag(key: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{key} must be true or false, not {_brief(value)}")
    return value


def _choice(options: type[_E]) -> Callable[[str, object], _E]:
    """A reader for one of a StrEnum's values: ``every must be day, week or month, not 'fortnight'``."""
    names = [str(option) for option in options]
    listed = ", ".join(names[:-1]) + " or " + names[-1]

    def read(key: str, value: object) -> _E:
        if not isinstance(value, str) or value not in names:
            raise ValueError(f"{key} must be {listed}, not {_brief(value)}")
        return options(value)

    return read


def _name(key: str, value: object) -> str:
    if not isinstance(value, str) or not _SLUG.fullmatch(value):
        raise ValueError(f"{key} must be {_SLUG_RULE}: {_brief(value)}")
    return value


def _title(key: str, value: object) -> str:
    text = _string(key, value)
    if not text.strip():
        raise ValueError(f"{key} must not be empty")
    if not text.isprintable():
        raise ValueError(f"{key} must be one line of printable text: {_brief(text)}")
    return text


def _items(key: str, value: object, what: str, *, numbers: bool = False) -> list[str]:
    """A string (comma-separated allowed) or a list of strings, as stripped, non-empty items."""
    raw: list[object] = value if isinstance(value, list) else [value]
    items: list[str] = []
    for item in raw:
        if numbers and isinstance(item, int) and not isinstance(item, bool):
            items.append(str(item))  # on = 15 or on = [1, 15]: month days written as numbers
            continue
        if not isinstance(item, str):
            raise ValueError(f"{key} must be {what}, not {_brief(value)}")
        items.extend(part.strip() for part in item.split(",") if part.strip())
    return items


def _slugs(key: str, value: object) -> tuple[str, ...]:
    """Tags and people: slugs, duplicates dropped, written order kept."""
    items = _items(key, value, "a name or a list of names")
    for item in items:
        if not _SLUG.fullmatch(item):
            raise ValueError(f"{key} entries must be lowercase slugs (letters, digits, '-'): {_brief(item)}")
    return tuple(dict.fromkeys(items))


def _on_words(key: str, value: object) -> list[str]:
    return _items(key, value, "a day or a list of days like 'mon, wed'", numbers=True)


def _clock(key: str, value: object) -> time:
    return parse_clock_time(_string(key, value, "a time like '20:30'"))


def _clocks(key: str, value: object) -> tuple[time, ...]:
    """``at``: one time or a list of them, sorted, duplicates dropped."""
    raw = value if isinstance(value, list) else [value]
    what = "a time like '20:30' or a list of them"
    return tuple(sorted({parse_clock_time(_string(key, item, what)) for item in raw}))


def _duration(key: str, value: object) -> timedelta:
    return parse_duration(_string(key, value, "a duration like '90m'"), name=key)


def _quiet_hours(key: str, value: object) -> tuple[time, time]:
    text = _string(key, value, "a time range like '22:00-07:00'")
    first, dash, second = text.partition("-")
    if not dash:
        raise ValueError(f"{key} must be a time range like '22:00-07:00', not {_brief(text)}")
    start, end = parse_clock_time(first), parse_clock_time(second)
    if start == end:
        raise ValueError(f"{key} must start and end at different times, not {_brief(text)}")
    return (start, end)


def parse_quiet_hours(text: str) -> tuple[time, time]:
    """``"22:00-07:00"``; ValueError with the user-facing message (a person's quiet hours)."""
    return _quiet_hours("quiet_hours", text)


def _cron(key: str, value: object) -> str:
    expression = _string(key, value, "a cron expression like '30 20 * * mon-fri'")
    check_cron_text(expression)
    return expression


def _rrule(key: str, value: object) -> str:
    expression = _string(key, value, "an RRULE like 'FREQ=WEEKLY;BYDAY=FR'")
    check_rrule_text(expression)
    return expression


def _timezone(key: str, value: object) -> str:
    name = _string(key, value, "a time zone like 'Europe/Berlin'")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"unknown time zone {_brief(name)}") from None
    return name


def _weekday(key: str, value: object) -> int:
    if isinstance(value, str):
        word = value.strip().lower()
        for names in (WEEKDAY_NAMES, WEEKDAY_FULL_NAMES):
            if word in names:
                return names.index(word)
    raise ValueError(f"{key} must be a weekday like 'mon', not {_brief(value)}")


def _date(key: str, value: object) -> date:
    """A TOML date or a ``YYYY-MM-DD`` string (a date-time is refused: the day is what counts),
    from FIRST_DATE to LAST_DATE."""
    day = value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value.strip()):
        with contextlib.suppress(ValueError):  # 2026-02-30: said below like any other non-date
            day = date.fromisoformat(value.strip())
    if not isinstance(day, date) or isinstance(day, datetime):
        raise ValueError(f"{key} must be a date like 2026-01-31, not {_brief(value)}")
    if not FIRST_DATE <= day <= LAST_DATE:
        raise ValueError(f"{key} must be from {FIRST_DATE} to {LAST_DATE}, not {day}")
    return day


def _prompts(key: str, value: object) -> str:
    text = _string(key, value, "'deck' or the path of a deck file").strip()
    if not text:
        raise ValueError(f"{key} must be 'deck' or the path of a deck file, not an empty string")
    return text


_READERS: dict[str, Callable[[str, object], object]] = {
    "name": _name,
    "title": _title,
    "description": _text,
    "dimension": _choice(Dimension),
    "every": _choice(Every),
    "interval": _whole(1, 52),
    "times": _whole(1, 100),
    "on": _on_words,
    "at": _clocks,
    "cron": _cron,
    "rrule": _rrule,
    "timezone": _timezone,
    "day_starts_at": _clock,
    "week_starts": _weekday,
    "remind_before": _duration,
    "nag_after": _duration,
    "quiet_hours": _quiet_hours,
    "catch_up_grace": _duration,
    "notify": _slugs,
    "people": _slugs,
    "complete_when": _choice(CompleteWhen),
    "start": _date,
    "end": _date,
    "discreet": _flag,
    "freezes_per_month": _whole(0, 31),
    "turns": _slugs,
    "turns_on": _choice(TurnsOn),
    "prompts": _prompts,
    "escalate_after": _duration,
    "escalate_to": _slugs,
}


def _read(values: Mapping[str, Any], key: str, reader: Callable[[str, object], _T], default: _T) -> _T:
    """The validated value of ``key``, or ``default`` when absent; ValueError becomes DefinitionError."""
    if key not in values:
        return default
    try:
        return reader(key, values[key])
    except ValueError as exc:
        raise DefinitionError(key, str(exc)) from None


def _check_keys(table: Mapping[str, Any], allowed: tuple[str, ...], *, in_defaults: bool = False) -> None:
    for key in table:
        if key in allowed:
            continue
        if in_defaults and key in RITUAL_KEYS:
            raise DefinitionError(key, f"key {quote(key)} belongs in each [[ritual]], not in [defaults]")
        import difflib  # only for a mistake: not on every command's start-up

        close = difflib.get_close_matches(key, allowed, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise DefinitionError(key, f"unknown key {quote(key)}{hint}")


def check_defaults(defaults: Mapping[str, Any]) -> None:
    """Validate a ``[defaults]`` table on its own, so its mistakes are reported once, at its lines."""
    _check_keys(defaults, DEFAULT_KEYS, in_defaults=True)
    for key in defaults:
        _read(defaults, key, _READERS[key], None)


# --- tables -> values -----------------------------------------------------------------------------


def _cadence(values: Mapping[str, Any], fallback_timezone: str) -> Cadence:
    every = _read(values, "every", _choice(Every), Every.DAY)
    no_words: list[str] = []
    words = _read(values, "on", _on_words, no_words)
    try:
        on = parse_due_days(every, words)
    except ValueError as exc:
        raise DefinitionError("on", str(exc)) from None
    return Cadence(
        every=every,
        interval=_read(values, "interval", _whole(1, 52), 1),
        times=_read(values, "times", _whole(1, 100), 1),
        on=on,
        timezone=_read(values, "timezone", _timezone, fallback_timezone),
        day_starts_at=_read(values, "day_starts_at", _clock, time(0, 0)),
        week_starts=_read(values, "week_starts", _weekday, 0),
        anchor=_read(values, "start", _date, None),
    )


def _reminders(values: Mapping[str, Any]) -> Reminders:
    reminders = Reminders(
        at=_read(values, "at", _clocks, ()),
        remind_before=_read(values, "remind_before", _duration, None),
        nag_after=_read(values, "nag_after", _duration, None),
        quiet_hours=_read(values, "quiet_hours", _quiet_hours, None),
        cron=_read(values, "cron", _cron, None),
        rrule=_read(values, "rrule", _rrule, None),
        catch_up_grace=_read(values, "catch_up_grace", _duration, DEFAULT_CATCH_UP_GRACE),
    )
    if reminders.cron is not None and reminders.rrule is not None:
        raise DefinitionError("rrule", "rrule cannot be combined with cron; use one of them")
    for key, expression in (("cron", reminders.cron), ("rrule", reminders.rrule)):
        if expression is not None and reminders.at:
            raise DefinitionError(key, f"{key} cannot be combined with at ({key} sets its own times)")
    return reminders


def default_title(name: str) -> str:
    """``date-night`` -> ``Date night``: what a ritual without a title is called."""
    words = name.replace("-", " ")
    return words[:1].upper() + words[1:]


def ritual_from_table(
    table: Mapping[str, Any],
    defaults: Mapping[str, Any] | None = None,
    *,
    fallback_timezone: str = "UTC",
    stored: bool = False,
) -> Ritual:
    """Validate one ``[[ritual]]`` table (defaults applied first); raise DefinitionError(key, msg).

    ``stored`` reads a table the store kept, valid when it was saved, without the rules added
    since, which would make the ritual (and every list holding it) unreadable: a cron or rrule
    the planner's checks (``check_schedule``) refuse is reported and skipped where it is
    planned; a control character in a description is kept, as an older version stored it.
    """
    defaults = defaults or {}
    _check_keys(defaults, DEFAULT_KEYS, in_defaults=True)
    _check_keys(table, RITUAL_KEYS)
    values = {**defaults, **table}
    if "name" not in values:
        raise DefinitionError("name", "name is required")
    # Read in the order the keys are documented, so the first mistake reported is the first one read.
    name = _read(values, "name", _name, "")
    title = _read(values, "title", _title, default_title(name))
    description = _read(values, "description", _string if stored else _text, "")
    dimension = _read(values, "dimension", _choice(Dimension), Dimension.OTHER)
    cadence = _cadence(values, fallback_timezone)
    reminders = _reminders(values)
    if not stored:
        check_schedule(cadence, reminders)  # a ScheduleError names "cron" or "rrule"
    notify = _read(values, "notify", _slugs, _NO_NAMES)
    people = _read(values, "people", _slugs, _NO_NAMES)
    complete_when = _read(values, "complete_when", _choice(CompleteWhen), CompleteWhen.EITHER)
    start = cadence.anchor
    end = _read(values, "end", _date, None)
    discreet = _read(values, "discreet", _flag, False)
    freezes = _read(values, "freezes_per_month", _whole(0, 31), 0)
    turns = _read(values, "turns", _slugs, _NO_NAMES)
    turns_on = _read(values, "turns_on", _choice(TurnsOn), TurnsOn.KEPT)
    prompts = _read(values, "prompts", _prompts, None)
    escalate_after = _read(values, "escalate_after", _duration, None)
    escalate_to = _read(values, "escalate_to", _slugs, _NO_NAMES)
    if turns and len(turns) < 2:
        raise DefinitionError("turns", "turns needs at least two people to take turns")
    if "turns_on" in values and not turns:
        raise DefinitionError("turns_on", "turns_on needs turns = [...] (who takes turns)")
    if people and (stranger := next((who for who in turns if who not in people), None)):
        raise DefinitionError("turns", f"turns names '{stranger}', who is not in people")
    if bool(escalate_after) != bool(escalate_to):
        key = "escalate_to" if escalate_after else "escalate_after"
        raise DefinitionError(key, "escalate_after and escalate_to go together: set both")
    if complete_when is CompleteWhen.BOTH and len(people) < 2:
        raise DefinitionError("complete_when", "complete_when = 'both' needs at least two people")
    if start is not None and end is not None and end < start:
        raise DefinitionError("end", f"end {end.isoformat()} is before start {start.isoformat()}")
    return Ritual(
        name=name,
        title=title,
        cadence=cadence,
        reminders=reminders,
        description=description,
        dimension=dimension,
        notify=notify,
        people=people,
        complete_when=complete_when,
        start=start,
        end=end,
        discreet=discreet,
        freezes_per_month=freezes,
        turns=turns,
        turns_on=turns_on,
        prompts=prompts,
        escalate_after=escalate_after,
        escalate_to=escalate_to,
    )


def cadence_from_table(table: Mapping[str, Any]) -> Cadence:
    """Read back the table of cadence_to_table; raise DefinitionError(key, msg)."""
    _check_keys(table, CADENCE_KEYS)
    return _cadence(table, "UTC")


# --- values -> tables -----------------------------------------------------------------------------


def _hhmm(value: time) -> str:
    return f"{value.hour:02d}:{value.minute:02d}"


def cadence_to_table(cadence: Cadence) -> RitualTable:
    """The cadence keys alone (every, interval, times, on, timezone, day_starts_at, week_starts, start)."""
    table: RitualTable = {
        "every": str(cadence.every),
        "interval": cadence.interval,
        "times": cadence.times,
        "on": [str(due) for due in cadence.on],
        "timezone": cadence.timezone,
        "day_starts_at": _hhmm(cadence.day_starts_at),
        "week_starts": WEEKDAY_NAMES[cadence.week_starts],
    }
    if cadence.anchor is not None:
        table["start"] = cadence.anchor.isoformat()
    return table


def ritual_to_table(ritual: Ritual) -> RitualTable:
    """The normalized, TOML- and JSON-able table of a ritual; ritual_from_table reads it back equal.

    Every cadence key is written (the store compares cadences by their tables); optional keys only
    when they differ from their defaults, so the table reads like something a person would write.
    """
    reminders = ritual.reminders
    table = cadence_to_table(ritual.cadence)
    table.pop("start", None)
    table |= {"name": ritual.name, "title": ritual.title, "dimension": str(ritual.dimension)}
    optional: RitualTable = {
        "description": ritual.description or None,
        "at": [_hhmm(at) for at in reminders.at] or None,
        "cron": reminders.cron,
        "rrule": reminders.rrule,
        "remind_before": _duration_text(reminders.remind_before),
        "nag_after": _duration_text(reminders.nag_after),
        "quiet_hours": "-".join(_hhmm(t) for t in reminders.quiet_hours) if reminders.quiet_hours else None,
        "catch_up_grace": None
        if reminders.catch_up_grace == DEFAULT_CATCH_UP_GRACE
        else format_duration(reminders.catch_up_grace),
        "notify": list(ritual.notify) or None,
        "people": list(ritual.people) or None,
        "complete_when": None if ritual.complete_when is CompleteWhen.EITHER else str(ritual.complete_when),
        "start": ritual.start.isoformat() if ritual.start else None,
        "end": ritual.end.isoformat() if ritual.end else None,
        "discreet": ritual.discreet or None,
        "freezes_per_month": ritual.freezes_per_month or None,
        "turns": list(ritual.turns) or None,
        "turns_on": None if ritual.turns_on is TurnsOn.KEPT else str(ritual.turns_on),
        "prompts": ritual.prompts,
        "escalate_after": _duration_text(ritual.escalate_after),
        "escalate_to": list(ritual.escalate_to) or None,
    }
    table |= {key: value for key, value in optional.items() if value is not None}
    return {key: table[key] for key in RITUAL_KEYS if key in table}


def _duration_text(delta: timedelta | None) -> str | None:
    return None if delta is None else format_duration(delta)


def _toml_string(text: str) -> str:
    escaped = []
    for char in text:
        if char in '"\\':
            escaped.append("\\" + char)
        elif char in _TOML_SHORT_ESCAPES:
            escaped.append(_TOML_SHORT_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            escaped.append(f"\\u{ord(char):04X}")
        else:
            escaped.append(char)
    return '"' + "".join(escaped) + '"'


_TOML_SHORT_ESCAPES = {"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    raise TypeError(f"cannot write {value!r} as TOML")


def render_ritual_toml(ritual: Ritual) -> str:
    """One ``[[ritual]]`` block of the ritual file, for export and for showing a ritual as TOML."""
    lines = ["[[ritual]]"]
    lines.extend(f"{key} = {_toml_value(value)}" for key, value in ritual_to_table(ritual).items())
    return "\n".join(lines) + "\n"


# --- the file -------------------------------------------------------------------------------------


@dataclass
class _Block:
    """Where one table of the file starts and where each of its keys is first written."""

    line: int
    keys: dict[str, int] = field(default_factory=dict)

    def line_of(self, key: str | None) -> int:
        return self.keys.get(key, self.line) if key else self.line


@dataclass
class _Layout:
    top: _Block = field(default_factory=lambda: _Block(1))
    defaults: _Block | None = None
    rituals: list[_Block] = field(default_factory=list)

    def ritual(self, index: int) -> _Block:
        """The n-th (0-based) [[ritual]]; an inline ``ritual = [...]`` falls back to its key's line."""
        if index < len(self.rituals):
            return self.rituals[index]
        return _Block(self.top.line_of("ritual"))

    def defaults_block(self) -> _Block:
        return self.defaults or _Block(self.top.line_of("defaults"))

    def enter(self, header: str, number: int) -> _Block:
        """Open the table named by a ``[...]``/``[[...]]`` header; return the block its keys go to."""
        is_array = header.startswith("[[")
        inner = header.lstrip("[").split("]", 1)[0]
        parts = [part.strip().strip("\"'") for part in inner.split(".")]
        head, rest = parts[0], parts[1:]
        self.top.keys.setdefault(head, number)
        if head == "ritual" and is_array and not rest:
            block = _Block(number)
            self.rituals.append(block)
            return block
        if head == "defaults" and not is_array and not rest:
            self.defaults = _Block(number)
            return self.defaults
        owner = {"ritual": self.rituals[-1] if self.rituals else None, "defaults": self.defaults}.get(head)
        if owner is not None and rest:
            owner.keys.setdefault(rest[0], number)  # [ritual.extra]: a key of the current ritual
        return _Block(number)  # keys inside a sub-table or an unknown table are nobody's


_KEY_START = re.compile(r"""\s*(?:"((?:[^"\\]|\\.)*)"|'([^']*)'|([A-Za-z0-9_-]+))""")
_VALUE_TOKEN = re.compile(r"""\"\"\"|'''|"(?:[^"\\]|\\.)*"|'[^']*'|[\[\]{}#]""")
_BASIC_ML_END = re.compile(r'(?:\\.|[^\\])*?"""')


def _scan_value(line: str, pos: int, open_string: str | None, depth: int) -> tuple[str | None, int, int]:
    """Follow multi-line strings and bracket depth through the rest of a line; also the deepest
    the brackets went on it."""
    peak = depth
    while True:
        if open_string == '"""':
            end = _BASIC_ML_END.match(line, pos)
            if end is None:
                return open_string, depth, peak
            pos, open_string = end.end(), None
        elif open_string == "'''":
            found = line.find("'''", pos)
            if found < 0:
                return open_string, depth, peak
            pos, open_string = found + 3, None
        token = _VALUE_TOKEN.search(line, pos)
        if token is None:
            return None, depth, peak
        text, pos = token.group(), token.end()
        if text == "#":
            return None, depth, peak
        if text in ('"""', "'''"):
            open_string = text
        elif text in ("[", "{"):
            depth += 1
            peak = max(peak, depth)
        elif text in ("]", "}"):
            depth = max(0, depth - 1)


# Arrays and inline tables nested deeper than this are refused before tomllib reads them: it
# parses them by recursion, and some hundreds of levels end in a RecursionError. A ritual file
# (or settings.toml) needs three.
MAX_TOML_NESTING = 32


def toml_too_deep(text: str) -> int | None:
    """The first line where TOML arrays and inline tables nest deeper than MAX_TOML_NESTING."""
    open_string: str | None = None
    depth = 0
    for number, line in enumerate(text.split("\n"), start=1):
        open_string, depth, peak = _scan_value(line, 0, open_string, depth)
        if peak > MAX_TOML_NESTING:
            return number
    return None


def _basic_key(raw: str) -> str:
    """A ``"quoted"`` key as tomllib reads it (escapes such as ``\\n`` decoded), so it finds its line."""
    if "\\" not in raw:
        return raw
    import tomllib

    try:
        return str(tomllib.loads(f'k = "{raw}"')["k"])
    except tomllib.TOMLDecodeError:
        return raw


def _layout(text: str) -> _Layout:
    """Find the line of each table and key; tomllib keeps no positions, so scan the text for them."""
    layout = _Layout()
    current = layout.top
    open_string: str | None = None
    depth = 0
    for number, line in enumerate(text.split("\n"), start=1):
        pos = 0
        if open_string is None and depth == 0:
            stripped = line.lstrip()
            if stripped.startswith("["):
                current = layout.enter(stripped, number)
                continue
            key = _KEY_START.match(line)
            if key is not None:
                basic, literal, bare = key.groups()
                name = _basic_key(basic) if basic is not None else literal if literal is not None else bare
                current.keys.setdefault(name, number)
                pos = key.end()
        open_string, depth, _ = _scan_value(line, pos, open_string, depth)
    return layout


_POSITION = re.compile(r"\s*\(at line (\d+), column \d+\)$")
_AT_END = re.compile(r"\s*\(at end of document\)$")


def _syntax_error(path: str, text: str, exc: tomllib.TOMLDecodeError) -> RitualFileError:
    message = str(exc)
    position = _POSITION.search(message)
    if position is not None:
        line: int | None = int(position.group(1))
        message = message[: position.start()]
    elif _AT_END.search(message):
        line = max(1, text.count("\n") + (0 if text.endswith("\n") else 1))
        message = _AT_END.sub("", message)
    else:
        line = None
    return RitualFileError(path, line, None, f"not valid TOML: {message[:1].lower()}{message[1:]}")


def _ritual_error(
    path: str, block: _Block, number: int, table: Mapping[str, Any], exc: DefinitionError
) -> RitualFileError:
    line = block.line_of(exc.key)
    name = table.get("name")
    if isinstance(name, str) and _SLUG.fullmatch(name):
        return RitualFileError(path, line, name, exc.message)
    return RitualFileError(path, line, None, f"ritual #{number}: {exc.message}")


def parse_ritual_file(text: str, path: str, *, fallback_timezone: str = "UTC") -> RitualFile:
    """Parse and validate a whole ritual file; raise RitualFileError naming path, line and ritual."""
    # Imported here: a command reads the file only when it changed since the last sync.
    import tomllib

    if (deep := toml_too_deep(text)) is not None:
        message = f"arrays or tables nested more than {MAX_TOML_NESTING} deep; a ritual file needs three"
        raise RitualFileError(path, deep, None, message)
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _syntax_error(path, text, exc) from None
    except RecursionError:  # nesting the scan above did not see (it follows TOML's strings only)
        raise RitualFileError(path, None, None, "nested too deeply to read") from None
    layout = _layout(text)
    for key in document:
        if key not in ("defaults", "ritual"):
            line = layout.top.line_of(key)
            message = f"unknown top-level key {quote(key)} (expected [defaults] and [[ritual]])"
            raise RitualFileError(path, line, None, message)
    defaults = document.get("defaults", {})
    if not isinstance(defaults, dict):
        line = layout.top.line_of("defaults")
        raise RitualFileError(path, line, None, "defaults must be one table: write [defaults]")
    tables = document.get("ritual", [])
    if not isinstance(tables, list) or not all(isinstance(table, dict) for table in tables):
        line = layout.top.line_of("ritual")
        raise RitualFileError(path, line, None, "each ritual must be its own table: write [[ritual]]")
    try:
        check_defaults(defaults)
    except DefinitionError as exc:
        line = layout.defaults_block().line_of(exc.key)
        raise RitualFileError(path, line, None, f"[defaults]: {exc.message}") from None
    rituals: list[Ritual] = []
    lines: dict[str, int] = {}
    key_lines: dict[str, dict[str, int]] = {}
    for index, table in enumerate(tables):
        block = layout.ritual(index)
        try:
            ritual = ritual_from_table(table, defaults, fallback_timezone=fallback_timezone)
        except DefinitionError as exc:
            raise _ritual_error(path, block, index + 1, table, exc) from None
        if ritual.name in lines:
            message = f"duplicate ritual name '{ritual.name}' (first at line {lines[ritual.name]})"
            raise RitualFileError(path, block.line_of("name"), None, message)
        lines[ritual.name] = block.line
        key_lines[ritual.name] = dict(block.keys)
        rituals.append(ritual)
    return RitualFile(path=path, rituals=tuple(rituals), lines=lines, defaults=defaults, key_lines=key_lines)


def load_ritual_file(path: Path, *, fallback_timezone: str = "UTC") -> RitualFile:
    """Read and parse ``path``; unreadable or missing files raise RitualFileError too."""
    shown = str(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise RitualFileError(shown, None, None, "no such file (run `ritual init` to create one)") from None
    except IsADirectoryError:
        raise RitualFileError(shown, None, None, "is a directory, not a ritual file") from None
    except OSError as exc:
        raise RitualFileError(shown, None, None, f"cannot read ({exc.strerror or exc})") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise RitualFileError(shown, line, None, "not UTF-8 text") from None
    return parse_ritual_file(text, shown, fallback_timezone=fallback_timezone)
