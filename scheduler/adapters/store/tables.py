"""The SQLModel tables: the live schema the store reads and writes.

Migrations in ``migrations/versions`` build the same schema by hand, so a
change here needs a new revision there (a test compares the two).
"""

# No ``from __future__ import annotations``: pydantic and SQLAlchemy each resolve every
# string annotation of every column again (typing.ForwardRef compiles one code object per
# annotation), ~2 ms of each command's start-up; the types are all defined by then.

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import DateTime, Dialect, Index, Text, UniqueConstraint, text
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel
from sqlmodel._compat import SQLModelConfig


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out, on SQLite (no zone support) as on PostgreSQL (timestamptz)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime '{value.isoformat()}' (the store keeps aware UTC times)")
        value = value.astimezone(UTC)
        # SQLite keeps the text without an offset; PostgreSQL wants the zone to store the instant.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime from the database, got '{value!r}'")
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class _Table(SQLModel):
    """Base of the tables: their pydantic validator and serializer are built on first use.

    A table row is never validated (SQLModel constructs ``table=True`` models without it)
    and the store only dumps one kind of row, so building nine of each at import is
    wasted on every command (~3 ms).
    """

    model_config = SQLModelConfig(defer_build=True)


class RitualRow(_Table, table=True):
    __tablename__ = "ritual"
    __table_args__ = (UniqueConstraint("name", name="uq_ritual_name"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str
    title: str
    dimension: str
    source: str  # 'file' | 'cli'
    definition: str = Field(sa_type=Text)  # JSON of definitions.ritual_to_table
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)
    removed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class CadenceVersionRow(_Table, table=True):
    __tablename__ = "cadence_version"
    __table_args__ = (Index("ix_cadence_version_ritual", "ritual_id", "effective_from"),)

    id: int | None = Field(default=None, primary_key=True)
    ritual_id: int = Field(foreign_key="ritual.id")
    effective_from: date
    cadence: str = Field(sa_type=Text)  # JSON of definitions.cadence_to_table
    recorded_at: datetime = Field(sa_type=UTCDateTime)


class CompletionRow(_Table, table=True):
    __tablename__ = "completion"
    __table_args__ = (
        # NULL occurrences are distinct on SQLite and PostgreSQL: completions typed in a
        # terminal never collide, a double tap on one nudge's "Done" does.
        UniqueConstraint("ritual_id", "occurrence", "by_person", name="uq_completion_occurrence"),
        Index("ix_completion_ritual_day", "ritual_id", "day"),
        # Once per (ritual, day, person); ``again`` numbers the repeats asked for on purpose.
        Index("uq_completion_person_day", "ritual_id", "day", "by_person", "again", unique=True),
    )

    id: int | None = Field(default=None, primary_key=True)
    ritual_id: int = Field(foreign_key="ritual.id")
    day: date
    at: datetime = Field(sa_type=UTCDateTime)
    period_key: str
    by_person: str
    note: str = Field(sa_type=Text)
    source: str
    occurrence: str | None = None
    created_at: datetime = Field(sa_type=UTCDateTime)
    # 0: the completion of this (ritual, day, person); 1, 2, ...: repeats recorded on purpose;
    # NULL: a repeat stored before repeats were refused, kept to be read but not counted.
    again: int | None = Field(default=0, sa_column_kwargs={"server_default": "0"})


class SkipRow(_Table, table=True):
    __tablename__ = "skip"
    __table_args__ = (Index("ix_skip_ritual_day", "ritual_id", "day"),)

    id: int | None = Field(default=None, primary_key=True)
    ritual_id: int = Field(foreign_key="ritual.id")
    day: date
    reason: str = Field(sa_type=Text)
    created_at: datetime = Field(sa_type=UTCDateTime)
    by_person: str = Field(default="", sa_column_kwargs={"server_default": ""})


class PauseRow(_Table, table=True):
    __tablename__ = "pause"
    __table_args__ = (Index("ix_pause_ritual_start", "ritual_id", "start"),)

    id: int | None = Field(default=None, primary_key=True)
    ritual_id: int | None = Field(default=None, foreign_key="ritual.id")  # None: the whole household
    start: date
    until: date | None = None
    reason: str = Field(sa_type=Text)
    created_at: datetime = Field(sa_type=UTCDateTime)
    by_person: str = Field(default="", sa_column_kwargs={"server_default": ""})


class MetaRow(_Table, table=True):
    __tablename__ = "meta"

    key: str = Field(primary_key=True)
    value: str = Field(sa_type=Text)


# Household-wide occurrences (the weekly digest, a test nudge) have no ritual. NULLs never
# collide in a UNIQUE constraint, so a partial unique index keys those by (day, slot).
HOUSEHOLD_ONLY = "ritual_id IS NULL"


class OccurrenceRow(_Table, table=True):
    __tablename__ = "occurrence"
    __table_args__ = (
        UniqueConstraint("ritual_id", "day", "slot", name="uq_occurrence_key"),
        Index(
            "uq_occurrence_household_key",
            "day",
            "slot",
            unique=True,
            # The where clause is the migration's job (PostgreSQL's too); naming
            # postgresql_where here would load SQLAlchemy's whole PostgreSQL dialect on
            # every command just to check the keyword.
            sqlite_where=text(HOUSEHOLD_ONLY),
        ),
        Index("ix_occurrence_ritual_due", "ritual_id", "due_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    ritual_id: int | None = Field(default=None, foreign_key="ritual.id")
    day: date
    slot: str
    kind: str  # records.OccurrenceKind
    due_at: datetime = Field(sa_type=UTCDateTime)
    status: str  # records.OccurrenceStatus
    created_at: datetime = Field(sa_type=UTCDateTime)
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    note: str = Field(default="", sa_type=Text, sa_column_kwargs={"server_default": ""})
    epoch: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


class DeliveryRow(_Table, table=True):
    __tablename__ = "delivery"
    __table_args__ = (
        UniqueConstraint("occurrence_id", "target", name="uq_delivery_target"),
        UniqueConstraint("idempotency_key", name="uq_delivery_idempotency_key"),
        Index("ix_delivery_status_next", "status", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    occurrence_id: int = Field(foreign_key="occurrence.id")
    channel: str  # person/tag and the masked URL: never the secret
    target: str  # sha256 hex of the real URL
    status: str  # records.DeliveryStatus
    attempts: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    last_error: str = Field(default="", sa_type=Text, sa_column_kwargs={"server_default": ""})
    next_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # or the sending lease
    idempotency_key: str
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


# A token's name is unique among active tokens only, so a revoked name can be reused.
ACTIVE_TOKENS_ONLY = "revoked_at IS NULL"


class ApiTokenRow(_Table, table=True):
    __tablename__ = "api_token"
    __table_args__ = (
        UniqueConstraint("token_hash", name="uq_api_token_hash"),
        Index(
            "uq_api_token_active_name",
            "name",
            unique=True,
            # The where clause is the migration's job (PostgreSQL's too); naming
            # postgresql_where here would load SQLAlchemy's whole PostgreSQL dialect on
            # every command just to check the keyword.
            sqlite_where=text(ACTIVE_TOKENS_ONLY),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str
    token_hash: str  # sha256 hex of the token; the token itself is never stored
    created_at: datetime = Field(sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    person: str | None = None  # who its requests record as; None: nobody in particular
    kind: str = Field(default="api", sa_column_kwargs={"server_default": "api"})  # api or feed


class TurnSwapRow(_Table, table=True):
    """A period whose planner was swapped by hand (`ritual turn NAME --swap`)."""

    __tablename__ = "turn_swap"
    __table_args__ = (UniqueConstraint("ritual_id", "period_start", name="uq_turn_swap_period"),)

    id: int | None = Field(default=None, primary_key=True)
    ritual_id: int = Field(foreign_key="ritual.id")
    period_start: date
    person: str
    created_at: datetime = Field(sa_type=UTCDateTime)


class IdeaRow(_Table, table=True):
    """An idea in a ritual's backlog: used once a completion names it, or dropped."""

    __tablename__ = "idea"
    __table_args__ = (Index("ix_idea_ritual", "ritual_id"),)

    id: int | None = Field(default=None, primary_key=True)
    ritual_id: int = Field(foreign_key="ritual.id")
    text: str = Field(sa_type=Text)
    note: str = Field(default="", sa_type=Text, sa_column_kwargs={"server_default": ""})
    by_person: str = Field(default="", sa_column_kwargs={"server_default": ""})
    created_at: datetime = Field(sa_type=UTCDateTime)
    completion_id: int | None = None
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    dropped_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_suggested_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class IdeaSuggestionRow(_Table, table=True):
    """Which ideas a nudge suggested, so its Done page can ask which one it was."""

    __tablename__ = "idea_suggestion"
    __table_args__ = (
        UniqueConstraint("occurrence_id", "idea_id", name="uq_idea_suggestion"),
        Index("ix_idea_suggestion_ritual_day", "ritual_id", "day"),
    )

    id: int | None = Field(default=None, primary_key=True)
    ritual_id: int = Field(foreign_key="ritual.id")
    occurrence_id: int
    idea_id: int = Field(foreign_key="idea.id")
    day: date
