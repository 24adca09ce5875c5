"""A household of two: who skipped or paused, a token's person, household-wide pauses,
and a completion recorded once per (ritual, day, person).

``completion.again`` numbers the completions one person records for one ritual day:
0 for the first, 1, 2, ... for those recorded on purpose with ``--again``; a unique index
keeps every other repeat out. Completions stored before this revision keep every row: a
repeat of a ritual whose target is several a period becomes a numbered one (it counted
before and still does); any other repeat gets ``again`` NULL, readable but not counted
(NULLs never collide in the index).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import json
from itertools import groupby

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("completion") as batch:
        batch.add_column(sa.Column("again", sa.Integer(), nullable=True, server_default="0"))
    _number_repeats()
    op.create_index(
        "uq_completion_person_day", "completion", ["ritual_id", "day", "by_person", "again"], unique=True
    )
    with op.batch_alter_table("skip") as batch:
        batch.add_column(sa.Column("by_person", sa.String(), nullable=False, server_default=""))
    with op.batch_alter_table("pause") as batch:
        batch.add_column(sa.Column("by_person", sa.String(), nullable=False, server_default=""))
        batch.alter_column("ritual_id", existing_type=sa.Integer(), nullable=True)
    with op.batch_alter_table("api_token") as batch:
        batch.add_column(sa.Column("person", sa.String(), nullable=True))


def _number_repeats() -> None:
    """Give every stored completion its ``again``: 0 for the first of a (ritual, day, person)."""
    connection = op.get_bind()
    several = {
        ritual_id
        for ritual_id, definition in connection.execute(sa.text("select id, definition from ritual"))
        if int(json.loads(definition).get("times", 1)) > 1
    }
    rows = connection.execute(
        sa.text("select id, ritual_id, day, by_person from completion order by ritual_id, day, by_person, id")
    ).all()
    for (ritual_id, _day, _by), group in groupby(rows, key=lambda row: (row[1], row[2], row[3])):
        repeats = [row[0] for row in group][1:]
        for number, completion_id in enumerate(repeats, start=1):
            connection.execute(
                sa.text("update completion set again = :again where id = :id"),
                {"again": number if ritual_id in several else None, "id": completion_id},
            )


def downgrade() -> None:
    with op.batch_alter_table("api_token") as batch:
        batch.drop_column("person")
    op.execute("delete from pause where ritual_id is null")
    with op.batch_alter_table("pause") as batch:
        batch.alter_column("ritual_id", existing_type=sa.Integer(), nullable=False)
        batch.drop_column("by_person")
    with op.batch_alter_table("skip") as batch:
        batch.drop_column("by_person")
    op.drop_index("uq_completion_person_day", table_name="completion")
    with op.batch_alter_table("completion") as batch:
        batch.drop_column("again")
