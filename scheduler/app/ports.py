"""The ports: what the use cases need from the world, as small interfaces.

Adapters implement them (the SQL store, the system clock, the Apprise channels);
tests hand in fakes. Nothing here names a library.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol, overload

from scheduler.app.stored import (
    ApiTokenRecord,
    CompletionRecord,
    DeliveryOutcome,
    DeliveryRecord,
    DeliveryStatus,
    LeaderInfo,
    OccurrenceClaim,
    OccurrenceKey,
    OccurrenceKind,
    OccurrenceRecord,
    OccurrenceStatus,
    PauseRecord,
    RitualSource,
    SkipRecord,
    StoredRitual,
)
from scheduler.domain.cadence import CadenceVersion
from scheduler.domain.definitions import Ritual
from scheduler.domain.messages import Message


class Clock(Protocol):
    """Something that says what time it is, always as an aware UTC datetime."""

    def now(self) -> datetime: ...


class Store(Protocol):
    """The repository: rituals, what people did, the nudges and their deliveries, tokens.

    It never reads the clock (callers pass ``now``) and hands out the plain records of
    ``scheduler.app.stored``. ``scheduler.adapters.store.SqlStore`` implements it on SQLite
    and PostgreSQL. ``epoch`` arguments fence claims with the leader's election epoch.
    """

    def close(self) -> None: ...

    def transaction(self) -> AbstractContextManager[None]:
        """Group several writes into one transaction (nested calls join the outer one)."""
        ...

    def get_ritual(self, name: str, *, include_removed: bool = False) -> StoredRitual | None: ...

    def ritual_by_id(self, ritual_id: int, *, include_removed: bool = False) -> StoredRitual | None: ...

    def rituals_named(self, names: Collection[str]) -> dict[str, StoredRitual]: ...

    def list_rituals(self, *, include_removed: bool = False) -> list[StoredRitual]: ...

    def save_ritual(
        self, ritual: Ritual, source: RitualSource, *, now: datetime, effective_from: date
    ) -> StoredRitual: ...

    def remove_ritual(self, name: str, *, now: datetime) -> None: ...

    def cadence_history(self, ritual_id: int) -> list[CadenceVersion]: ...

    def cadence_histories(self, ritual_ids: Collection[int]) -> dict[int, list[CadenceVersion]]: ...

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
    ) -> tuple[CompletionRecord, bool]: ...

    def delete_completion(self, completion_id: int) -> CompletionRecord | None: ...

    def completions(self, ritual_id: int, *, since: date | None = None) -> list[CompletionRecord]: ...

    def completion_marks(self, ritual_id: int) -> list[tuple[date, str]]: ...

    def completion_marks_of(
        self, ritual_ids: Collection[int], *, since: date | None = None
    ) -> dict[int, list[tuple[date, str]]]: ...

    def last_completion(self, ritual_id: int) -> CompletionRecord | None: ...

    def add_skip(self, ritual_id: int, *, day: date, reason: str, now: datetime) -> SkipRecord: ...

    def skips(self, ritual_id: int) -> list[SkipRecord]: ...

    def skips_of(self, ritual_ids: Collection[int]) -> dict[int, list[SkipRecord]]: ...

    def add_pause(
        self, ritual_id: int, *, start: date, until: date | None, reason: str, now: datetime
    ) -> PauseRecord: ...

    def end_pauses(self, ritual_id: int, *, last_day: date) -> int: ...

    def pauses(self, ritual_id: int) -> list[PauseRecord]: ...

    def pauses_of(self, ritual_ids: Collection[int]) -> dict[int, list[PauseRecord]]: ...

    @overload
    def claim_occurrence(
        self,
        ritual_id: int | None,
        *,
        day: date,
        slot: str,
        kind: OccurrenceKind,
        due_at: datetime,
        status: OccurrenceStatus,
        now: datetime,
        note: str = "",
        epoch: None = None,
    ) -> tuple[OccurrenceRecord, bool]: ...

    @overload
    def claim_occurrence(
        self,
        ritual_id: int | None,
        *,
        day: date,
        slot: str,
        kind: OccurrenceKind,
        due_at: datetime,
        status: OccurrenceStatus,
        now: datetime,
        note: str = "",
        epoch: int | None,
    ) -> tuple[OccurrenceRecord | None, bool]: ...

    def claim_occurrences(
        self, claims: Sequence[OccurrenceClaim], *, now: datetime, epoch: int | None = None
    ) -> list[tuple[OccurrenceRecord | None, bool]]: ...

    def decide_occurrence(
        self,
        occurrence_id: int,
        status: OccurrenceStatus,
        *,
        now: datetime,
        note: str | None = None,
        expect: OccurrenceStatus | None = None,
    ) -> bool: ...

    def get_occurrence(self, occurrence_id: int) -> OccurrenceRecord | None: ...

    def last_occurrence(self, ritual_id: int | None) -> OccurrenceRecord | None: ...

    def occurrences(
        self,
        *,
        ritual_id: int | None = None,
        since: datetime | None = None,
        statuses: Collection[OccurrenceStatus] | None = None,
        limit: int | None = None,
    ) -> list[OccurrenceRecord]: ...

    def last_due_times(self, ritual_ids: Collection[int]) -> dict[int, datetime]: ...

    def occurrence_keys(self, ritual_ids: Collection[int], *, since: datetime) -> set[OccurrenceKey]: ...

    def decide_occurrences(
        self,
        occurrence_ids: Collection[int],
        status: OccurrenceStatus,
        *,
        now: datetime,
        note: str | None = None,
        expect: OccurrenceStatus | None = None,
    ) -> set[int]: ...

    def add_deliveries(
        self,
        occurrence_id: int,
        channels: Sequence[tuple[str, str]],
        *,
        now: datetime,
        not_before: datetime | None = None,
    ) -> list[DeliveryRecord]: ...

    def add_deliveries_many(
        self,
        wanted: Sequence[tuple[int, Sequence[tuple[str, str]]]],
        *,
        now: datetime,
        not_before: datetime | None = None,
    ) -> list[list[DeliveryRecord]]: ...

    def claim_delivery(
        self, delivery_id: int, *, now: datetime, lease_until: datetime, epoch: int | None = None
    ) -> DeliveryRecord | None: ...

    def claim_deliveries(
        self, delivery_ids: Sequence[int], *, now: datetime, lease_until: datetime, epoch: int | None = None
    ) -> list[DeliveryRecord]: ...

    def finish_delivery(
        self,
        delivery_id: int,
        status: DeliveryStatus,
        *,
        now: datetime,
        error: str = "",
        next_attempt_at: datetime | None = None,
        attempt: int | None = None,
    ) -> None: ...

    def finish_deliveries(self, outcomes: Sequence[DeliveryOutcome], *, now: datetime) -> None: ...

    def due_deliveries(self, now: datetime, limit: int = 100) -> list[DeliveryRecord]: ...

    def delivery_statuses(self, occurrence_ids: Collection[int]) -> dict[int, set[DeliveryStatus]]: ...

    def deliveries(
        self,
        *,
        occurrence_id: int | None = None,
        statuses: Collection[DeliveryStatus] | None = None,
        limit: int | None = None,
        ids: Collection[int] | None = None,
    ) -> list[DeliveryRecord]: ...

    def retry_deliveries(self, *, now: datetime, ids: Collection[int] | None = None) -> int: ...

    def create_api_token(self, name: str, token_hash: str, *, now: datetime) -> ApiTokenRecord: ...

    def find_api_token(self, token_hash: str) -> ApiTokenRecord | None: ...

    def touch_api_token(self, token_id: int, *, now: datetime) -> None: ...

    def revoke_api_token(self, name: str, *, now: datetime) -> bool: ...

    def api_tokens(self, *, include_revoked: bool = True) -> list[ApiTokenRecord]: ...

    def get_meta(self, key: str) -> str | None: ...

    def set_meta(self, key: str, value: str) -> None: ...

    def leader_info(self) -> LeaderInfo | None: ...


class Channel(Protocol):
    """One place nudges go. Only who it reaches and safe names cross the port; the secret URL
    stays in the adapter."""

    @property
    def tags(self) -> tuple[str, ...]:
        """The people and tags it carries."""
        ...

    @property
    def masked(self) -> str:
        """Its URL with every secret part masked: safe to show and store."""
        ...

    @property
    def target(self) -> str:
        """A stable id of its real URL that reveals nothing of it."""
        ...


@dataclass(frozen=True, slots=True)
class SendResult:
    """One channel's outcome of one send; ``error`` is one masked line, empty when ``ok``."""

    target: str
    masked_url: str
    ok: bool
    permanent: bool = False
    error: str = ""
    elapsed: float = 0.0
    http_status: int | None = None


