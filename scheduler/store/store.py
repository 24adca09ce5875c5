"""Store: open (migrating first), then read and write rituals and what people did."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime

from scheduler.definitions import Ritual
from scheduler.store.records import (
    CadenceVersion,
    CompletionRecord,
    PauseRecord,
    RitualSource,
    SkipRecord,
    StoredRitual,
)


class Store:
    @classmethod
    def open(cls, url: str) -> Store:
        """Connect, create the SQLite file (0600, WAL, busy timeout) if needed, migrate to head.

        Raises SchemaTooNewError when the database carries a revision this code does not know.
        """
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group several writes into one transaction (nested calls join the outer one)."""
        raise NotImplementedError
        yield

    # rituals -------------------------------------------------------------
    def get_ritual(self, name: str, *, include_removed: bool = False) -> StoredRitual | None:
        raise NotImplementedError

    def list_rituals(self, *, include_removed: bool = False) -> list[StoredRitual]:
        raise NotImplementedError

    def save_ritual(
        self, ritual: Ritual, source: RitualSource, *, now: datetime, effective_from: date
    ) -> StoredRitual:
        """Insert or update by name (reviving a removed one); a changed cadence appends a version."""
        raise NotImplementedError

    def remove_ritual(self, name: str, *, now: datetime) -> None:
        """Retire the ritual; its completions, skips and pauses are kept."""
        raise NotImplementedError

    def cadence_history(self, ritual_id: int) -> list[CadenceVersion]:
        """All cadence versions, oldest first."""
        raise NotImplementedError

    # what people did -----------------------------------------------------
    def add_completion(
        self,
        ritual_id: int,
        *,
        day: date,
        at: datetime,
        period_key: str,
        by: str,
        note: str,
        source: str,
        occurrence: str | None,
        now: datetime,
    ) -> tuple[CompletionRecord, bool]:
        """Record a completion; with an occurrence key, a repeat by the same person returns the
        existing one and False instead of adding a second."""
        raise NotImplementedError

    def delete_completion(self, completion_id: int) -> CompletionRecord | None:
        raise NotImplementedError

    def completions(self, ritual_id: int, *, since: date | None = None) -> list[CompletionRecord]:
        """Oldest first (by day, then at, then id)."""
        raise NotImplementedError

    def last_completion(self, ritual_id: int) -> CompletionRecord | None:
        """The most recently recorded (highest id), for `ritual undo`."""
        raise NotImplementedError

    def add_skip(self, ritual_id: int, *, day: date, reason: str, now: datetime) -> SkipRecord:
        raise NotImplementedError

    def skips(self, ritual_id: int) -> list[SkipRecord]:
        raise NotImplementedError

    def add_pause(
        self, ritual_id: int, *, start: date, until: date | None, reason: str, now: datetime
    ) -> PauseRecord:
        raise NotImplementedError

    def end_pauses(self, ritual_id: int, *, last_day: date) -> int:
        """Close every pause still running on ``last_day`` so it ends that day; return how many."""
        raise NotImplementedError

    def pauses(self, ritual_id: int) -> list[PauseRecord]:
        raise NotImplementedError

    # small key/value state (e.g. the ritual file's last synced hash) ----
    def get_meta(self, key: str) -> str | None:
        raise NotImplementedError

    def set_meta(self, key: str, value: str) -> None:
        raise NotImplementedError
