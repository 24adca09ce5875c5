"""Channel ids keyed with the link key: no delivery row keeps a plain hash of a channel's URL.

A delivery's ``target`` was sha256(real URL). The masked URL stored beside it differs from the
real one only in the password, so a word list recovered passwords from a copy of the database.
The notify adapter now names a channel HMAC(link key, prefix + sha256(URL)); this revision turns
every stored ``target`` into that, from the sha256 it holds, without knowing any URL, so the
retries of existing rows still find their channel. The ``idempotency_key`` (occurrence id and
target) and the short id a custom plugin's label ends with follow. Every row is kept.

The key comes from ``SqlStore.open(link_key=...)``; a database with delivery rows is not
upgraded without it (the StoreError rolls the whole upgrade back). There is no way down: the
plain hashes are gone on purpose.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import hashlib
import hmac

import sqlalchemy as sa
from alembic import context, op

from scheduler.domain.errors import StoreError

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None

# Frozen copy of notify.channel.channel_target's message prefix (a test keeps the two equal).
CHANNEL_PREFIX = b"ritual-channel/v1\n"


def keyed(key: bytes, digest: str) -> str:
    """The keyed id of the channel whose URL has this sha256 (hex)."""
    return hmac.new(key, CHANNEL_PREFIX + digest.encode("ascii"), hashlib.sha256).hexdigest()


def upgrade() -> None:
    connection = op.get_bind()
    rows = connection.execute(sa.text("SELECT id, occurrence_id, channel, target FROM delivery")).all()
    if not rows:
        return
    link_key = context.config.attributes.get("link_key")
    if link_key is None:
        raise StoreError(
            "upgrading the outbox re-keys its channel ids with the link key: open the database "
            "with `ritual` and its settings (link-signing.key), not bare"
        )
    key = link_key()
    update = sa.text(
        "UPDATE delivery SET target = :target, idempotency_key = :idempotency_key, channel = :channel "
        "WHERE id = :id"
    )
    for row_id, occurrence_id, channel, target in rows:
        new = keyed(key, target)
        short = f"({target[:8]})"
        label = channel[: -len(short)] + f"({new[:8]})" if channel.endswith(short) else channel
        connection.execute(
            update,
            {"id": row_id, "target": new, "idempotency_key": f"{occurrence_id}:{new}", "channel": label},
        )


def downgrade() -> None:
    raise NotImplementedError("channel ids cannot go back to plain hashes of their URLs")
