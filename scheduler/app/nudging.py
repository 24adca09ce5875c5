"""The nudge path: decide from the database what is due, record it, hand it to the outbox.

The daemon calls ``handle_due_many`` with every ritual whose timer instant has
come, at start and on every reconcile tick; all three take this one path (and
``handle_due`` is the batch of one). Each nudge is claimed in
the occurrences table under its key (ritual, day, slot) *before* anything is
sent, so a restart, a coalesced timer, a second code path or a clock jump finds
the key taken and does nothing: a key is decided, and sent, at most once.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from functools import partial
from typing import NamedTuple, Protocol

from scheduler.app.ports import Clock
from scheduler.app.service import RitualService
from scheduler.app.stored import (
    OccurrenceClaim,
    OccurrenceKind,
    OccurrenceRecord,
    OccurrenceStatus,
    StoredRitual,
)
from scheduler.domain import cadence as cad
from scheduler.domain import firing, planning
from scheduler.domain.cadence import CadenceVersion, cadence_in_force
from scheduler.domain.errors import ConflictError, UnknownRitualError
from scheduler.domain.firing import Decision, Verdict
from scheduler.domain.history import is_paused_on, keeps_period
from scheduler.domain.reminders import Nudge, Reminders, format_duration, parse_clock_time, planned_nudges
from scheduler.domain.wording import counted

log = logging.getLogger("scheduler.app.nudging")

# A timer that fires up to this late still counts as on time (thread start, a busy pool).
ON_TIME = timedelta(seconds=60)
# How far ahead the next timer is looked for; a ritual with nothing due in that time is
# looked at again by the reconcile tick.
HORIZON = timedelta(days=40)

_RECORDED_AS = {
    Decision.SEND: OccurrenceStatus.PENDING,
    Decision.LATE: OccurrenceStatus.PENDING,
    Decision.MISSED: OccurrenceStatus.MISSED,
    Decision.SUPPRESSED: OccurrenceStatus.SUPPRESSED,
    Decision.PAUSED: OccurrenceStatus.PAUSED,
}


DIGEST_SLOT = "digest"
DIGEST_GRACE = timedelta(hours=2)
# A snoozed re-nudge's slot is the snoozed one's plus "~z" and how many snoozes deep it is.
SNOOZE_MARK = "~z"


def snooze_depth(slot: str) -> int:
    """How many times the nudge in ``slot`` has been snoozed: "20:30" 0, "20:30~z2" 2."""
    _, mark, depth = slot.rpartition(SNOOZE_MARK)
    return int(depth) if mark and depth.isdigit() else 0


def snoozed_slot(slot: str) -> str:
    """The slot of the re-nudge that snoozing the nudge in ``slot`` asks for."""
    base = slot.rpartition(SNOOZE_MARK)[0] if snooze_depth(slot) else slot
    return f"{base}{SNOOZE_MARK}{snooze_depth(slot) + 1}"


class Claimed(NamedTuple):
    """A nudge this daemon claimed for sending: the ritual, its occurrence row, the verdict."""

    stored: StoredRitual
    occurrence: OccurrenceRecord
    verdict: Verdict


class Outbox(Protocol):
    """Sends claimed occurrences through their channels and records how it went.

    ``epoch`` is the leader epoch its delivery claims are fenced with (None: not fenced).
    """

    epoch: int | None

    def deliver(self, nudges: Sequence[Claimed]) -> None: ...

    def deliver_household(self, occurrence: OccurrenceRecord, names: Sequence[str]) -> None: ...

    def deliver_due(self) -> int: ...

    def drain(self) -> int:
        """Claim and send one chunk of due deliveries, whichever daemon wrote them; how many."""
        ...

    def recover(self) -> int: ...

    def deliver_snoozed(self, stored: StoredRitual, occurrence: OccurrenceRecord, person: str) -> None: ...

    def deliver_escalation(self, stored: StoredRitual, occurrence: OccurrenceRecord) -> None:
        """The one escalation of a period, to the ritual's ``escalate_to``."""
        ...

    def can_clear(self) -> bool:
        """Whether any channel can replace a message it delivered (else nothing is cleared)."""
        ...

    def clearable(self, groups: Sequence[Sequence[OccurrenceRecord]]) -> list[bool]:
        """For each group of nudges, whether a channel that got one of them can replace it on
        the phones; one read for all of them."""
        ...

    def deliver_cleared(
        self, stored: StoredRitual, occurrence: OccurrenceRecord, nudges: Sequence[OccurrenceRecord]
    ) -> None:
        """Replace these nudges, where the channel can, with "done" (``occurrence`` records it)."""
        ...


