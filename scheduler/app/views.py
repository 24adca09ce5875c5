"""The typed views the use cases hand to the edges.

The CLI prints them (as tables, or as JSON with ``--json``), the API answers with the
same JSON, the pages and nudges render them. JSON and CSV are made from them at the
edges (``scheduler.adapters.encoding``), never here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING

from scheduler.app.stored import (
    CompletionRecord,
    DeliveryRecord,
    IdeaRecord,
    LeaderInfo,
    OccurrenceRecord,
    PauseRecord,
    SkipRecord,
    StoredRitual,
)
from scheduler.domain.cadence import CadenceVersion
from scheduler.domain.definitions import Ritual
from scheduler.domain.reminders import Nudge

if TYPE_CHECKING:  # the streak maths: not loaded to record a completion
    from scheduler.domain.cadence import Every
    from scheduler.domain.heatmap import Cell
    from scheduler.domain.streaks import History, StreakSummary
    from scheduler.domain.today import Standing


@dataclass(frozen=True, slots=True)
class Upcoming:
    """A nudge that will be sent, and its ritual."""

    ritual: Ritual
    nudge: Nudge
    planner: str = ""  # whose turn to plan its period ("" for a ritual without turns)


@dataclass(frozen=True, slots=True)
class StreakView:
    """One ritual's streak contract summed up: `ritual streaks`, a nudge's streak line."""

    ritual: Ritual
    summary: StreakSummary


@dataclass(frozen=True, slots=True)
class HeatmapView:
    """A year of one ritual's squares (`ritual streaks --heatmap`): the kind of period they count."""

    ritual: Ritual
    every: Every
    cells: tuple[Cell, ...]


@dataclass(frozen=True, slots=True)
class DigestView:
    """The weekly digest as it would be sent (`ritual digest`), and the days it looks back over."""

    title: str
    text: str
    first: date
    last: date


@dataclass(frozen=True, slots=True)
class RitualView:
    """A ritual as `ritual list` shows it: its definition, whether it is paused, when next due."""

    stored: StoredRitual
    paused: bool
    next_due: datetime | None


@dataclass(frozen=True, slots=True)
class RitualDetail:
    """One ritual with everything people recorded for it, as `ritual show` shows it."""

    stored: StoredRitual
    paused: bool
    versions: tuple[CadenceVersion, ...]
    completions: tuple[CompletionRecord, ...]
    skips: tuple[SkipRecord, ...]
    pauses: tuple[PauseRecord, ...]
    streak: StreakView
    today: date
    history: History = field(repr=False)
    planner: str = ""  # whose turn to plan this period ("" for a ritual without turns)


@dataclass(frozen=True, slots=True)
class Recorded:
    """A completion asked for: the one recorded now, or the one already there (``created`` False)."""

    name: str
    completion: CompletionRecord
    created: bool


@dataclass(frozen=True, slots=True)
class CompletionView:
    """A completion with the name of its ritual (None: a ritual that is gone)."""

    ritual: str | None
    completion: CompletionRecord


@dataclass(frozen=True, slots=True)
class TodayEntry:
    """One ritual on the today page: where it stands, who plans it, today's question and the
    open ideas of its backlog."""

    stored: StoredRitual
    standing: Standing
    planner: str = ""
    question: str = ""
    ideas: tuple[IdeaRecord, ...] = ()


@dataclass(frozen=True, slots=True)
class DecidedNudge:
    """A nudge the daemon decided, with the name of its ritual ("household" for the digest).

    ``state`` and ``note`` are what `ritual status` shows, from the nudge and its deliveries
    together: a nudge still going out is ``sending`` or ``retrying`` (naming the deliveries
    and their next try), never "pending" beside the note it will have once sent.
    """

    name: str
    occurrence: OccurrenceRecord
    state: str = ""
    note: str = ""


@dataclass(frozen=True, slots=True)
class FailedDelivery:
    """A delivery that failed, was given up or waits to be tried again: `ritual status` lists
    each with its id, and `ritual retry ID` sends it now."""

    name: str
    slot: str
    delivery: DeliveryRecord


@dataclass(frozen=True, slots=True)
class StatusView:
    """What `ritual status` shows besides the daemon's own lock: next, last, the outbox, the leader.

    A delivery is pending (about to be sent), retrying (a transient failure: tried again at
    its next try, or now with `ritual retry`), failed (for good, or given up: sent again only
    with `ritual retry`), sent or cancelled. ``waiting`` lists the retrying ones.
    """

    rituals: int
    next: tuple[Upcoming, ...]
    last: tuple[DecidedNudge, ...]
    pending: int
    retrying: int
    failed: tuple[FailedDelivery, ...]
    leader: LeaderInfo | None
    household_pauses: tuple[PauseRecord, ...] = ()  # running today or planned ahead
    waiting: tuple[FailedDelivery, ...] = ()
    problems: tuple[str, ...] = ()  # rituals whose cron or rrule cannot be planned, and why


@dataclass(frozen=True, slots=True)
class TurnView:
    """Whose turn it is to plan a ritual with ``turns``: this period's planner and the next."""

    ritual: str
    turns: tuple[str, ...]
    planner: str
    next: str
    period_start: date
    period_end: date  # exclusive
    swapped: bool
