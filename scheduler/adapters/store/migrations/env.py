"""Alembic environment: migrate on the connection the store hands over, inside its transaction."""

from __future__ import annotations

from alembic import context

if context.is_offline_mode():
    raise RuntimeError("ritual-scheduler migrations run online only (Store.open applies them)")

# The caller opened a transaction on this connection; Alembic joins it, so a failing
# revision leaves the database exactly as it was (SQLite DDL included).
context.configure(connection=context.config.attributes["connection"], target_metadata=None)
with context.begin_transaction():
    context.run_migrations()
