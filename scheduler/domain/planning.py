"""Planning: a ritual's nudges in a window of time, one answer for the daemon and `ritual next`.

Pure: the ritual, the window and the facts known now are handed in; nothing reads the clock.

``nudges`` is what the daemon plans and decides: every nudge due in the window, quiet hours
applied, none outside the ritual's ``start``..``end``. The daemon records a verdict for each.
``sendable`` keeps the ones the daemon sends when it decides each at its due time, by the
daemon's own rules (``firing.decide``): a nudge that quiet hours hold past its catch-up grace,
one on a paused day and one of a period already kept are recorded, not sent, so they are left
out. `ritual next` lists ``sendable``: what it lists is what goes out, unless someone keeps the
period first (or the daemon is down at the time).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta

from scheduler.domain import firing
from scheduler.domain.definitions import Ritual
from scheduler.domain.reminders import Nudge, planned_nudges

_ONE_DAY = timedelta(days=1)
_NIGHT_HOURS = 24  # a slot's hour from here on is the night after the ritual day


def nudges(ritual: Ritual, after: datetime, until: datetime) -> Iterator[Nudge]:
    """The ritual's nudges with ``after < due <= until``, in order, none outside its dates."""
    for nudge in planned_nudges(ritual.cadence, ritual.reminders, after, until):
        if in_dates(ritual, nudge.day):
            yield nudge


def sendable(
    ritual: Ritual,
    after: datetime,
    until: datetime,
    *,
    kept: Callable[[Nudge], bool] = lambda _nudge: False,
    paused: Callable[[date], bool] = lambda _day: False,
) -> Iterator[Nudge]:
    """The nudges of ``nudges`` the daemon sends when it decides each on time, in order.

    ``kept`` and ``paused`` are what the daemon asks too (its period is kept, its day paused),
    answered with what is recorded now.
    """
    grace = ritual.reminders.catch_up_grace
    for nudge in nudges(ritual, after, until):
        (verdict,) = firing.decide(
            [nudge], now=nudge.due, grace=grace, on_time=timedelta(), kept=kept, paused=paused
        )
        if verdict.decision.sends:
            yield nudge


def in_dates(ritual: Ritual, day: date) -> bool:
    """Whether ritual day ``day`` lies within the ritual's ``start``..``end`` (each optional)."""
    return (ritual.start is None or day >= ritual.start) and (ritual.end is None or day <= ritual.end)


def keys(nudge: Nudge) -> tuple[tuple[date, str], ...]:
    """The (day, slot) keys under which ``nudge`` may already be recorded: its own, then, for a
    nudge in the night after its ritual day (a slot past 24:00, "25:15"), the key planning gave it
    before such nudges belonged to their ritual day: its calendar day and the time as the clock
    shows it ("01:15"). Both are the same instant, so an upgrade never sends that nudge twice."""
    prefix, slash, clock = nudge.slot.rpartition("/")
    hours, colon, minutes = clock.partition(":")
    if not (colon and hours.isascii() and hours.isdigit()) or int(hours) < _NIGHT_HOURS:
        return ((nudge.day, nudge.slot),)
    legacy = f"{prefix}{slash}{int(hours) - _NIGHT_HOURS:02d}:{minutes}"
    return (nudge.day, nudge.slot), (nudge.day + _ONE_DAY, legacy)
