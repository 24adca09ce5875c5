"""A ritual's record as the streak contract reads it, and the questions asked of it. Pure.

The store keeps what people did (completions, skips, pauses) and the cadence versions;
``history_of`` turns them into the ``History`` that ``streaks`` judges. The daemon, the
pages and the reports ask the same small questions here (the streak maths is imported
when asked for, so recording a completion does not load it): is this day paused, is it
outside the ritual's dates, is the period that holds it already kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import TYPE_CHECKING, Protocol

from scheduler.domain.cadence import CadenceVersion, cadence_in_force, period_of
from scheduler.domain.definitions import Ritual

if TYPE_CHECKING:
    from scheduler.domain.streaks import History


class Span(Protocol):
    """A pause as recorded: its first day and its last (None: until resumed)."""

    @property
    def start(self) -> date: ...

    @property
    def until(self) -> date | None: ...


class Dated(Protocol):
    """A skip as recorded: the day it excuses."""

    @property
    def day(self) -> date: ...


def history_of(
    ritual: Ritual,
    created_on: date,
    versions: Iterable[CadenceVersion],
    completions: Sequence[tuple[date, str]],
    skips: Iterable[Dated],
    pauses: Iterable[Span],
) -> History:
    """The streak contract's view of one ritual, from what was recorded.

    Without an explicit ``start``, a ritual counts from its first cadence or its earliest
    back-filled completion, whichever is older, so back-filling is never wasted.
    """
    from scheduler.domain.streaks import History, PausedSpan  # not on `ritual done`'s path

    version_pairs = tuple((v.effective_from, v.cadence) for v in versions) or (
        (ritual.start or created_on, ritual.cadence),
    )
    earliest = min(completions, default=None)  # (day, by) pairs: the earliest day, compared in C
    start = ritual.start or min(version_pairs[0][0], earliest[0] if earliest else version_pairs[0][0])
    if ritual.start is None and version_pairs[0][0] > start:
        version_pairs = ((start, version_pairs[0][1]), *version_pairs[1:])
    return History(
        versions=version_pairs,
        start=start,
        completions=completions,
        skips=tuple(s.day for s in skips),
        pauses=tuple(PausedSpan(p.start, p.until) for p in pauses),
        end=ritual.end,
        people=ritual.people,
        complete_when=ritual.complete_when,
        freezes_per_month=ritual.freezes_per_month,
    )


def outside_dates(ritual: Ritual, day: date) -> bool:
    """Whether ``day`` is before the ritual's ``start`` or after its ``end``."""
    return (ritual.start is not None and day < ritual.start) or (ritual.end is not None and day > ritual.end)


def is_paused_on(pauses: Iterable[Span], day: date) -> bool:
    """Whether one of these pauses covers ``day``."""
    return any(p.start <= day and (p.until is None or day <= p.until) for p in pauses)


def keeps_period(
    ritual: Ritual, versions: Sequence[CadenceVersion], marks: Sequence[tuple[date, str]], day: date
) -> bool:
    """Whether these completions ((day, by), oldest first) keep the period holding ``day``,
    under the cadence in force that day: a "both" ritual only once each person did it."""
    from scheduler.domain.streaks import History, PeriodStatus, outcomes

    cadence = cadence_in_force(versions, day, ritual.cadence)
    period = period_of(cadence, day)
    history = History(
        versions=((period.start, cadence),),
        start=period.start,
        completions=[m for m in marks if period.start <= m[0] < period.end],
        people=ritual.people,
        complete_when=ritual.complete_when,
    )
    judged = outcomes(history, today=day)
    return bool(judged) and judged[-1].status is PeriodStatus.KEPT


def still_to_do(
    ritual: Ritual, versions: Sequence[CadenceVersion], marks: Sequence[tuple[date, str]], day: date
) -> tuple[str, ...]:
    """Who of a ritual kept together (``complete_when = both``) has not done their part yet in
    the period holding ``day``; empty for any other ritual, or once everyone has.

    A completion by ``household`` (both of you together) is everyone's.
    """
    from scheduler.domain.definitions import CompleteWhen
    from scheduler.domain.people import HOUSEHOLD

    if ritual.complete_when is not CompleteWhen.BOTH or not ritual.people:
        return ()
    cadence = cadence_in_force(versions, day, ritual.cadence)
    period = period_of(cadence, day)
    counts = dict.fromkeys(ritual.people, 0)
    for done_on, by in marks:
        if period.start <= done_on < period.end:
            for person in ritual.people if by == HOUSEHOLD else (by,):
                if person in counts:
                    counts[person] += 1
    return tuple(person for person, count in counts.items() if count < cadence.times)
