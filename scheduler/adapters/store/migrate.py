"""Schema revisions: a cheap check on every open, Alembic only when an upgrade is due.

Importing Alembic costs more than a whole `ritual done`, so it is imported
inside ``upgrade`` and only when the database is behind this code.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError

from scheduler.adapters.store.engine import WRITE_OPTION, one_line, shown_url, where
from scheduler.domain.errors import SchemaTooNewError, StoreError

if TYPE_CHECKING:
    from alembic.config import Config

# Every revision in migrations/versions, oldest first (a test keeps this in step with Alembic).
REVISIONS = ("0001", "0002", "0003", "0004", "0005", "0006", "0007")
HEAD = REVISIONS[-1]

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
VERSION_TABLE = "alembic_version"


def current_revisions(connection: Connection) -> set[str]:
    """The revisions the database is stamped with; empty for a new database."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return set()
    return {str(row[0]) for row in connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}"))}


def ensure_current(engine: Engine, url: URL, *, link_key: Callable[[], bytes] | None = None) -> None:
    """Bring the schema to HEAD; refuse a database stamped by a newer ritual-scheduler.

    ``link_key`` is for revisions that re-key stored ids (0005); see ``SqlStore.open``.
    """
    try:
        with engine.connect() as connection:
            stamped = current_revisions(connection)
    except DBAPIError as exc:
        raise StoreError(f"cannot open database '{where(url)}': {one_line(exc, url)}") from None
    unknown = sorted(stamped - set(REVISIONS))
    if unknown:
        raise SchemaTooNewError(
            f"{shown_url(url)}: database schema '{unknown[0]}' is newer than this ritual-scheduler"
            " knows (upgrade ritual-scheduler)"
        )
    if stamped != {HEAD}:
        upgrade(engine, url, link_key=link_key)


def upgrade(
    engine: Engine, url: URL, revision: str = "head", *, link_key: Callable[[], bytes] | None = None
) -> None:
    """Run the pending revisions in one transaction: all of them apply, or none does."""
    from alembic import command

    config = alembic_config()
    config.attributes["link_key"] = link_key
    try:
        with engine.connect() as connection:
            connection.execution_options(**{WRITE_OPTION: True})
            with connection.begin():
                config.attributes["connection"] = connection
                command.upgrade(config, revision)
    except DBAPIError as exc:
        raise StoreError(f"cannot migrate database '{where(url)}': {one_line(exc, url)}") from None


def alembic_config() -> Config:
    """An Alembic configuration pointing at the bundled migrations; no alembic.ini involved."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    return config
