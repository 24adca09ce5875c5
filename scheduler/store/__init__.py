"""The store: the only package that speaks SQL (SQLModel on SQLite or PostgreSQL).

Everything crosses this boundary as plain records from ``records.py``; no ORM
object leaves the package. The store never reads the clock: callers pass
``now``. Opening a store applies pending Alembic migrations first.
"""

from scheduler.store.records import (
    CadenceVersion,
    CompletionRecord,
    PauseRecord,
    RitualSource,
    SkipRecord,
    StoredRitual,
    cadence_in_force,
)
from scheduler.store.store import Store

__all__ = [
    "CadenceVersion",
    "CompletionRecord",
    "PauseRecord",
    "RitualSource",
    "SkipRecord",
    "Store",
    "StoredRitual",
    "cadence_in_force",
]
