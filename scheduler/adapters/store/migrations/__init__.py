"""Alembic migrations of the store's schema, run by ``scheduler.adapters.store.migrate`` (no alembic.ini)."""
