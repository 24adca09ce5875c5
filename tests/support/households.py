"""A household in one SQLite file: store, service, channels, outbox and nudger under a FakeClock.

Tests that send real nudges through real channels build one per case (the ``households``
fixture of tests/conftest.py) and move its clock by hand, so back-off is checked to the second
and nothing sleeps.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from scheduler.adapters.clock import FakeClock
from scheduler.adapters.notify import load_channels
from scheduler.adapters.store import SqlStore
from scheduler.app.nudging import Nudger
from scheduler.app.outbox import ChannelOutbox
from scheduler.app.service import RitualService
from scheduler.app.stored import (
    DeliveryRecord,
    DeliveryStatus,
    OccurrenceRecord,
    RitualSource,
    StoredRitual,
)
from scheduler.domain.definitions import ritual_from_table

TITLE = "20 minutes, phones away"
DESCRIPTION = "Sit together and talk."
START = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
DUE = datetime(2026, 11, 24, 20, 30, tzinfo=UTC)  # when a ritual added with the defaults is due
TIMEOUT = 2.0
WAITING = {DeliveryStatus.PENDING, DeliveryStatus.RETRY, DeliveryStatus.SENDING}
LINK_KEY = b"k" * 32  # keys the channel ids the outbox stores


class Household:
    """One home as the daemon wires it, in ``tmp_path``, with ``urls`` as its channels by person."""

    def __init__(
        self,
        tmp_path: Path,
        urls: Mapping[str, Sequence[str]],
        *,
        max_attempts: int = 20,
        max_age: timedelta = timedelta(days=1),
        discreet: bool = False,
    ) -> None:
        self.clock = FakeClock(START)
        self.store = SqlStore.open(f"sqlite:///{tmp_path / 'ritual.db'}")
        self.service = RitualService(
            self.store, self.clock, ritual_file=tmp_path / "none.toml", default_timezone="UTC"
        )
        self.channels = load_channels(
            config_file=None, urls=urls, plugin_paths=[], credentials_dir=None, link_key=LINK_KEY
        )
        self.outbox = self.new_outbox(max_attempts=max_attempts, max_age=max_age, discreet=discreet)
        self.nudger = Nudger(self.service, self.outbox, self.clock)

    def new_outbox(
        self, *, max_attempts: int = 20, max_age: timedelta = timedelta(days=1), discreet: bool = False
    ) -> ChannelOutbox:
        """An outbox as a (re)started daemon builds it; seeded, so the jitter is the same every run."""
        return ChannelOutbox(
            self.service,
            self.channels,
            self.clock,
            timeout=TIMEOUT,
            max_attempts=max_attempts,
            max_age=max_age,
            discreet=discreet,
            rng=random.Random(20261124),
        )

    def add(self, name: str = "talk", **table: object) -> StoredRitual:
        defaults: dict[str, object] = {"title": TITLE, "description": DESCRIPTION, "at": "20:30"}
        ritual = ritual_from_table(
            {"name": name, "start": "2026-11-01", "timezone": "UTC", **defaults, **table}
        )
        return self.store.save_ritual(
            ritual, RitualSource.CLI, now=self.clock.now(), effective_from=date(2026, 11, 1)
        )

    def fire(self, stored: StoredRitual) -> OccurrenceRecord:
        """Move to the ritual's next timer and handle it, as the daemon does; the occurrence made."""
        wake = self.nudger.next_wakeup(stored)
        assert wake is not None
        self.clock.set(wake)
        handled = self.nudger.handle_due(stored)
        assert len(handled.verdicts) == 1, handled
        return self.occurrence(stored)

    def occurrence(self, stored: StoredRitual) -> OccurrenceRecord:
        return self.store.occurrences(ritual_id=stored.id, limit=1)[0]

    def deliveries(self) -> list[DeliveryRecord]:
        return sorted(self.store.deliveries(), key=lambda d: d.id)

    def next_retry(self) -> datetime | None:
        waiting = [d.next_attempt_at or self.clock.now() for d in self.deliveries() if d.status in WAITING]
        return min(waiting, default=None)

    def drain(self, until: datetime | None = None) -> list[timedelta]:
        """Jump to each retry as it falls due and run it; the waits the outbox chose, in order."""
        waits = []
        while (due := self.next_retry()) is not None and (until is None or due <= until):
            waits.append(due - self.clock.now())
            self.clock.set(max(due, self.clock.now()))
            assert self.outbox.deliver_due() >= 1
            assert len(waits) < 50, "the outbox never settles"
        return waits

    def run_until(self, end: datetime, rituals: Sequence[StoredRitual]) -> None:
        """The daemon's loop in fast-forward: each ritual's timer and each retry, in time order."""
        while True:
            timers = {s.id: self.nudger.next_wakeup(s) for s in rituals}
            events = [t for t in [*timers.values(), self.next_retry()] if t is not None]
            if not events or min(events) > end:
                self.clock.set(end)
                return
            now = min(events)
            self.clock.set(max(now, self.clock.now()))
            for stored in rituals:
                if timers[stored.id] == now:
                    self.nudger.handle_due(stored)
            self.outbox.deliver_due()
