"""The outbox: one delivery row per (occurrence, channel), written before the send, updated after.

A delivery is claimed with a lease before each attempt, so a crash between the
send and the commit re-sends it at most once, after the lease. Transient
failures (a push server down, a 503, a timeout) are retried with a growing,
jittered back-off until ``max_attempts`` or ``max_age``; permanent ones (bad
credentials, a 4xx, an unknown scheme) are not. One failing channel never
delays the others: each attempt sends to all its channels at once.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from datetime import datetime, timedelta

from scheduler.app.compose import Composer, LinkMaker, person_of
from scheduler.app.nudging import (
    DIGEST_GRACE,
    ON_TIME,
    Claimed,
)
from scheduler.app.ports import Channel, Channels, Clock
from scheduler.app.service import RitualService
from scheduler.app.stored import (
    DeliveryOutcome,
    DeliveryRecord,
    DeliveryStatus,
    OccurrenceKind,
    OccurrenceRecord,
    OccurrenceStatus,
    StoredRitual,
)
from scheduler.domain.errors import RitualError
from scheduler.domain.messages import Message

log = logging.getLogger("scheduler.app.outbox")

# Delivery states no sender will move on from by itself.
_ENDED = frozenset(
    {DeliveryStatus.SENT, DeliveryStatus.FAILED, DeliveryStatus.GIVEN_UP, DeliveryStatus.CANCELLED}
)
FIRST_RETRY = timedelta(seconds=30)
DRAIN_CHUNK = 100  # due deliveries one drain claims and sends together
LONGEST_WAIT = timedelta(hours=1)


def backoff(attempts: int, rng: random.Random) -> timedelta:
    """Wait before the next try: doubling from 30 s, at most an hour, jittered by +-25%."""
    base: timedelta = min(FIRST_RETRY * 2 ** max(attempts - 1, 0), LONGEST_WAIT)
    return base * rng.uniform(0.75, 1.25)


class ChannelOutbox:
    """The outbox of the household's channels: rows first, then the sends, then their outcomes."""

    def __init__(
        self,
        service: RitualService,
        channels: Channels,
        clock: Clock,
        *,
        timeout: float,
        max_attempts: int,
        max_age: timedelta,
        discreet: bool = False,
        links: LinkMaker | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.service = service
        self.store = service.store
        self.channels = channels
        self.clock = clock
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.max_age = max_age
        self.composer = Composer(service, discreet=discreet, links=links)
        self.epoch: int | None = None  # the leader epoch delivery claims are fenced with
        self.rng = rng or random.Random()

    # the first send ---------------------------------------------------------------------
    def deliver(self, nudges: Sequence[Claimed]) -> None:
        """The first send of every nudge claimed at one instant: all their rows, one attempt."""
        self._open([(n.stored, n.occurrence, self._recipients(n.stored, n.occurrence)) for n in nudges])

    def _recipients(self, stored: StoredRitual, occurrence: OccurrenceRecord) -> Sequence[str]:
        """Who a nudge goes to: the ritual's ``notify`` (everyone when empty); for a ritual two
        people keep together that one of them has done, only the one still to do it, when they
        have channels of their own."""
        if occurrence.kind is OccurrenceKind.ESCALATE:
            return stored.ritual.escalate_to
        names = stored.ritual.notify or ["all"]
        if occurrence.kind is OccurrenceKind.BEFORE and stored.ritual.turns:
            # The heads-up is for whoever plans this period, when they have a channel of their own.
            planner = self.service.planner(stored, occurrence.day)
            try:
                if self.channels.select([planner]):
                    return [planner]
            except RitualError:
                pass
        waiting = self.service.waiting_for(stored, occurrence.day)
        if not waiting or len(waiting) == len(stored.ritual.people):
            return names
        try:
            theirs = self.channels.select(list(waiting))
        except RitualError:  # nobody of them has a channel of their own: the ritual's channels
            return names
        return list(waiting) if theirs else names

    def deliver_escalation(self, stored: StoredRitual, occurrence: OccurrenceRecord) -> None:
        """The period's one escalation, to ``escalate_to`` (quiet hours hold it like any nudge)."""
        self._open([(stored, occurrence, self._recipients(stored, occurrence))])

    def deliver_household(self, occurrence: OccurrenceRecord, names: Sequence[str]) -> None:
        """A nudge that belongs to no ritual (the weekly digest) to these people or tags."""
        self._open([(None, occurrence, names or ["all"])])

    def _open(self, nudges: Sequence[tuple[StoredRitual | None, OccurrenceRecord, Sequence[str]]]) -> None:
        """Write one delivery row per nudge and channel (one transaction), then make the first
        attempt of all of them together. A channel of someone in their quiet hours gets its row
        held until they end (the retry pass sends it then), or none past the nudge's grace."""
        opened: list[tuple[StoredRitual | None, OccurrenceRecord, list[tuple[str, str]]]] = []
        for subject, occurrence, names in nudges:
            try:
                targets = self.channels.select(names)
            except RitualError as exc:
                self._fail(occurrence, f"not sent: {exc}")
                continue
            if not targets:
                self._fail(occurrence, "not sent: no channel configured (apprise.yml, or people in settings)")
                continue
            now_targets = [c for c in targets if self._held(subject, occurrence, c) is None]
            held = self._hold(subject, occurrence, [c for c in targets if c not in now_targets])
            if now_targets:
                opened.append((subject, occurrence, [(_label(c), c.target) for c in now_targets]))
            elif not held:
                self.store.decide_occurrence(
                    occurrence.id,
                    OccurrenceStatus.MISSED,
                    now=self.clock.now(),
                    note="missed: everyone's quiet hours held it past its grace",
                    expect=OccurrenceStatus.PENDING,
                )
        if not opened:
            return
        rows = self.store.add_deliveries_many(
            [(occurrence.id, pairs) for _, occurrence, pairs in opened], now=self.clock.now()
        )
        self._attempt(
            [
                (subject, occurrence, found)
                for (subject, occurrence, _), found in zip(opened, rows, strict=True)
            ]
        )

    def _held(
        self, stored: StoredRitual | None, occurrence: OccurrenceRecord, channel: Channel
    ) -> datetime | None:
        """Until when the person ``channel`` reaches is in their quiet hours (None: send now)."""
        household = self.service.household
        people = household.keys or (stored.ritual.people if stored else ())
        person = household.get(person_of(channel, people))
        if person is None:
            return None
        zone = stored.ritual.cadence.timezone if stored else self.service.default_timezone
        return person.quiet_until(self.clock.now(), zone)

    def _hold(
        self, stored: StoredRitual | None, occurrence: OccurrenceRecord, channels: Sequence[Channel]
    ) -> int:
        """Rows held until each person's quiet hours end, none past the nudge's grace; how many."""
        grace = stored.ritual.reminders.catch_up_grace if stored else DIGEST_GRACE
        held = 0
        for channel in channels:
            until = self._held(stored, occurrence, channel)
            if until is None:
                continue
            label = _label(channel)
            if until - occurrence.due_at > grace:
                name = stored.name if stored else "household"
                when = f"{occurrence.day}/{occurrence.slot}"
                log.info("%s %s: not via %s: quiet hours past the grace", name, when, label)
                continue
            now = self.clock.now()
            self.store.add_deliveries(occurrence.id, [(label, channel.target)], now=now, not_before=until)
            held += 1
        return held

    def deliver_snoozed(self, stored: StoredRitual, occurrence: OccurrenceRecord, person: str) -> None:
        """Queue a snoozed re-nudge: rows for the snoozer's channels, held back until it is due.

        The retry pass (``deliver_due``) sends them then, with the same leases and back-off.
        """
        try:
            targets = self.channels.select(stored.ritual.notify or ["all"])
        except RitualError as exc:
            self._fail(occurrence, f"not sent: {exc}")
            return
        people = self.service.household.keys or stored.ritual.people
        theirs = [c for c in targets if person and person_of(c, people) == person]
        chosen = theirs or targets
        if not chosen:
            self._fail(occurrence, "not sent: no channel configured (apprise.yml, or people in settings)")
            return
        self.store.add_deliveries(
            occurrence.id,
            [(_label(channel), channel.target) for channel in chosen],
            now=self.clock.now(),
            not_before=occurrence.due_at,
        )

    # "done" on the other phones ------------------------------------------------------------
    def can_clear(self) -> bool:
        return any(channel.can_replace for channel in self.channels)

    def clearable(self, groups: Sequence[Sequence[OccurrenceRecord]]) -> list[bool]:
        """For each group of nudges, whether a channel that got one can replace it; one read."""
        by_target = {channel.target: channel for channel in self.channels if channel.can_replace}
        if not by_target or not groups:  # nothing can replace a message: nothing to read
            return [False] * len(groups)
        sent = self.store.sent_targets([nudge.id for nudges in groups for nudge in nudges])
        return [
            any(target in by_target for nudge in nudges for target in sent.get(nudge.id, ()))
            for nudges in groups
        ]

    def _replaceable(self, nudges: Sequence[OccurrenceRecord]) -> list[Channel]:
        """The channels that delivered one of these nudges and can replace it on the phones."""
        by_target = {channel.target: channel for channel in self.channels if channel.can_replace}
        if not by_target:  # no channel can replace a message: nothing to read (the common case)
            return []
        sent = self.store.sent_targets([nudge.id for nudge in nudges])
        delivered = {target for targets in sent.values() for target in targets}
        return [by_target[t] for t in sorted(delivered) if t in by_target]

    def deliver_cleared(
        self, stored: StoredRitual, occurrence: OccurrenceRecord, nudges: Sequence[OccurrenceRecord]
    ) -> None:
        """Replace the nudges on the phones of everyone but who did it (their own tap cleared
        theirs): one delivery row per channel, sent at once, retried like any nudge."""
        done_by = set(self.service.done_by(stored, occurrence.day))
        people = self.service.household.keys or stored.ritual.people
        others = [
            c
            for c in self._replaceable(nudges)
            if not (person_of(c, people) in done_by and person_of(c, people))
        ]
        if not others:
            self.store.decide_occurrence(
                occurrence.id,
                OccurrenceStatus.SUPPRESSED,
                now=self.clock.now(),
                note="no other phone to tell",
                expect=OccurrenceStatus.PENDING,
            )
            return
        rows = self.store.add_deliveries(
            occurrence.id, [(_label(channel), channel.target) for channel in others], now=self.clock.now()
        )
        self._attempt([(stored, occurrence, rows)])

    # retries ----------------------------------------------------------------------------
    def deliver_due(self) -> int:
        """Try again every delivery whose back-off (or lost lease) is over; return how many."""
        due = self.store.due_deliveries(self.clock.now())
        if not due:
            return 0  # the common tick: nothing to retry, so nothing else to read
        self._attempt(self._batch(due))
        return len(due)

    def drain(self, limit: int = DRAIN_CHUNK) -> int:
        """Claim and send up to ``limit`` due deliveries, whichever daemon wrote them; how many.

        Any daemon of a shared PostgreSQL database may call it, leader or standby: each row
        goes to exactly one of them (``claim_due_deliveries``), and its lease makes a sender
        killed mid-send re-send at most once, as in every other attempt.
        """
        now = self.clock.now()
        lease_until = now + timedelta(seconds=self.timeout) + ON_TIME
        claimed = self.store.claim_due_deliveries(now=now, lease_until=lease_until, limit=limit)
        if claimed:
            self._send_claimed(self._batch(claimed))
        return len(claimed)

    def _batch(self, rows: Sequence[DeliveryRecord]) -> list[_Attempt]:
        """Delivery rows grouped by their occurrence, with its ritual (None: household)."""
        by_occurrence: dict[int, list[DeliveryRecord]] = {}
        for row in rows:
            by_occurrence.setdefault(row.occurrence_id, []).append(row)
        occurrences = self.store.occurrences_by_id(list(by_occurrence))
        rituals = self.store.rituals_by_id(
            {o.ritual_id for o in occurrences.values() if o.ritual_id is not None}, include_removed=True
        )
        batch: list[_Attempt] = []
        for occurrence_id, mine in by_occurrence.items():
            occurrence = occurrences.get(occurrence_id)
            if occurrence is None:
                continue
            if occurrence.ritual_id is None:
                batch.append((None, occurrence, mine))
            elif (stored := rituals.get(occurrence.ritual_id)) is not None:
                batch.append((stored, occurrence, mine))
        return batch

    # after a crash ------------------------------------------------------------------------
    def recover(self) -> int:
        """Finish what a process that died mid-nudge left pending; how many it took up.

        A claim commits before its delivery rows, and a delivery's outcome before its
        occurrence's: a kill between two such steps leaves a pending occurrence that no retry
        pass would see. Run at start and on taking the lead, before any timer is armed. An
        occurrence with no rows is opened now (recorded missed if it is past its ritual's
        catch-up grace); one whose rows have all ended is settled. Opening is idempotent per
        channel, so racing another daemon's late write sends nothing twice.
        """
        now = self.clock.now()
        pending = self.store.occurrences(statuses=[OccurrenceStatus.PENDING])
        if not pending:
            return 0
        rituals = self.store.rituals_by_id(
            {o.ritual_id for o in pending if o.ritual_id is not None}, include_removed=True
        )
        statuses = self.store.delivery_statuses([occurrence.id for occurrence in pending])
        taken = 0
        for occurrence in pending:
            found = statuses.get(occurrence.id)
            if found:
                if found <= _ENDED:
                    self._settle([occurrence])
                    taken += 1
                continue
            taken += 1
            stored = None if occurrence.ritual_id is None else rituals.get(occurrence.ritual_id)
            if occurrence.ritual_id is not None and (stored is None or stored.removed_at is not None):
                self._fail(occurrence, "not sent: its ritual is gone")
                continue
            grace = stored.ritual.reminders.catch_up_grace if stored else DIGEST_GRACE
            if now - occurrence.due_at > grace and occurrence.kind != OccurrenceKind.SNOOZE:
                log.warning(
                    "occurrence %s/%s: the daemon stopped before sending it", occurrence.day, occurrence.slot
                )
                self.store.decide_occurrence(
                    occurrence.id,
                    OccurrenceStatus.MISSED,
                    now=now,
                    note="not sent: the daemon stopped before sending it, and it is past its grace",
                    expect=OccurrenceStatus.PENDING,
                )
            elif stored is None:
                self._open([(None, occurrence, ["all"])])
            elif occurrence.kind == OccurrenceKind.SNOOZE:
                self.deliver_snoozed(stored, occurrence, "")
            else:
                log.info(
                    "%s %s/%s: sending what a stopped daemon had claimed",
                    stored.name,
                    occurrence.day,
                    occurrence.slot,
                )
                self._open([(stored, occurrence, self._recipients(stored, occurrence))])
        return taken

    # one attempt --------------------------------------------------------------------------
    def _attempt(self, batch: Sequence[_Attempt]) -> None:
        """One attempt at these nudges' rows: claimed in one transaction, every send at once,
        every outcome recorded in one transaction, the occurrences settled together."""
        now = self.clock.now()
        lease_until = now + timedelta(seconds=self.timeout) + ON_TIME
        wanted = [row.id for _, _, rows in batch for row in rows]
        claimed = self.store.claim_deliveries(wanted, now=now, lease_until=lease_until, epoch=self.epoch)
        mine: dict[int, list[DeliveryRecord]] = {}
        for row in claimed:
            mine.setdefault(row.occurrence_id, []).append(row)
        self._send_claimed([(s, o, mine[o.id]) for s, o, _ in batch if o.id in mine])

    def _send_claimed(self, ours: Sequence[_Attempt]) -> None:
        """Send rows this daemon claimed, record every outcome together, settle their nudges."""
        now = self.clock.now()
        outcomes: list[DeliveryOutcome] = []
        # A snoozed re-nudge whose period got kept meanwhile is not sent at all.
        why = "done before the snooze ended"
        for stored, occurrence, rows in ours:
            if (
                stored is not None
                and occurrence.kind == OccurrenceKind.SNOOZE
                and self._kept(stored, occurrence)
            ):
                outcomes += [_outcome(row, DeliveryStatus.CANCELLED, why) for row in rows]
                self.store.decide_occurrence(
                    occurrence.id,
                    OccurrenceStatus.SUPPRESSED,
                    now=now,
                    note=why,
                    expect=OccurrenceStatus.PENDING,
                )
        cancelled = {outcome.delivery_id for outcome in outcomes}
        ours = [(s, o, rows) for s, o, rows in ours if rows[0].id not in cancelled]
        messages = self.composer.messages([(stored, occurrence) for stored, occurrence, _ in ours])
        by_target = {channel.target: channel for channel in self.channels}
        sends: list[tuple[str, DeliveryRecord, Channel, Message]] = []
        for stored, occurrence, rows in ours:
            message = messages[occurrence.id]
            nudge = f"{stored.name if stored else 'household'} {occurrence.day}/{occurrence.slot}"
            for row in rows:
                if (channel := by_target.get(row.target)) is None:
                    outcomes.append(_outcome(row, DeliveryStatus.FAILED, "channel no longer configured"))
                else:
                    linked = self.composer.with_links(message, stored, occurrence, channel)
                    sends.append((nudge, row, channel, linked))
        if sends:
            channels = [channel for _, _, channel, _ in sends]
            results = self.channels.send(channels, [message for *_, message in sends], timeout=self.timeout)
            after = self.clock.now()
            outcomes += [
                self._judge(nudge, row, result.ok, result.permanent, result.error, after)
                for (nudge, row, _, _), result in zip(sends, results, strict=True)
            ]
        if outcomes:
            self._finish_all(outcomes)
        self._settle([occurrence for _, occurrence, _ in ours])

    def _judge(
        self, nudge: str, row: DeliveryRecord, ok: bool, permanent: bool, error: str, after: datetime
    ) -> DeliveryOutcome:
        """One attempt's outcome: sent, failed for good, given up, or due again later."""
        if ok:
            log.info("%s delivered via %s", nudge, row.channel)
            return _outcome(row, DeliveryStatus.SENT)
        if permanent:
            log.error("%s failed via %s: %s", nudge, row.channel, error)
            return _outcome(row, DeliveryStatus.FAILED, error)
        if row.attempts >= self.max_attempts or after - row.created_at >= self.max_age:
            log.error("%s given up via %s after %d tries: %s", nudge, row.channel, row.attempts, error)
            return _outcome(row, DeliveryStatus.GIVEN_UP, error)
        wait = backoff(row.attempts, self.rng)
        log.warning("%s will retry via %s in %ds: %s", nudge, row.channel, wait.total_seconds(), error)
        return _outcome(row, DeliveryStatus.RETRY, error, retry_at=after + wait)

    def _finish_all(self, outcomes: Sequence[DeliveryOutcome]) -> None:
        """Every outcome of one attempt in one transaction."""
        self.store.finish_deliveries(outcomes, now=self.clock.now())

    def _settle(self, occurrences: Sequence[OccurrenceRecord]) -> None:
        """Each occurrence is sent once any channel has it; failed once none can get it.

        A failed one that `ritual retry` brought back and a channel now has is sent too, or
        `ritual status` would go on showing a delivered nudge as failed. One read of the rows'
        statuses and one transaction for all the decisions.
        """
        if not occurrences:
            return
        statuses = self.store.delivery_statuses([occurrence.id for occurrence in occurrences])
        sent: dict[OccurrenceStatus, list[int]] = {OccurrenceStatus.SENT: [], OccurrenceStatus.LATE: []}
        failed: list[int] = []
        for occurrence in occurrences:
            found = statuses.get(occurrence.id, set())
            if DeliveryStatus.SENT in found:
                late = occurrence.created_at - occurrence.due_at > ON_TIME
                sent[OccurrenceStatus.LATE if late else OccurrenceStatus.SENT].append(occurrence.id)
            elif found and found <= {DeliveryStatus.FAILED, DeliveryStatus.GIVEN_UP}:
                failed.append(occurrence.id)
        now = self.clock.now()
        with self.store.transaction():
            for status, ids in sent.items():
                if not ids:
                    continue
                changed = self.store.decide_occurrences(ids, status, now=now, expect=OccurrenceStatus.PENDING)
                if retried := [i for i in ids if i not in changed]:
                    self.store.decide_occurrences(
                        retried, status, now=now, note="sent after a retry", expect=OccurrenceStatus.FAILED
                    )
            if failed:
                self.store.decide_occurrences(
                    failed,
                    OccurrenceStatus.FAILED,
                    now=now,
                    note="no channel delivered it (see `ritual status`)",
                    expect=OccurrenceStatus.PENDING,
                )

    def _kept(self, stored: StoredRitual, occurrence: OccurrenceRecord) -> bool:
        return stored.removed_at is not None or self.service.period_kept(stored, occurrence.day)

    def _fail(self, occurrence: OccurrenceRecord, note: str) -> None:
        log.error("occurrence %s/%s: %s", occurrence.day, occurrence.slot, note)
        self.store.decide_occurrence(
            occurrence.id,
            OccurrenceStatus.FAILED,
            now=self.clock.now(),
            note=note,
            expect=OccurrenceStatus.PENDING,
        )


# One attempt's share of a nudge: its ritual (None: household), occurrence, and delivery rows.
_Attempt = tuple[StoredRitual | None, OccurrenceRecord, Sequence[DeliveryRecord]]


def _outcome(
    row: DeliveryRecord, status: DeliveryStatus, error: str = "", *, retry_at: datetime | None = None
) -> DeliveryOutcome:
    """The outcome of the attempt that claimed ``row`` (its attempt count guards the write)."""
    return DeliveryOutcome(row.id, status, error, retry_at, row.attempts)


def _label(channel: Channel) -> str:
    """Who and where, safe to show and store: "alex ntfy://ntfy.example/****"."""
    return f"{','.join(channel.tags) or '-'} {channel.masked}"