class Channels(Protocol):
    """The household's channels, and the way to send through them."""

    def __iter__(self) -> Iterator[Channel]: ...

    def __len__(self) -> int: ...

    @property
    def problems(self) -> tuple[str, ...]:
        """One line per channel or plugin that could not be loaded."""
        ...

    def select(self, names: Sequence[str]) -> Sequence[Channel]:
        """The channels of these people or tags (a ritual's ``notify``), each once.

        Raises a RitualError naming a person or tag no channel carries."""
        ...

    def send(
        self, channels: Sequence[Channel], messages: Sequence[Message], *, timeout: float
    ) -> list[SendResult]:
        """Send each message to its channel, all at once; a failed send is a result, never raised."""
        ...


class Leadership(Protocol):
    """Whether this daemon is the one that fires; ``epoch`` goes with every claim it makes."""

    @property
    def epoch(self) -> int | None:
        """The epoch to fence claims with: None when there is nothing to fence (SQLite)."""
        ...

    @property
    def leading(self) -> bool: ...

    @property
    def contested(self) -> bool:
        """Whether other daemons may take the lead (then it is checked every few seconds)."""
        ...

    def try_lead(self) -> bool:
        """Become the leader if no one else is; True while this daemon leads."""
        ...

    def check(self) -> bool:
        """Still the leader? False at once when the lock (or its session) is gone."""
        ...

    def close(self) -> None:
        """Step down (the lock is released) and let go of the connection."""
        ...
