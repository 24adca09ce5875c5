"""The outbox: one delivery row per (occurrence, channel), written before the send, updated after.

A delivery is claimed with a lease before each attempt, so a crash between the
send and the commit re-sends it at most once, after the lease. Transient
failures (a push server down, a 503, a timeout) are retried with a growing,
jittered back-off until ``max_attempts`` or ``max_age``; permanent ones (bad
credentials, a 4xx, an unknown scheme) are not. One failing channel never
delays the others: each attempt sends to all its channels at once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

from scheduler.clock import Clock
from scheduler.errors import RitualError
from scheduler.firing import Verdict
from scheduler.messages import Message, render_message
from scheduler.notify import Channel, Channels, find_config_file, load_channels, send_all
from scheduler.nudges import ON_TIME, DigestPlan, Nudger
from scheduler.reminders import NudgeKind, parse_duration
from scheduler.service import RitualService
from scheduler.settings import Settings
from scheduler.store import (
    DeliveryRecord,
    DeliveryStatus,
    OccurrenceRecord,
    OccurrenceStatus,
    StoredRitual,
)

log = logging.getLogger("scheduler.outbox")

FIRST_RETRY = timedelta(seconds=30)
LONGEST_WAIT = timedelta(hours=1)
# The example plugins of plugins/: beside the package in a checkout, inside it once installed.
_CHECKOUT_PLUGINS = Path(__file__).resolve().parents[1] / "plugins"
SHIPPED_PLUGINS = (
    _CHECKOUT_PLUGINS if _CHECKOUT_PLUGINS.is_dir() else Path(__file__).parent / "shipped_plugins"
)


def backoff(attempts: int, rng: random.Random) -> timedelta:
    """Wait before the next try: doubling from 30 s, at most an hour, jittered by +-25%."""
    base: timedelta = min(FIRST_RETRY * 2 ** max(attempts - 1, 0), LONGEST_WAIT)
    return base * rng.uniform(0.75, 1.25)


class AppriseOutbox:
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
        rng: random.Random | None = None,
    ) -> None:
        self.service = service
        self.store = service.store
        self.channels = channels
        self.clock = clock
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.max_age = max_age
        self.discreet = discreet
        self.rng = rng or random.Random()

    # the first send ---------------------------------------------------------------------
    def deliver(self, stored: StoredRitual, occurrence: OccurrenceRecord, verdict: Verdict) -> None:
        self._open(stored, occurrence, stored.ritual.notify or ["all"])

    def deliver_household(self, occurrence: OccurrenceRecord, names: Sequence[str]) -> None:
        """A nudge that belongs to no ritual (the weekly digest) to these people or tags."""
        self._open(None, occurrence, names or ["all"])

    def _open(self, subject: StoredRitual | None, occurrence: OccurrenceRecord, names: Sequence[str]) -> None:
        """Write one delivery row per channel, then make the first attempt."""
        now = self.clock.now()
        try:
            targets = self.channels.select(names)
        except RitualError as exc:
            self._fail(occurrence, f"not sent: {exc}")
            return
        if not targets:
            self._fail(occurrence, "not sent: no channel configured (apprise.yml, or people in settings)")
            return
        rows = self.store.add_deliveries(
            occurrence.id, [(_label(channel), channel.target) for channel in targets], now=now
        )
        self._attempt(subject, occurrence, rows)

    # retries ----------------------------------------------------------------------------
    def deliver_due(self) -> int:
        """Try again every delivery whose back-off (or lost lease) is over; return how many."""
        due = self.store.due_deliveries(self.clock.now())
        if not due:
            return 0  # the common tick: nothing to retry, so nothing else to read
        by_occurrence: dict[int, list[DeliveryRecord]] = {}
        for row in due:
            by_occurrence.setdefault(row.occurrence_id, []).append(row)
        rituals = {s.id: s for s in self.store.list_rituals(include_removed=True)}
        for occurrence_id, rows in by_occurrence.items():
            occurrence = self.store.get_occurrence(occurrence_id)
            if occurrence is None:
                continue
            if occurrence.ritual_id is None:
                self._attempt(None, occurrence, rows)
            elif (stored := rituals.get(occurrence.ritual_id)) is not None:
                self._attempt(stored, occurrence, rows)
        return len(due)

    # one attempt --------------------------------------------------------------------------
    def _attempt(
        self, stored: StoredRitual | None, occurrence: OccurrenceRecord, rows: Sequence[DeliveryRecord]
    ) -> None:
        now = self.clock.now()
        lease_until = now + timedelta(seconds=self.timeout) + ON_TIME
        claimed = [
            row
            for row in (self.store.claim_delivery(r.id, now=now, lease_until=lease_until) for r in rows)
            if row is not None
        ]
        if not claimed:
            return
        by_target = {channel.target: channel for channel in self.channels}
        sendable = [row for row in claimed if row.target in by_target]
        for row in claimed:
            if row.target not in by_target:
                self._finish(row, DeliveryStatus.FAILED, "channel no longer configured", attempt=row.attempts)
        message = self._message(stored, occurrence)
        channels = [by_target[row.target] for row in sendable]
        results = asyncio.run(send_all(channels, message, timeout=self.timeout)) if channels else []
        after = self.clock.now()
        nudge = f"{stored.name if stored else 'household'} {occurrence.day}/{occurrence.slot}"
        for row, result in zip(sendable, results, strict=True):
            self._record(nudge, row, result.ok, result.permanent, result.error, after)
        self._settle(occurrence)

    def _record(
        self, nudge: str, row: DeliveryRecord, ok: bool, permanent: bool, error: str, after: datetime
    ) -> None:
        """Write one attempt's outcome: sent, failed for good, given up, or due again later."""
        if ok:
            self._finish(row, DeliveryStatus.SENT, "", attempt=row.attempts)
            log.info("%s delivered via %s", nudge, row.channel)
        elif permanent:
            self._finish(row, DeliveryStatus.FAILED, error, attempt=row.attempts)
            log.error("%s failed via %s: %s", nudge, row.channel, error)
        elif row.attempts >= self.max_attempts or after - row.created_at >= self.max_age:
            self._finish(row, DeliveryStatus.GIVEN_UP, error, attempt=row.attempts)
            log.error("%s given up via %s after %d tries: %s", nudge, row.channel, row.attempts, error)
        else:
            wait = backoff(row.attempts, self.rng)
            self._finish(row, DeliveryStatus.RETRY, error, attempt=row.attempts, retry_at=after + wait)
            log.warning("%s will retry via %s in %ds: %s", nudge, row.channel, wait.total_seconds(), error)

    def _finish(
        self,
        row: DeliveryRecord,
        status: DeliveryStatus,
        error: str,
        *,
        attempt: int,
        retry_at: datetime | None = None,
    ) -> None:
        self.store.finish_delivery(
            row.id, status, now=self.clock.now(), error=error, next_attempt_at=retry_at, attempt=attempt
        )

    def _settle(self, occurrence: OccurrenceRecord) -> None:
        """The occurrence is sent once any channel has it; failed once none can get it.

        A failed one that `ritual retry` brought back and a channel now has is sent too, or
        `ritual status` would go on showing a delivered nudge as failed.
        """
        statuses = {row.status for row in self.store.deliveries(occurrence_id=occurrence.id)}
        now = self.clock.now()
        if DeliveryStatus.SENT in statuses:
            late = occurrence.created_at - occurrence.due_at > ON_TIME
            status = OccurrenceStatus.LATE if late else OccurrenceStatus.SENT
            if not self.store.decide_occurrence(
                occurrence.id, status, now=now, expect=OccurrenceStatus.PENDING
            ):
                self.store.decide_occurrence(
                    occurrence.id, status, now=now, note="sent after a retry", expect=OccurrenceStatus.FAILED
                )
        elif statuses and statuses <= {DeliveryStatus.FAILED, DeliveryStatus.GIVEN_UP}:
            self.store.decide_occurrence(
                occurrence.id,
                OccurrenceStatus.FAILED,
                now=now,
                note="no channel delivered it (see `ritual status`)",
                expect=OccurrenceStatus.PENDING,
            )

    def _fail(self, occurrence: OccurrenceRecord, note: str) -> None:
        log.error("occurrence %s/%s: %s", occurrence.day, occurrence.slot, note)
        self.store.decide_occurrence(
            occurrence.id,
            OccurrenceStatus.FAILED,
            now=self.clock.now(),
            note=note,
            expect=OccurrenceStatus.PENDING,
        )

    def _message(self, stored: StoredRitual | None, occurrence: OccurrenceRecord) -> Message:
        if stored is None:
            return self._digest()
        ritual = stored.ritual
        late_by = occurrence.created_at - occurrence.due_at
        streak, period, at_risk = 0, ritual.cadence.every.value, False
        if stored.removed_at is None:
            row = self.service.streak_rows([ritual.name])[0]
            streak, period, at_risk = row["current_streak"], row["period"], row["at_risk"]
        kinds = {kind.value: kind for kind in NudgeKind}
        kind = kinds.get(str(occurrence.kind), NudgeKind.DUE)
        return render_message(
            title=ritual.title,
            description=ritual.description,
            kind=kind,
            streak=streak,
            period=period,
            at_risk=at_risk,
            late_by=late_by if late_by > ON_TIME else None,
            discreet=ritual.discreet or self.discreet,
        )

    def _digest(self) -> Message:
        from scheduler.report import digest_text, digest_title

        today = self.service.household_today()
        return Message(title=digest_title(today), body=digest_text(self.service.report_inputs(), today))


