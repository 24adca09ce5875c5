"""Alembic migrations of the store's schema, run by ``scheduler.store.migrate`` (no alembic.ini)."""
