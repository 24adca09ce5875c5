"""The store: the only package that speaks SQL (SQLModel on SQLite or PostgreSQL).

It implements the application's ``Store`` port (``scheduler.app.ports``): everything
crosses this boundary as the plain records of ``scheduler.app.stored``; no ORM object
leaves the package. The store never reads the clock: callers pass ``now``. Opening a
store applies pending Alembic migrations first.
"""

from scheduler.adapters.store.store import SqlStore

__all__ = ["SqlStore"]
