"""Initial schema: rituals with their cadence history, completions, skips, pauses, meta.

Revision ID: 0001
Revises: none
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def _ritual_id() -> sa.Column[int]:
    return sa.Column("ritual_id", sa.Integer(), sa.ForeignKey("ritual.id"), nullable=False)


def _utc(name: str, *, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "ritual",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("title", sa.String(), nullable=False),
        sa.Column("dimension", sa.String(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        _utc("created_at"),
        _utc("updated_at"),
        _utc("removed_at", nullable=True),
        sa.UniqueConstraint("name", name="uq_ritual_name"),
    )
    op.create_table(
        "cadence_version",
        sa.Column("id", sa.Integer(), primary_key=True),
        _ritual_id(),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("cadence", sa.Text(), nullable=False),
        _utc("recorded_at"),
    )
    op.create_index("ix_cadence_version_ritual", "cadence_version", ["ritual_id", "effective_from"])
    op.create_table(
        "completion",
        sa.Column("id", sa.Integer(), primary_key=True),
        _ritual_id(),
        sa.Column("day", sa.Date(), nullable=False),
        _utc("at"),
        sa.Column("period_key", sa.String(), nullable=False),
        sa.Column("by_person", sa.String(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("occurrence", sa.String(), nullable=True),
        _utc("created_at"),
        sa.UniqueConstraint("ritual_id", "occurrence", "by_person", name="uq_completion_occurrence"),
    )
    op.create_index("ix_completion_ritual_day", "completion", ["ritual_id", "day"])
    op.create_table(
        "skip",
        sa.Column("id", sa.Integer(), primary_key=True),
        _ritual_id(),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        _utc("created_at"),
    )
    op.create_index("ix_skip_ritual_day", "skip", ["ritual_id", "day"])
    op.create_table(
        "pause",
        sa.Column("id", sa.Integer(), primary_key=True),
        _ritual_id(),
        sa.Column("start", sa.Date(), nullable=False),
        sa.Column("until", sa.Date(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        _utc("created_at"),
    )
    op.create_index("ix_pause_ritual_start", "pause", ["ritual_id", "start"])
    op.create_table(
        "meta",
        sa.Column("key", sa.String(), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    for index, table in (
        ("ix_pause_ritual_start", "pause"),
        ("ix_skip_ritual_day", "skip"),
        ("ix_completion_ritual_day", "completion"),
        ("ix_cadence_version_ritual", "cadence_version"),
    ):
        op.drop_index(index, table_name=table)
    for table in ("meta", "pause", "skip", "completion", "cadence_version", "ritual"):
        op.drop_table(table)