# How far back a kept period's nudges are looked for, to say on the other phones it is done.
CLEAR_WINDOW = timedelta(days=2)
_REMINDING = (OccurrenceKind.DUE, OccurrenceKind.BEFORE, OccurrenceKind.NAG, OccurrenceKind.SNOOZE)
_DELIVERED = (OccurrenceStatus.SENT, OccurrenceStatus.LATE)
CLEARED_SLOT = "cleared"
ESCALATE_SLOT = "escalate"


@dataclass(frozen=True, slots=True)
class DigestPlan:
    """When the weekly digest goes out (a weekly cadence in the household's zone) and to whom."""

    cadence: cad.Cadence
    reminders: Reminders
    to: tuple[str, ...] = ()

    @classmethod
    def weekly(cls, on: str, at: str, timezone: str, to: Sequence[str] = ()) -> DigestPlan:
        cadence = cad.Cadence(
            every=cad.Every.WEEK, on=cad.parse_due_days(cad.Every.WEEK, [on]), timezone=timezone
        )
        return cls(cadence, Reminders(at=(parse_clock_time(at),)), tuple(to))


@dataclass(frozen=True, slots=True)
class Handled:
    """What one call decided: the verdicts whose key this call claimed."""

    ritual: str
    verdicts: tuple[Verdict, ...]


