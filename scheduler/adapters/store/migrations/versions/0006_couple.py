"""Couple rituals: whose turn (a swapped period's planner), an idea backlog per ritual, and
which ideas each heads-up suggested.

Whose turn is otherwise derived from the periods and their outcomes; only a swap
(`ritual turn NAME --swap`) is stored. An idea is used when a completion names it, dropped
when someone drops it, and remembers when it was last suggested (least recently suggested
first). New tables only: every existing row is kept.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "turn_swap",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("ritual_id", sa.Integer(), sa.ForeignKey("ritual.id"), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("person", sa.String(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.UniqueConstraint("ritual_id", "period_start", name="uq_turn_swap_period"),
    )
    op.create_table(
        "idea",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("ritual_id", sa.Integer(), sa.ForeignKey("ritual.id"), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False, server_default=""),
        sa.Column("by_person", sa.String(), nullable=False, server_default=""),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("completion_id", sa.Integer(), nullable=True),
        sa.Column("used_at", _utc(), nullable=True),
        sa.Column("dropped_at", _utc(), nullable=True),
        sa.Column("last_suggested_at", _utc(), nullable=True),
    )
    op.create_index("ix_idea_ritual", "idea", ["ritual_id"])
    op.create_table(
        "idea_suggestion",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("ritual_id", sa.Integer(), sa.ForeignKey("ritual.id"), nullable=False),
        sa.Column("occurrence_id", sa.Integer(), nullable=False),
        sa.Column("idea_id", sa.Integer(), sa.ForeignKey("idea.id"), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.UniqueConstraint("occurrence_id", "idea_id", name="uq_idea_suggestion"),
    )
    op.create_index("ix_idea_suggestion_ritual_day", "idea_suggestion", ["ritual_id", "day"])


def downgrade() -> None:
    op.drop_index("ix_idea_suggestion_ritual_day", table_name="idea_suggestion")
    op.drop_table("idea_suggestion")
    op.drop_index("ix_idea_ritual", table_name="idea")
    op.drop_table("idea")
    op.drop_table("turn_swap")
