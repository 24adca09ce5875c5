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
    IdeaRecord,
    LeaderInfo,
    OccurrenceClaim,
    OccurrenceKey,
    OccurrenceKind,
    OccurrenceRecord,
    OccurrenceStatus,
    PauseRecord,
    Resumed,
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

    def ritual_by_id(self, ritual_id: int, *, include_removed: bool = False) -> StoredRitual | None:
        """The ritual an occurrence names (one row read, not the whole list)."""
        ...

    def rituals_named(self, names: Collection[str]) -> dict[str, StoredRitual]:
        """The current (not removed) rituals among ``names``, by name, in one read."""
        ...

    def rituals_by_id(
        self, ritual_ids: Collection[int], *, include_removed: bool = False
    ) -> dict[int, StoredRitual]:
        """``ritual_by_id`` of many rituals in one read, by id; one not found is absent."""
        ...

    def list_rituals(self, *, include_removed: bool = False) -> list[StoredRitual]: ...

    def count_rituals(self) -> int:
        """How many rituals are stored (not removed), without reading them."""
        ...

    def save_ritual(
        self, ritual: Ritual, source: RitualSource, *, now: datetime, effective_from: date
    ) -> StoredRitual:
        """Insert or update by name (reviving a removed one); a changed cadence appends a version."""
        ...

    def remove_ritual(self, name: str, *, now: datetime) -> None:
        """Retire the ritual; its completions, skips and pauses are kept."""
        ...

    def cadence_history(self, ritual_id: int) -> list[CadenceVersion]:
        """All cadence versions, oldest first."""
        ...

    def cadence_histories(self, ritual_ids: Collection[int]) -> dict[int, list[CadenceVersion]]:
        """``cadence_history`` of many rituals in one read; a ritual without versions is absent."""
        ...

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
        again: bool = False,
    ) -> tuple[CompletionRecord, bool]:
        """Record a completion once per (ritual, day, person): a repeat returns the one already"""
        ...

    def delete_completion(self, completion_id: int) -> CompletionRecord | None: ...

    def completions(self, ritual_id: int, *, since: date | None = None) -> list[CompletionRecord]:
        """Oldest first (by day, then at, then id)."""
        ...

    def completion_marks(self, ritual_id: int) -> list[tuple[date, str]]:
        """(day, by) of every completion, oldest first: all the streak maths needs, read lean."""
        ...

    def completion_marks_of(
        self, ritual_ids: Collection[int], *, since: date | None = None
    ) -> dict[int, list[tuple[date, str]]]:
        """``completion_marks`` of many rituals in one read (those on or after ``since``, if"""
        ...

    def last_completion(self, ritual_id: int) -> CompletionRecord | None:
        """The most recently recorded (highest id), for `ritual undo`."""
        ...

    def add_skip(
        self, ritual_id: int, *, day: date, reason: str, now: datetime, by: str = ""
    ) -> SkipRecord: ...

    def delete_skip(self, skip_id: int) -> SkipRecord | None: ...

    def skips(self, ritual_id: int) -> list[SkipRecord]: ...

    def skips_of(self, ritual_ids: Collection[int]) -> dict[int, list[SkipRecord]]:
        """``skips`` of many rituals in one read; a ritual without any is absent."""
        ...

    def add_pause(
        self,
        ritual_id: int | None,
        *,
        start: date,
        until: date | None,
        reason: str,
        now: datetime,
        by: str = "",
    ) -> PauseRecord:
        """Pause one ritual, or the whole household (``ritual_id`` None)."""
        ...

    def end_pauses(self, ritual_id: int | None, *, last_day: date) -> Resumed:
        """End the pauses of one ritual (or the household's, ``ritual_id`` None) after ``last_day``."""
        ...

    def pauses(self, ritual_id: int) -> list[PauseRecord]: ...

    def pauses_of(self, ritual_ids: Collection[int]) -> dict[int, list[PauseRecord]]:
        """``pauses`` of many rituals in one read, each with the household's pauses too (which"""
        ...

    def household_pauses(self) -> list[PauseRecord]:
        """The pauses of the whole household, oldest first."""
        ...

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
    ) -> list[tuple[OccurrenceRecord | None, bool]]:
        """``claim_occurrence`` for many nudges in one transaction, in the order given."""
        ...

    def decide_occurrence(
        self,
        occurrence_id: int,
        status: OccurrenceStatus,
        *,
        now: datetime,
        note: str | None = None,
        expect: OccurrenceStatus | None = None,
    ) -> bool:
        """Set the outcome; with ``expect``, only if the status is still that (compare-and-set)."""
        ...

    def get_occurrence(self, occurrence_id: int) -> OccurrenceRecord | None: ...

    def occurrences_by_id(self, occurrence_ids: Collection[int]) -> dict[int, OccurrenceRecord]:
        """``get_occurrence`` of many in one read, by id; an unknown id is absent."""
        ...

    def occurrences_of(
        self, ritual_ids: Collection[int], *, since: datetime
    ) -> dict[int, list[OccurrenceRecord]]:
        """The rituals' occurrences due at or after ``since``, in one read, grouped by ritual,
        each newest first (by due_at, then id); a ritual with none is absent."""
        ...

    def last_occurrence(self, ritual_id: int | None) -> OccurrenceRecord | None:
        """The one due last (ties: the later claimed): where catching up after downtime starts."""
        ...

    def occurrences(
        self,
        *,
        ritual_id: int | None = None,
        since: datetime | None = None,
        statuses: Collection[OccurrenceStatus] | None = None,
        limit: int | None = None,
    ) -> list[OccurrenceRecord]:
        """Newest first (by due_at, then id); ``ritual_id`` None means every ritual and the"""
        ...

    def last_due_times(self, ritual_ids: Collection[int]) -> dict[int, datetime]:
        """Each ritual's ``last_occurrence`` due time, in one query; a ritual with none is absent."""
        ...

    def occurrence_keys(self, ritual_ids: Collection[int], *, since: datetime) -> set[OccurrenceKey]:
        """The (ritual_id, day, slot) keys of the rituals' occurrences due at or after ``since``."""
        ...

    def decide_occurrences(
        self,
        occurrence_ids: Collection[int],
        status: OccurrenceStatus,
        *,
        now: datetime,
        note: str | None = None,
        expect: OccurrenceStatus | None = None,
    ) -> set[int]:
        """``decide_occurrence`` for many in one transaction; the ids whose row changed."""
        ...

    def add_deliveries(
        self,
        occurrence_id: int,
        channels: Sequence[tuple[str, str]],
        *,
        now: datetime,
        not_before: datetime | None = None,
    ) -> list[DeliveryRecord]:
        """Write one pending row per (channel, target) before sending; pairs already there come"""
        ...

    def add_deliveries_many(
        self,
        wanted: Sequence[tuple[int, Sequence[tuple[str, str]]]],
        *,
        now: datetime,
        not_before: datetime | None = None,
    ) -> list[list[DeliveryRecord]]:
        """``add_deliveries`` for many occurrences in one transaction: the rows already there read"""
        ...

    def claim_delivery(
        self, delivery_id: int, *, now: datetime, lease_until: datetime, epoch: int | None = None
    ) -> DeliveryRecord | None:
        """Take a due delivery for sending (compare-and-set), counting the attempt; None when"""
        ...

    def claim_deliveries(
        self, delivery_ids: Sequence[int], *, now: datetime, lease_until: datetime, epoch: int | None = None
    ) -> list[DeliveryRecord]:
        """``claim_delivery`` for many rows in one transaction: those this call claimed, by id."""
        ...

    def claim_due_deliveries(
        self, *, now: datetime, lease_until: datetime, limit: int
    ) -> list[DeliveryRecord]:
        """Claim up to ``limit`` due deliveries, unfenced; senders draining at once take
        different rows (PostgreSQL: ``SKIP LOCKED``)."""
        ...

    def finish_delivery(
        self,
        delivery_id: int,
        status: DeliveryStatus,
        *,
        now: datetime,
        error: str = "",
        next_attempt_at: datetime | None = None,
        attempt: int | None = None,
    ) -> None:
        """Record a send's outcome (``error`` already masked; long ones are cut)."""
        ...

    def finish_deliveries(self, outcomes: Sequence[DeliveryOutcome], *, now: datetime) -> None:
        """``finish_delivery`` for many rows in one transaction."""
        ...

    def due_deliveries(self, now: datetime, limit: int = 100) -> list[DeliveryRecord]:
        """What a sender should claim now: pending or retry rows that are due, and sending rows"""
        ...

    def delivery_statuses(self, occurrence_ids: Collection[int]) -> dict[int, set[DeliveryStatus]]:
        """The statuses each occurrence's delivery rows are in, in one query."""
        ...

    def sent_targets(self, occurrence_ids: Collection[int]) -> dict[int, set[str]]:
        """The targets each occurrence's sent deliveries went to, in one query; an occurrence
        with none sent is absent."""
        ...

    def deliveries(
        self,
        *,
        occurrence_id: int | None = None,
        statuses: Collection[DeliveryStatus] | None = None,
        limit: int | None = None,
        ids: Collection[int] | None = None,
    ) -> list[DeliveryRecord]:
        """Newest first (by id), for `ritual status`."""
        ...

    def retry_deliveries(self, *, now: datetime, ids: Collection[int] | None = None) -> int:
        """Make failed and given-up deliveries (all, or those of ``ids``) due again now; return"""
        ...

    def create_api_token(
        self, name: str, token_hash: str, *, now: datetime, person: str | None = None, kind: str = "api"
    ) -> ApiTokenRecord:
        """Keep a new token's hash under ``name``; a name still in use by an active token is refused."""
        ...

    def find_api_token(self, token_hash: str) -> ApiTokenRecord | None:
        """The active token with this hash; None when unknown or revoked."""
        ...

    def touch_api_token(self, token_id: int, *, now: datetime) -> None:
        """Note when a token was last used, so `ritual token list` shows forgotten ones."""
        ...

    def revoke_api_token(self, name: str, *, now: datetime) -> bool:
        """Revoke the active token named ``name``; False when there is none."""
        ...

    def api_tokens(self, *, include_revoked: bool = True) -> list[ApiTokenRecord]:
        """Every token (revoked ones too unless asked not to), by name, then oldest first."""
        ...

    def turn_swaps(self, ritual_id: int) -> dict[date, str]:
        """The periods (by start) whose planner was swapped by hand, and who plans them."""
        ...

    def set_turn_swap(self, ritual_id: int, period_start: date, person: str, *, now: datetime) -> None: ...

    def add_idea(self, ritual_id: int, *, text: str, note: str, by: str, now: datetime) -> IdeaRecord: ...

    def ideas(self, ritual_id: int | None = None) -> list[IdeaRecord]: ...

    def get_idea(self, idea_id: int) -> IdeaRecord | None: ...

    def update_idea(
        self,
        idea_id: int,
        *,
        used_at: datetime | None = None,
        completion_id: int | None = None,
        dropped_at: datetime | None = None,
    ) -> IdeaRecord | None: ...

    def record_suggestions(
        self, ritual_id: int, occurrence_id: int, day: date, idea_ids: Sequence[int], *, now: datetime
    ) -> None: ...

    def suggestions(
        self, ritual_id: int, *, occurrence_id: int | None = None
    ) -> list[tuple[int, date, int]]: ...

    def get_meta(self, key: str) -> str | None: ...

    def set_meta(self, key: str, value: str) -> None: ...

    def leader_info(self) -> LeaderInfo | None:
        """The last elected leader (epoch, holder, since); None when none was ever elected."""
        ...


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

    @property
    def can_replace(self) -> bool:
        """Whether a message it delivered can be replaced on the phones later (ntfy)."""
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


class Changes(Protocol):
    """Told after every write that changes what a ritual shows (a completion, a skip, a pause, a
    ritual added, edited or removed), so whatever mirrors the rituals elsewhere (Home Assistant)
    updates now rather than on a timer. Telling must never fail the write."""

    def changed(self) -> None: ...


class NoChanges:
    """Nobody is listening (the default)."""

    def changed(self) -> None:
        return None
