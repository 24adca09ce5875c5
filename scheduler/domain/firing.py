"""Firing: which overdue nudges of one ritual the daemon sends, and what it records for the rest.

Pure: the daemon reads the clock and the database and passes in what they say. Each nudge gets
exactly one verdict, checked in this order:

1. ``paused(nudge.day)``: PAUSED, recorded and not sent.
2. ``kept(nudge)``, asked now (a period kept during a downtime counts): SUPPRESSED. This holds for
   every kind: the heads-up, the nudge at its time and the nag.
3. Held by quiet hours for longer than ``grace`` (from ``nudge.intended`` to its due time, the end
   of the quiet hours): MISSED, whenever the daemon looks. So `ritual next`, which lists what the
   daemon sends, can leave it out in advance.
4. At most ``on_time`` (and at most ``grace``) late, counted from the time the nudge was due to
   go out (the end of the quiet hours for a moved one): SEND. A hold within the grace plus a timer
   that fires a moment late does not make an on-time nudge missed.
5. More than ``grace`` late, counted from ``nudge.intended`` for a moved nudge: MISSED.
6. A heads-up (BEFORE) later than ``on_time``: MISSED, its moment has passed.
7. A DUE or NAG later than that is a catch-up candidate. Only the newest candidate of the call (by
   due time, then day and slot) is sent (LATE); older ones are MISSED. None is sent when a DUE or
   NAG of the same call goes out on time: the fresh nudge already reminds. So one call, one
   ritual: never more than one catch-up.

``grace`` is the outer limit for everything: with ``on_time`` larger than ``grace`` nothing past
the grace is sent either.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from enum import StrEnum

from scheduler.domain.reminders import Nudge, NudgeKind

# How far back the daemon looks at all, however long ago the last recorded nudge was.
DEFAULT_MAX_LOOKBACK = timedelta(days=7)

_MINUTE = timedelta(minutes=1)
_REMINDING = (NudgeKind.DUE, NudgeKind.NAG)


class Decision(StrEnum):
    SEND = "send"  # on time
    LATE = "late"  # the one catch-up after a downtime, sent saying it is late
    MISSED = "missed"  # not sent: past its grace, a stale heads-up, or an older catch-up
    SUPPRESSED = "suppressed"  # not sent: the period is already kept
    PAUSED = "paused"  # not sent: the ritual is paused that day

    @property
    def sends(self) -> bool:
        """Whether the daemon delivers the nudge (the others are only recorded)."""
        return self in (Decision.SEND, Decision.LATE)


@dataclass(frozen=True, slots=True)
class Verdict:
    nudge: Nudge
    decision: Decision
    note: str  # for the occurrence row, e.g. "sent 25 min late"


def decide(
    nudges: Sequence[Nudge],
    *,
    now: datetime,
    grace: timedelta,
    on_time: timedelta,
    kept: Callable[[Nudge], bool],
    paused: Callable[[date], bool],
) -> list[Verdict]:
    """One verdict per nudge of one ritual, in due order; the rules are in the module docstring.

    ``nudges`` are the ritual's planned nudges due by ``now`` that have no occurrence recorded yet.
    """
    _check_aware("now", now)
    for name, value in (("grace", grace), ("on_time", on_time)):
        if value < timedelta():
            raise ValueError(f"{name} cannot be negative: '{value}'")
    ordered = sorted(nudges)
    for nudge in ordered:
        if nudge.due > now:
            raise ValueError(f"nudge '{_key(nudge)}' is not due until '{nudge.due.isoformat()}'")
    verdicts = [_judge(nudge, now, grace, on_time, kept, paused) for nudge in ordered]
    return _one_catch_up(verdicts)


def _judge(
    nudge: Nudge,
    now: datetime,
    grace: timedelta,
    on_time: timedelta,
    kept: Callable[[Nudge], bool],
    paused: Callable[[date], bool],
) -> Verdict:
    """The verdict of one nudge on its own; LATE here only marks a catch-up candidate."""
    if paused(nudge.day):
        return Verdict(nudge, Decision.PAUSED, "not sent: ritual paused")
    if kept(nudge):
        return Verdict(nudge, Decision.SUPPRESSED, "not sent: period already kept")
    late = now - nudge.due
    held = held_for(nudge)
    held_note = f" (quiet hours held it {_span(held)})" if held else ""
    if held > grace:
        return Verdict(nudge, Decision.MISSED, f"missed: quiet hours held it {_span(held)}, {_past(grace)}")
    if late <= on_time and late <= grace:
        return Verdict(nudge, Decision.SEND, f"sent on time{held_note}")
    if late + held > grace:
        return Verdict(nudge, Decision.MISSED, f"missed: {_span(late + held)} late, {_past(grace)}")
    if nudge.kind not in _REMINDING:
        return Verdict(nudge, Decision.MISSED, f"missed: a heads-up {_span(late)} late is not worth sending")
    return Verdict(nudge, Decision.LATE, f"sent {_span(late)} late{held_note}")


def held_for(nudge: Nudge) -> timedelta:
    """How long quiet hours held ``nudge`` back (zero when they did not move it)."""
    return nudge.due - min(nudge.due, nudge.intended or nudge.due)


def _one_catch_up(verdicts: list[Verdict]) -> list[Verdict]:
    """Keep LATE for the newest candidate only, and for none when a reminder went out on time."""
    candidates = [i for i, verdict in enumerate(verdicts) if verdict.decision is Decision.LATE]
    if not candidates:
        return verdicts
    on_time = [v for v in verdicts if v.decision is Decision.SEND and v.nudge.kind in _REMINDING]
    # Verdicts are in due order and every on-time nudge is due after every candidate.
    winner = on_time[-1] if on_time else verdicts[candidates[-1]]
    note = f"missed: superseded by '{_key(winner.nudge)}'"
    result = list(verdicts)
    for i in candidates:
        if verdicts[i] is not winner:
            result[i] = replace(verdicts[i], decision=Decision.MISSED, note=note)
    return result


def overdue_window(
    last_recorded: datetime | None,
    now: datetime,
    *,
    lookback: timedelta,
    max_lookback: timedelta = DEFAULT_MAX_LOOKBACK,
) -> tuple[datetime, datetime]:
    """The ``(after, until)`` window whose nudges the daemon decides at start or on a tick.

    From the last recorded occurrence (exclusive) to ``now``, so a downtime's nudges are all
    recorded; with no history from ``now - lookback`` (the daemon passes the ritual's grace), so a
    first start does not dig up old nudges. Never further back than ``max_lookback``: older ones are
    simply not recorded. A last record after ``now`` (the clock went back) gives an empty window.
    """
    _check_aware("now", now)
    if last_recorded is not None:
        _check_aware("last_recorded", last_recorded)
    for name, value in (("lookback", lookback), ("max_lookback", max_lookback)):
        if value < timedelta():
            raise ValueError(f"{name} cannot be negative: '{value}'")
    start = now - lookback if last_recorded is None else last_recorded
    return min(max(start, now - max_lookback), now), now


def next_wakeup(nudges: Iterable[Nudge], after: datetime) -> datetime | None:
    """The earliest due time strictly after ``after``: where the daemon sets its one timer.

    ``nudges`` need not be in order (several rituals may be chained) but must be finite.
    """
    _check_aware("after", after)
    return min((nudge.due for nudge in nudges if nudge.due > after), default=None)


def _check_aware(name: str, value: datetime) -> None:
    if value.utcoffset() is None:
        raise ValueError(f"{name} must be time-zone aware, not '{value.isoformat()}'")


def _key(nudge: Nudge) -> str:
    return f"{nudge.day.isoformat()} {nudge.slot}"


def _past(grace: timedelta) -> str:
    return f"past its {_span(grace)} grace"


def _span(delta: timedelta) -> str:
    """A duration for a note, to the minute below: ``25 min``, ``2 h``, ``1 d 3 h 5 min``."""
    if timedelta() < delta < _MINUTE:
        return "under a minute"
    minutes = delta // _MINUTE
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    parts = [f"{count} {unit}" for count, unit in ((days, "d"), (hours, "h"), (minutes, "min")) if count]
    return " ".join(parts) or "0 min"
