"""Hand-written Alembic revisions, oldest first by their number; never edit a released one."""
