"""In-memory stand-ins for the seams the nudge path talks through."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date

from scheduler.adapters.clock import FakeClock
from scheduler.app.nudging import Claimed
from scheduler.app.ports import Channel, SendResult, Store
from scheduler.app.stored import OccurrenceRecord, OccurrenceStatus, StoredRitual
from scheduler.domain.firing import Decision
from scheduler.domain.messages import Message


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


@dataclass(frozen=True)
class Phone:
    """One person's channel, as the Channels port shows it; ``replaces``: ntfy-like."""

    person: str
    replaces: bool = False

    @property
    def tags(self) -> tuple[str, ...]:
        return (self.person,)

    @property
    def masked(self) -> str:
        return f"fake://{self.person}"

    @property
    def target(self) -> str:
        return f"t-{self.person}"

    @property
    def can_replace(self) -> bool:
        return self.replaces


@dataclass
class Phones:
    """The household's channels: Alex's phone and Sam's; every message each got, in order."""

    channels: list[Phone] = field(default_factory=lambda: [Phone("alex"), Phone("sam")])
    sent: list[tuple[str, Message]] = field(default_factory=list)

    def __iter__(self) -> Iterator[Phone]:
        return iter(self.channels)

    def __len__(self) -> int:
        return len(self.channels)

    @property
    def problems(self) -> tuple[str, ...]:
        return ()

    def select(self, names: Sequence[str]) -> list[Phone]:
        wanted = set(names)
        return [c for c in self.channels if "all" in wanted or c.person in wanted]

    def send(
        self, channels: Sequence[Channel], messages: Sequence[Message], *, timeout: float
    ) -> list[SendResult]:
        self.sent.extend((c.tags[0], m) for c, m in zip(channels, messages, strict=True))
        return [SendResult(c.target, c.masked, ok=True) for c in channels]
