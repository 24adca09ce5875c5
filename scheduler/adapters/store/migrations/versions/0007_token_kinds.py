"""Token kinds: a token either opens the API and the pages ("api", every token so far) or only
reads one person's calendar feed ("feed"), so a feed URL given to a calendar app cannot record
anything. Every stored token stays as it was, of kind "api".

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_token") as batch:
        batch.add_column(sa.Column("kind", sa.String(), nullable=False, server_default="api"))


def downgrade() -> None:
    op.execute("update api_token set revoked_at = created_at where kind <> 'api' and revoked_at is null")
    with op.batch_alter_table("api_token") as batch:
        batch.drop_column("kind")
