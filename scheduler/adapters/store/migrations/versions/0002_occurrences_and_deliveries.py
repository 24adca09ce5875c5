"""Occurrences (each nudge's exactly-once key) and the delivery outbox.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

# Household-wide occurrences (digest, test) have no ritual; NULLs never collide in a
# UNIQUE constraint, so a partial index keys them. Both SQLite and PostgreSQL have these.
HOUSEHOLD_ONLY = "ritual_id IS NULL"


def _utc(name: str, *, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "occurrence",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("ritual_id", sa.Integer(), sa.ForeignKey("ritual.id"), nullable=True),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("slot", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        _utc("due_at"),
        sa.Column("status", sa.String(), nullable=False),
        _utc("created_at"),
        _utc("decided_at", nullable=True),
        sa.Column("note", sa.Text(), nullable=False, server_default=""),
        sa.Column("epoch", sa.Integer(), nullable=False, server_default="0"),
        sa.UniqueConstraint("ritual_id", "day", "slot", name="uq_occurrence_key"),
    )
    op.create_index(
        "uq_occurrence_household_key",
        "occurrence",
        ["day", "slot"],
        unique=True,
        sqlite_where=sa.text(HOUSEHOLD_ONLY),
        postgresql_where=sa.text(HOUSEHOLD_ONLY),
    )
    op.create_index("ix_occurrence_ritual_due", "occurrence", ["ritual_id", "due_at"])
    op.create_table(
        "delivery",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("occurrence_id", sa.Integer(), sa.ForeignKey("occurrence.id"), nullable=False),
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("target", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text(), nullable=False, server_default=""),
        _utc("next_attempt_at", nullable=True),
        sa.Column("idempotency_key", sa.String(), nullable=False),
        _utc("created_at"),
        _utc("updated_at"),
        sa.UniqueConstraint("occurrence_id", "target", name="uq_delivery_target"),
        sa.UniqueConstraint("idempotency_key", name="uq_delivery_idempotency_key"),
    )
    op.create_index("ix_delivery_status_next", "delivery", ["status", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_delivery_status_next", table_name="delivery")
    op.drop_table("delivery")
    op.drop_index("ix_occurrence_ritual_due", table_name="occurrence")
    op.drop_index("uq_occurrence_household_key", table_name="occurrence")
    op.drop_table("occurrence")
