"""The store: the only package that speaks SQL (SQLModel on SQLite or PostgreSQL).

Everything crosses this boundary as plain records from ``records.py``; no ORM
object leaves the package. The store never reads the clock: callers pass
``now``. Opening a store applies pending Alembic migrations first.
"""

from scheduler.adapters.store.store import Store
from scheduler.app.stored import (
    ApiTokenRecord,
    CadenceVersion,
    CompletionRecord,
    DeliveryOutcome,
    DeliveryRecord,
    DeliveryStatus,
    LeaderInfo,
    OccurrenceClaim,
    OccurrenceKind,
    OccurrenceRecord,
    OccurrenceStatus,
    PauseRecord,
    RitualSource,
    SkipRecord,
    StoredRitual,
    api_token_hash,
    cadence_in_force,
    delivery_target,
)

__all__ = [
    "ApiTokenRecord",
    "CadenceVersion",
    "CompletionRecord",
    "DeliveryOutcome",
    "DeliveryRecord",
    "DeliveryStatus",
    "LeaderInfo",
    "OccurrenceClaim",
    "OccurrenceKind",
    "OccurrenceRecord",
    "OccurrenceStatus",
    "PauseRecord",
    "RitualSource",
    "SkipRecord",
    "Store",
    "StoredRitual",
    "api_token_hash",
    "cadence_in_force",
    "delivery_target",
]