def _label(channel: Channel) -> str:
    """Who and where, safe to show and store: "alex ntfy://ntfy.example/****"."""
    return f"{','.join(channel.tags) or '-'} {channel.masked}"


def load_household_channels(settings: Settings, *, strict: bool) -> Channels:
    """Every channel the settings, the Apprise config and systemd credentials describe."""
    credentials = os.environ.get("CREDENTIALS_DIRECTORY")
    folders = [SHIPPED_PLUGINS] if SHIPPED_PLUGINS.is_dir() else []
    return load_channels(
        config_file=settings.apprise_config or find_config_file(settings.config_dir),
        urls=settings.people,
        plugin_paths=[*folders, *settings.plugin_folders],
        credentials_dir=Path(credentials) if credentials else None,
        strict=strict,
    )


def make_nudger(settings: Settings, service: RitualService) -> Nudger:
    """The daemon's nudge path, wired to the channels the settings describe."""
    channels = load_household_channels(settings, strict=False)
    for problem in channels.problems:
        log.error("channel problem: %s", problem)
    outbox = AppriseOutbox(
        service,
        channels,
        service.clock,
        timeout=settings.send_timeout,
        max_attempts=settings.max_attempts,
        max_age=parse_duration(settings.max_age),
        discreet=settings.discreet,
    )
    digest = None
    if settings.digest_on != "off":
        digest = DigestPlan.weekly(
            settings.digest_on, settings.digest_at, settings.default_timezone, settings.digest_to
        )
    return Nudger(service, outbox, service.clock, digest=digest)