class Nudger:
    def __init__(
        self,
        service: RitualService,
        outbox: Outbox,
        clock: Clock,
        *,
        digest: DigestPlan | None = None,
        snooze: timedelta = timedelta(minutes=30),
        max_snoozes: int = 3,
    ) -> None:
        self.service = service
        self.store = service.store
        self.outbox = outbox
        self.clock = clock
        self.digest = digest
        self.snooze_for = snooze
        self.max_snoozes = max_snoozes
        self._epoch: int | None = None
        # The rituals that escalate, as of a ``rituals_version`` (None: not listed yet).
        self._escalating_seen: tuple[str, list[StoredRitual]] | None = None

    @property
    def epoch(self) -> int | None:
        """The leader epoch every claim is fenced with; None (the default) fences nothing."""
        return self._epoch

    @epoch.setter
    def epoch(self, value: int | None) -> None:
        self._epoch = value
        self.outbox.epoch = value

    def handle_due(self, stored: StoredRitual) -> Handled:
        """Decide every nudge of ``stored`` that is due and not yet recorded; send what is sent."""
        return self.handle_due_many([stored])[0]

    def handle_due_many(self, rituals: Sequence[StoredRitual]) -> list[Handled]:
        """``handle_due`` for every ritual whose timer went off at one instant, together.

        What the decisions need is read for all of them at once (a query per kind of fact,
        not per ritual), every key is claimed in one transaction, and every send of the
        batch goes out at once: thousands of rituals due at the same minute cost a few
        statements and one round of sends, not a dozen transactions each.
        """
        now = self.clock.now()
        last_due = self.store.last_due_times([stored.id for stored in rituals])
        planned: dict[int, list[Nudge]] = {}
        since = now
        for stored in rituals:
            ritual = stored.ritual
            grace = ritual.reminders.catch_up_grace
            last = last_due.get(stored.id)
            # With nothing recorded yet, look no further back than the ritual itself: a ritual
            # added at 09:20 with a 09:00 time owes nobody a late nudge today.
            start = last if last is not None else max(stored.created_at, now - grace)
            after, until = firing.overdue_window(start, now, lookback=grace)
            # Slots that share the last recorded instant must not slip through the exclusive bound.
            after -= timedelta(microseconds=1)
            nudges = list(planning.nudges(ritual, after, until))
            if nudges:
                planned[stored.id] = nudges
                since = min(since, after)
        verdicts = self._decide(
            [stored for stored in rituals if stored.id in planned], planned, since=since, now=now
        )
        claims = self.store.claim_occurrences(
            [
                OccurrenceClaim(
                    stored.id,
                    verdict.nudge.day,
                    verdict.nudge.slot,
                    OccurrenceKind.of(verdict.nudge.kind),
                    verdict.nudge.due,
                    _RECORDED_AS[verdict.decision],
                    verdict.note,
                )
                for stored, verdict in verdicts
            ],
            now=now,
            epoch=self._epoch,
        )
        claimed: dict[int, list[Verdict]] = {}
        sends: list[Claimed] = []
        for (stored, verdict), (occurrence, created) in zip(verdicts, claims, strict=True):
            nudge = verdict.nudge
            if occurrence is None:
                log.warning("%s %s/%s: not claimed, no longer the leader", stored.name, nudge.day, nudge.slot)
                continue
            if not created:
                continue  # another path got there first: it owns this key
            claimed.setdefault(stored.id, []).append(verdict)
            log.info("%s %s/%s: %s", stored.name, nudge.day, nudge.slot, verdict.note)
            if verdict.decision.sends:
                sends.append(Claimed(stored, occurrence, verdict))
        if sends:
            self.outbox.deliver(sends)
        return [Handled(stored.name, tuple(claimed.get(stored.id, ()))) for stored in rituals]

    def _decide(
        self,
        rituals: Sequence[StoredRitual],
        planned: Mapping[int, Sequence[Nudge]],
        *,
        since: datetime,
        now: datetime,
    ) -> list[tuple[StoredRitual, Verdict]]:
        """The verdicts of the planned nudges not recorded yet, from facts read in bulk."""
        if not rituals:
            return []
        ids = [stored.id for stored in rituals]
        recorded = self.store.occurrence_keys(ids, since=since)
        pauses = self.store.pauses_of(ids)
        versions = self.store.cadence_histories(ids)
        # A period can start well before its nudge (a month, a year): read from the oldest start.
        oldest = min(
            _period_start(stored, versions.get(stored.id, []), day)
            for stored in rituals
            for day in {nudge.day for nudge in planned[stored.id]}
        )
        marks = self.store.completion_marks_of(ids, since=oldest)
        decided: list[tuple[StoredRitual, Verdict]] = []
        for stored in rituals:
            fresh = [
                n
                for n in planned[stored.id]
                if not any((stored.id, *key) in recorded for key in planning.keys(n))
            ]
            if not fresh:
                continue
            history = versions.get(stored.id, [])
            done = marks.get(stored.id, [])
            stopped = pauses.get(stored.id, [])
            verdicts = firing.decide(
                fresh,
                now=now,
                grace=stored.ritual.reminders.catch_up_grace,
                on_time=ON_TIME,
                kept=partial(_nudge_kept, stored, history, done),
                paused=partial(is_paused_on, stopped),
            )
            decided.extend((stored, verdict) for verdict in verdicts)
        return decided

    def next_wakeup(self, stored: StoredRitual) -> datetime | None:
        """When this ritual's timer should next go off (its next planned nudge), if within reach."""
        now = self.clock.now()
        ritual = stored.ritual
        # Planned nudges come in due order, all after ``now``: the first one is it.
        return next((nudge.due for nudge in planning.nudges(ritual, now, now + HORIZON)), None)

    def deliver_due(self) -> int:
        """The tick's outbox work: escalations due, say "done" on the phones of kept periods,
        then the retries."""
        self.escalate()
        self.clear_kept()
        return self.outbox.deliver_due()

    def drain(self) -> int:
        """Send one chunk of what is due in the outbox, leader or not (PostgreSQL daemons all
        drain it); how many deliveries it took."""
        return self.outbox.drain()

    def escalate(self) -> int:
        """One more nudge, to ``escalate_to``, for each period still not kept ``escalate_after``
        its due nudge went out: once a period (the occurrence key is the period's first day and
        ``escalate``), never while the ritual's quiet hours last (the tick after they end sends
        it), none for a paused day or once past the catch-up grace. Returns how many were sent.

        Set-based, as it runs on every tick: the rituals that escalate are listed again only
        when the rituals changed (``rituals_version``), their recent occurrences are one read,
        and the cadences, pauses and completions of those that may escalate one read each.
        """
        now = self.clock.now()
        rituals = self._escalating()
        if not rituals:
            return 0
        windows: dict[int, datetime] = {}
        for stored in rituals:
            after = stored.ritual.escalate_after
            assert after is not None
            windows[stored.id] = now - after - stored.ritual.reminders.catch_up_grace - ON_TIME
        found = self.store.occurrences_of(list(windows), since=min(windows.values()))
        # What each ritual's own window holds (newest first), and its due nudges that may escalate.
        recent: dict[int, list[OccurrenceRecord]] = {}
        candidates: dict[int, list[OccurrenceRecord]] = {}
        for stored in rituals:
            ritual = stored.ritual
            after = ritual.escalate_after
            assert after is not None
            grace = ritual.reminders.catch_up_grace
            mine = [o for o in found.get(stored.id, ()) if o.due_at >= windows[stored.id]]
            recent[stored.id] = mine
            dues = [
                o
                for o in mine
                if o.kind is OccurrenceKind.DUE
                and o.status in _DELIVERED
                and not (o.due_at + after > now or now - (o.due_at + after) > grace)
            ]
            if dues and not _in_quiet_hours(ritual.reminders, ritual.cadence, now):
                candidates[stored.id] = dues
        if not candidates:
            return 0
        ids = list(candidates)
        versions = self.store.cadence_histories(ids)
        pauses = self.store.pauses_of(ids)
        starts = {
            (stored.id, due.day): _period_start(stored, versions.get(stored.id, []), due.day)
            for stored in rituals
            for due in candidates.get(stored.id, ())
        }
        marks = self.store.completion_marks_of(ids, since=min(starts.values()))
        sent = 0
        for stored in rituals:
            if stored.id not in candidates:
                continue
            ritual = stored.ritual
            after = ritual.escalate_after
            assert after is not None
            periods = {o.day for o in recent[stored.id] if o.kind is OccurrenceKind.ESCALATE}
            history = versions.get(stored.id, [])
            paused = is_paused_on(pauses.get(stored.id, []), self.service.today(ritual))
            to = ", ".join(ritual.escalate_to)
            for due in candidates[stored.id]:
                start = starts[(stored.id, due.day)]
                if start in periods:
                    continue
                if keeps_period(ritual, history, marks.get(stored.id, []), due.day) or paused:
                    continue
                occurrence, created = self.store.claim_occurrence(
                    stored.id,
                    day=start,
                    slot=ESCALATE_SLOT,
                    kind=OccurrenceKind.ESCALATE,
                    due_at=due.due_at + after,
                    status=OccurrenceStatus.PENDING,
                    now=now,
                    note=f"not kept {format_duration(after)} after its nudge: to {to}",
                    epoch=self._epoch,
                )
                periods.add(start)
                if created and occurrence is not None:
                    log.info("%s %s/%s: escalated", stored.name, start, ESCALATE_SLOT)
                    self.outbox.deliver_escalation(stored, occurrence)
                    sent += 1
        return sent

    def know_rituals(self, rituals: Sequence[StoredRitual], version: str) -> None:
        """Every current ritual as of ``version``, just read by the caller (the daemon's
        reconcile): ``escalate`` takes the ones that escalate from it instead of listing them
        all again on its next tick."""
        self._escalating_seen = (
            version,
            [s for s in rituals if s.ritual.escalate_after and s.ritual.escalate_to],
        )

    def _escalating(self) -> list[StoredRitual]:
        """The current rituals that escalate, by name; listed again only when the rituals changed."""
        version = self.service.rituals_version()
        if self._escalating_seen is None or self._escalating_seen[0] != version:
            listed = self.store.list_rituals()
            self._escalating_seen = (
                version,
                [s for s in listed if s.ritual.escalate_after and s.ritual.escalate_to],
            )
        return self._escalating_seen[1]

    def clear_kept(self, stored: StoredRitual | None = None, day: date | None = None) -> int:
        """Once a period is kept, its nudges still on the other phones say so, where the channel
        can replace them (ntfy); once per ritual and day (the occurrence key ``cleared``).

        The tick looks at every ritual nudged lately; a Done tapped on a link asks at once
        for its ritual and day. Returns how many were cleared. Nothing is read when no channel
        can replace a message (the common case); otherwise one read of the recent nudges, one
        of where they were sent, then one each of the rituals, cadences and completions of
        those a channel could replace.
        """
        if not self.outbox.can_clear():
            return 0
        now = self.clock.now()
        recent = self.store.occurrences(
            ritual_id=None if stored is None else stored.id, since=now - CLEAR_WINDOW
        )
        done = {(o.ritual_id, o.day) for o in recent if o.kind is OccurrenceKind.CLEARED}
        waiting: dict[tuple[int, date], list[OccurrenceRecord]] = {}
        for o in recent:
            wanted = o.ritual_id is not None and (o.ritual_id, o.day) not in done and day in (None, o.day)
            if wanted and o.kind in _REMINDING and o.status in _DELIVERED:
                assert o.ritual_id is not None
                waiting.setdefault((o.ritual_id, o.day), []).append(o)
        # Where the nudges went first (it needs no ritual), then only the rituals that matter.
        clearable = self.outbox.clearable(list(waiting.values()))
        waiting = {key: nudges for (key, nudges), ok in zip(waiting.items(), clearable, strict=True) if ok}
        if not waiting:
            return 0
        if stored is not None:
            rituals = {stored.id: stored}
        else:
            rituals = self.store.rituals_by_id({ritual_id for ritual_id, _ in waiting})
        waiting = {key: nudges for key, nudges in waiting.items() if key[0] in rituals}
        kept = self._kept_periods([(rituals[ritual_id], on_day) for ritual_id, on_day in waiting])
        cleared = 0
        for (ritual_id, on_day), nudges in waiting.items():
            if (ritual_id, on_day) not in kept:
                continue
            occurrence, created = self.store.claim_occurrence(
                ritual_id,
                day=on_day,
                slot=CLEARED_SLOT,
                kind=OccurrenceKind.CLEARED,
                due_at=now,
                status=OccurrenceStatus.PENDING,
                now=now,
                note="the period is kept: its nudges say so on the other phones",
                epoch=self._epoch,
            )
            if created and occurrence is not None:
                self.outbox.deliver_cleared(rituals[ritual_id], occurrence, nudges)
                cleared += 1
        return cleared

    def _kept_periods(self, wanted: Sequence[tuple[StoredRitual, date]]) -> set[tuple[int, date]]:
        """``period_kept`` of many (ritual, day) at once: the (ritual id, day) pairs whose period
        is kept, from one read of the cadences and one of the completions."""
        if not wanted:
            return set()
        ids = list(dict.fromkeys(stored.id for stored, _ in wanted))
        versions = self.store.cadence_histories(ids)
        oldest = min(_period_start(stored, versions.get(stored.id, []), on_day) for stored, on_day in wanted)
        marks = self.store.completion_marks_of(ids, since=oldest)
        return {
            (stored.id, on_day)
            for stored, on_day in wanted
            if keeps_period(stored.ritual, versions.get(stored.id, []), marks.get(stored.id, []), on_day)
        }

    def recover(self) -> int:
        """Take up what a stopped daemon left half-done (see the outbox's ``recover``)."""
        return self.outbox.recover()

    def snooze(self, occurrence_id: int, person: str) -> OccurrenceRecord:
        """Nudge ``person`` about this occurrence again after the snooze time; the re-nudge.

        Snoozing the same nudge twice (a double tap, a replayed link) asks for the same
        re-nudge, so it is queued once. Refused once the period is kept or the nudge was
        snoozed ``max_snoozes`` times.
        """
        occurrence = self.store.get_occurrence(occurrence_id)
        stored = None
        if occurrence is not None and occurrence.ritual_id is not None:
            stored = self.store.ritual_by_id(occurrence.ritual_id)
        if occurrence is None or stored is None:
            raise UnknownRitualError(f"nudge '{occurrence_id}' belongs to no current ritual")
        depth = snooze_depth(occurrence.slot)
        if depth >= self.max_snoozes:
            limit = f"max_snoozes = {self.max_snoozes}"
            raise ConflictError(f"'{stored.name}' was snoozed {counted(depth, 'time')} already ({limit})")
        if self.period_kept(stored, occurrence.day):
            raise ConflictError(f"'{stored.name}' is already done for this period: nothing to snooze")
        now = self.clock.now()
        later, created = self.store.claim_occurrence(
            stored.id,
            day=occurrence.day,
            slot=snoozed_slot(occurrence.slot),
            kind=OccurrenceKind.SNOOZE,
            due_at=now + self.snooze_for,
            status=OccurrenceStatus.PENDING,
            now=now,
            note=f"snoozed by {person}" if person else "snoozed",
        )
        if created:
            log.info("%s %s/%s: snoozed until %s", stored.name, later.day, later.slot, later.due_at)
            self.outbox.deliver_snoozed(stored, later, person)
        return later

    # the weekly digest: a household occurrence, no ritual of its own ----------------------------
    def handle_digest(self) -> tuple[Verdict, ...]:
        """Send the weekly digest if it is due and not yet recorded (same rules as a nudge)."""
        plan = self.digest
        if plan is None:
            return ()
        now = self.clock.now()
        last = self.store.last_occurrence(None)
        after, until = firing.overdue_window(last.due_at if last else None, now, lookback=DIGEST_GRACE)
        after -= timedelta(microseconds=1)
        planned = [
            replace(n, slot=DIGEST_SLOT) for n in planned_nudges(plan.cadence, plan.reminders, after, until)
        ]
        recorded = {(o.day, o.slot) for o in self.store.occurrences(since=after) if o.ritual_id is None}
        fresh = [n for n in planned if (n.day, n.slot) not in recorded]
        verdicts = firing.decide(
            fresh,
            now=now,
            grace=DIGEST_GRACE,
            on_time=ON_TIME,
            kept=lambda _n: False,
            paused=partial(is_paused_on, self.service.household_pauses()),
        )
        claimed = []
        for verdict in verdicts:
            occurrence, created = self.store.claim_occurrence(
                None,
                day=verdict.nudge.day,
                slot=DIGEST_SLOT,
                kind=OccurrenceKind.DIGEST,
                due_at=verdict.nudge.due,
                status=_RECORDED_AS[verdict.decision],
                now=now,
                note=verdict.note,
                epoch=self._epoch,
            )
            if created and occurrence is not None:
                claimed.append(verdict)
                log.info("digest %s: %s", verdict.nudge.day, verdict.note)
                if verdict.decision.sends:
                    self.outbox.deliver_household(occurrence, plan.to)
        return tuple(claimed)

    def next_digest(self) -> datetime | None:
        if self.digest is None:
            return None
        now = self.clock.now()
        upcoming = planned_nudges(self.digest.cadence, self.digest.reminders, now, now + timedelta(days=8))
        return firing.next_wakeup(upcoming, now)

    def period_kept(self, stored: StoredRitual, day: date) -> bool:
        """Whether the period holding ``day`` is already kept (then its nudges are not sent)."""
        return self.service.period_kept(stored, day)


def _in_quiet_hours(reminders: Reminders, cadence: cad.Cadence, now: datetime) -> bool:
    """Whether ``now`` lies inside the ritual's own quiet hours (they may wrap midnight)."""
    if reminders.quiet_hours is None:
        return False
    start, end = reminders.quiet_hours
    wall = now.astimezone(cadence.zone).time().replace(tzinfo=None)
    return start <= wall < end if start < end else (wall >= start or wall < end)


def _period_start(stored: StoredRitual, versions: Sequence[CadenceVersion], day: date) -> date:
    return cad.period_of(cadence_in_force(versions, day, stored.ritual.cadence), day).start


def _nudge_kept(
    stored: StoredRitual, versions: Sequence[CadenceVersion], marks: Sequence[tuple[date, str]], nudge: Nudge
) -> bool:
    return keeps_period(stored.ritual, versions, marks, nudge.day)
