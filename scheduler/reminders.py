"""Reminders: when to nudge, as opposed to the cadence, which says what counts.

Pure: given a cadence, reminder rules and a window of time, list the nudges
that fall in it. The daemon turns these into timers; streak maths never asks.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum

from scheduler.cadence import Cadence


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
    slot: str  # unique within the day: "20:30", "before/20:30", "nag/20:30"
    kind: NudgeKind


def parse_duration(text: str) -> timedelta:
    """``90m``, ``2h``, ``1d``, ``1w``, ``1h30m``; raise ValueError with the user-facing message."""
    raise NotImplementedError


def format_duration(delta: timedelta) -> str:
    """The inverse of parse_duration: the shortest string that parses back to ``delta``."""
    raise NotImplementedError


def parse_clock_time(text: str) -> time:
    """``20:30`` or ``7:05`` (24-hour, minutes); raise ValueError with the user-facing message."""
    raise NotImplementedError


def check_cron(expression: str) -> None:
    """Raise ValueError naming the bad field of a 5-field cron expression."""
    raise NotImplementedError


def check_rrule(expression: str) -> None:
    """Raise ValueError when ``expression`` is not an RFC 5545 RRULE dateutil can read."""
    raise NotImplementedError


def planned_nudges(
    cadence: Cadence, reminders: Reminders, after: datetime, until: datetime
) -> Iterator[Nudge]:
    """Nudges with ``after < due <= until``, ordered by due time (then slot)."""
    raise NotImplementedError
