"""In-memory stand-ins for the seams the nudge path talks through."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import date

from scheduler.adapters.clock import FakeClock
from scheduler.app.nudging import Claimed
from scheduler.app.ports import Store
from scheduler.app.stored import OccurrenceRecord, OccurrenceStatus, StoredRitual
from scheduler.domain.firing import Decision


class FakeOutbox:
    """Records what would be sent and marks the occurrence as the real outbox would."""

    def __init__(self, store: Store, clock: FakeClock) -> None:
        self.store = store
        self.clock = clock
        self.sent: list[tuple[str, date, str, Decision]] = []
        self.snoozed: list[tuple[str, str, str]] = []
        self.batches: list[int] = []  # how many nudges each deliver() call got
        self.epoch: int | None = None
        self._lock = threading.Lock()

    def deliver(self, nudges: Sequence[Claimed]) -> None:
        self.batches.append(len(nudges))
        for stored, occurrence, verdict in nudges:
            with self._lock:
                self.sent.append((stored.name, occurrence.day, occurrence.slot, verdict.decision))
            status = OccurrenceStatus.LATE if verdict.decision is Decision.LATE else OccurrenceStatus.SENT
            self.store.decide_occurrence(occurrence.id, status, now=self.clock.now())

    def deliver_escalation(self, stored: StoredRitual, occurrence: OccurrenceRecord) -> None:
        with self._lock:
            self.sent.append((stored.name, occurrence.day, occurrence.slot, Decision.SEND))
        self.store.decide_occurrence(occurrence.id, OccurrenceStatus.SENT, now=self.clock.now())

    def deliver_household(self, occurrence: OccurrenceRecord, names: Sequence[str]) -> None:
        with self._lock:
            self.sent.append(("household", occurrence.day, occurrence.slot, Decision.SEND))
        self.store.decide_occurrence(occurrence.id, OccurrenceStatus.SENT, now=self.clock.now())

    def deliver_due(self) -> int:
        return 0

    def drain(self) -> int:
        return 0

    def recover(self) -> int:
        return 0

    def can_clear(self) -> bool:
        return False  # nothing here replaces a nudge on a phone

    def clearable(self, groups: Sequence[Sequence[OccurrenceRecord]]) -> list[bool]:
        return [False] * len(groups)

    def deliver_cleared(
        self, stored: StoredRitual, occurrence: OccurrenceRecord, nudges: Sequence[OccurrenceRecord]
    ) -> None:
        raise AssertionError("a fake outbox has nothing to clear")

    def deliver_snoozed(self, stored: StoredRitual, occurrence: OccurrenceRecord, person: str) -> None:
        with self._lock:
            self.snoozed.append((stored.name, occurrence.slot, person))
