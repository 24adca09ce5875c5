"""Plain, immutable records the store hands out; the rest of the house never sees ORM rows."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import NamedTuple, assert_never

from scheduler.domain.definitions import Ritual
from scheduler.domain.reminders import NudgeKind


class RitualSource(StrEnum):
    FILE = "file"  # owned by rituals.toml: the file wins, the CLI refuses to edit it
    CLI = "cli"  # created with `ritual add` (or the API): edited with `ritual edit`


@dataclass(frozen=True, slots=True)
class StoredRitual:
    id: int
    ritual: Ritual
    source: RitualSource
    created_at: datetime
    updated_at: datetime
    removed_at: datetime | None = None

    @property
    def name(self) -> str:
        return self.ritual.name


@dataclass(frozen=True, slots=True)
class CompletionRecord:
    id: int
    ritual_id: int
    day: date  # the ritual day it counts for
    at: datetime  # when it happened (aware UTC)
    period_key: str  # the period it counted for under the cadence in force when recorded
    by: str  # person, "" when not said
    note: str
    source: str  # cli, link, api, import
    occurrence: str | None  # occurrence key when recorded from a nudge; idempotency per person
    created_at: datetime
    # 0: this person's completion of the day; 1, 2, ...: repeats asked for on purpose (--again);
    # None: a repeat stored before repeats were refused, shown but not counted.
    again: int | None = 0


@dataclass(frozen=True, slots=True)
class SkipRecord:
    id: int
    ritual_id: int
    day: date
    reason: str
    created_at: datetime
    by: str = ""  # a person, "household", or "" when not said


@dataclass(frozen=True, slots=True)
class PauseRecord:
    id: int
    ritual_id: int | None  # None: the whole household is paused
    start: date
    until: date | None  # inclusive; None while open-ended
    reason: str
    created_at: datetime
    by: str = ""  # a person, "household", or "" when not said

    @property
    def household(self) -> bool:
        return self.ritual_id is None


class Resumed(NamedTuple):
    """What a resume did: pauses that were running and now end, planned ones now cancelled."""

    ended: int
    cancelled: int


class OccurrenceKind(StrEnum):
    """What a recorded nudge was for: a planned reminder, or one the plan does not make."""

    DUE = "due"
    BEFORE = "before"
    NAG = "nag"
    SNOOZE = "snooze"  # a re-nudge someone asked for
    DIGEST = "digest"  # the weekly digest (no ritual)
    TEST = "test"
    CLEARED = "cleared"  # a period kept: its nudges on the other phones say so (where a channel can)
    ESCALATE = "escalate"  # still not kept escalate_after the due nudge: once a period, to escalate_to

    @classmethod
    def of(cls, kind: NudgeKind) -> OccurrenceKind:
        """The kind a planned nudge is recorded under."""
        match kind:
            case NudgeKind.DUE:
                return cls.DUE
            case NudgeKind.BEFORE:
                return cls.BEFORE
            case NudgeKind.NAG:
                return cls.NAG
            case _:
                assert_never(kind)

    @property
    def reminder(self) -> NudgeKind:
        """What a message for this nudge says: a re-nudge speaks like the nudge it repeats."""
        match self:
            case OccurrenceKind.BEFORE:
                return NudgeKind.BEFORE
            case OccurrenceKind.NAG | OccurrenceKind.ESCALATE:
                return NudgeKind.NAG
            case (
                OccurrenceKind.DUE
                | OccurrenceKind.SNOOZE
                | OccurrenceKind.DIGEST
                | OccurrenceKind.TEST
                | OccurrenceKind.CLEARED
            ):
                return NudgeKind.DUE
            case _:
                assert_never(self)


class OccurrenceStatus(StrEnum):
    PENDING = "pending"  # claimed, not decided yet
    SENT = "sent"
    LATE = "late"  # sent after its due time, within the catch-up grace
    SUPPRESSED = "suppressed"  # not sent: the period was already kept
    MISSED = "missed"  # past its grace when the daemon got to it: not sent
    PAUSED = "paused"  # not sent: the ritual was paused that day
    FAILED = "failed"  # no channel delivered it


class LeaderInfo(NamedTuple):
    """Who took the lead last (scheduler.adapters.store.leader); read by `ritual status`."""

    epoch: int
    holder: str  # "host pid"
    since: datetime | None  # aware UTC


@dataclass(frozen=True, slots=True)
class OccurrenceRecord:
    """One nudge: (ritual_id, day, slot) is unique, so it is decided, and sent, at most once."""

    id: int
    ritual_id: int | None  # None for household-wide nudges (the weekly digest, a test)
    day: date  # the ritual day the nudge belongs to
    slot: str  # "20:30", "before/20:30", "nag/20:30", "digest"
    kind: OccurrenceKind
    due_at: datetime  # aware UTC
    status: OccurrenceStatus
    created_at: datetime
    decided_at: datetime | None
    note: str  # "sent 25 min late", "period already kept"
    epoch: int  # the leader epoch that claimed it


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # written before the first send
    SENDING = "sending"  # claimed; next_attempt_at holds the lease
    SENT = "sent"
    RETRY = "retry"  # transient failure: due again at next_attempt_at
    FAILED = "failed"  # permanent failure: not retried unless asked (`ritual retry`)
    GIVEN_UP = "given_up"  # transient failures beyond max_attempts or max_age
    CANCELLED = "cancelled"  # not sent: no longer wanted (a snoozed ritual was done meanwhile)


class DeliveryOutcome(NamedTuple):
    """How one attempt went, for ``Store.finish_deliveries``; ``attempt`` guards the claim."""

    delivery_id: int
    status: DeliveryStatus
    error: str = ""
    next_attempt_at: datetime | None = None
    attempt: int | None = None


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """One (occurrence, channel) row of the outbox; ``channel`` is masked, ``target`` an id."""

    id: int
    occurrence_id: int
    channel: str  # person/tag and the masked URL, for people to read
    target: str  # the channel's id: an HMAC of its real URL under the link key (notify adapter)
    status: DeliveryStatus
    attempts: int
    last_error: str
    next_attempt_at: datetime | None  # when due again (retry) or when the lease ends (sending)
    idempotency_key: str  # the same on every attempt, so a receiver can drop a repeat
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ApiTokenRecord:
    """A bearer token for the HTTP API, known only by its hash (``api_token_hash``)."""

    id: int
    name: str
    token_hash: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None
    person: str | None = None  # who its requests record as; None: nobody in particular
    kind: str = "api"  # "api": the API and the pages; "feed": only its person's calendar feed

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def api_token_hash(token: str) -> str:
    """What the store keeps of a token: sha256, hex; a leaked database gives no usable token."""
    return hashlib.sha256(token.encode()).hexdigest()


# What makes a nudge unique: (ritual id, or None for a household nudge; ritual day; slot).
OccurrenceKey = tuple[int | None, date, str]


class OccurrenceClaim(NamedTuple):
    """One nudge to claim under its key (ritual, day, slot); see ``Store.claim_occurrences``."""

    ritual_id: int | None  # None: a household-wide nudge (the weekly digest)
    day: date
    slot: str
    kind: OccurrenceKind
    due_at: datetime
    status: OccurrenceStatus
    note: str = ""


@dataclass(frozen=True, slots=True)
class IdeaRecord:
    """An idea in a ritual's backlog."""

    id: int
    ritual_id: int
    text: str
    note: str
    by: str
    created_at: datetime
    completion_id: int | None = None  # the completion it was used with
    used_at: datetime | None = None
    dropped_at: datetime | None = None
    last_suggested_at: datetime | None = None

    @property
    def state(self) -> str:
        """``open``, ``used`` or ``dropped``."""
        if self.dropped_at is not None:
            return "dropped"
        return "used" if self.used_at is not None else "open"
