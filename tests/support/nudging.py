"""A nudge path on a real SQLite file with a fake clock and a fake outbox: the nudger's world."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from scheduler.adapters.clock import FakeClock
from scheduler.adapters.store import SqlStore
from scheduler.app.nudging import Nudger
from scheduler.app.service import RitualService
from scheduler.app.stored import OccurrenceRecord, RitualSource, StoredRitual
from scheduler.domain.definitions import ritual_from_table
from tests.support.fakes import FakeOutbox


class World:
    def __init__(self, tmp_path: Path, now: datetime) -> None:
        tmp_path.mkdir(parents=True, exist_ok=True)
        self.clock = FakeClock(now)
        self.store = SqlStore.open(f"sqlite:///{tmp_path / 'ritual.db'}")
        self.service = RitualService(
            self.store, self.clock, ritual_file=tmp_path / "none.toml", default_timezone="UTC"
        )
        self.outbox = FakeOutbox(self.store, self.clock)
        self.nudger = Nudger(self.service, self.outbox, self.clock)

    def add(self, **table: object) -> StoredRitual:
        ritual = ritual_from_table({"name": "talk", "start": "2026-01-01", **table})
        return self.store.save_ritual(
            ritual, RitualSource.CLI, now=self.clock.now(), effective_from=date(2026, 1, 1)
        )

    def run_until(self, stored: StoredRitual, end: datetime) -> None:
        """Jump from timer to timer, as the daemon's scheduler would, up to ``end``."""
        while True:
            wake = self.nudger.next_wakeup(stored)
            if wake is None or wake > end:
                self.clock.set(end)
                return
            self.clock.set(wake)
            self.nudger.handle_due(stored)

    def occurrences(self, stored: StoredRitual) -> list[OccurrenceRecord]:
        return sorted(self.store.occurrences(ritual_id=stored.id), key=lambda o: o.due_at)
