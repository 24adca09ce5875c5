"""Whose turn to plan: the planner of each period of a ritual with ``turns``. Pure.

The first period's planner is the first of ``turns``; each next period's is the one after
the last period's planner when that period was kept (``turns_on = "kept"``, the default: a
skipped or missed period keeps the same planner) or after every period that had a due day
(``turns_on = "period"``). A swap (`ritual turn NAME --swap`) names one period's planner
by hand, and the rotation goes on from them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

from scheduler.domain.definitions import TurnsOn
from scheduler.domain.streaks import PeriodStatus


def planners(
    turns: Sequence[str],
    turns_on: TurnsOn,
    periods: Sequence[tuple[date, PeriodStatus]],
    swaps: Mapping[date, str],
) -> list[str]:
    """The planner of each period (its start and how it went, oldest first), in the same order."""
    if not turns:
        return ["" for _ in periods]
    found: list[str] = []
    current = turns[0]
    previous: PeriodStatus | None = None
    for start, status in periods:
        if previous is not None and _moves_on(turns_on, previous):
            current = following(turns, current)
        swapped = swaps.get(start, "")
        if swapped in turns:
            current = swapped
        found.append(current)
        previous = status
    return found


def _moves_on(turns_on: TurnsOn, status: PeriodStatus) -> bool:
    if turns_on is TurnsOn.PERIOD:
        return status is not PeriodStatus.REST
    return status is PeriodStatus.KEPT


def following(turns: Sequence[str], person: str, steps: int = 1) -> str:
    """Who comes ``steps`` turns after ``person`` (the first of ``turns`` when they take none)."""
    index = turns.index(person) if person in turns else -1
    return turns[(index + steps) % len(turns)]
