"""Engines: parse the URL, prepare the SQLite file, and set every connection up the same way.

This is the only place that knows SQLite specifics (file mode, pragmas, BEGIN
IMMEDIATE) and PostgreSQL ones (the writers' advisory lock, connect timeout, pings);
everything above it speaks portable SQL.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from scheduler.domain.errors import StoreError

# Execution option marking a connection that is going to write: on SQLite its
# transaction starts with BEGIN IMMEDIATE, so two writers queue on the busy
# timeout instead of failing when a read snapshot turns stale.
WRITE_OPTION = "ritual_write"

# What SQLite's busy_timeout is to its writers, lock_timeout is to PostgreSQL's (seconds).
WRITER_WAIT_SECONDS = 10
# A CLI command must not hang on an unreachable server (libpq waits for the OS by default).
POSTGRES_CONNECT_TIMEOUT = 10

SQLITE_PRAGMAS = (
    "PRAGMA busy_timeout=10000",
    "PRAGMA journal_mode=WAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA synchronous=NORMAL",
)


def parse_url(url: str) -> URL:
    try:
        return make_url(url)
    except ArgumentError:
        # The text may hold a password we cannot locate, so it is not repeated.
        raise StoreError(
            "invalid database url (expected e.g. 'sqlite:////var/lib/ritual/ritual.db')"
        ) from None


def shown_url(url: URL) -> str:
    """The URL as messages may show it: never with its password."""
    return url.render_as_string(hide_password=True)


def sqlite_path(url: URL) -> Path | None:
    """The file of a SQLite URL; None for other databases and in-memory ones."""
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database)


def where(url: URL) -> str:
    """What error messages call the database: its file, or its URL without the password."""
    path = sqlite_path(url)
    return str(path) if path is not None else shown_url(url)


def one_line(error: BaseException, url: URL) -> str:
    """The first line of a driver error, with the URL's password masked in case it was echoed."""
    orig = getattr(error, "orig", None) or error
    lines = str(orig).strip().splitlines() or [type(orig).__name__]
    text = lines[0].strip()
    if url.password:
        text = text.replace(str(url.password), "***")
    return text


def prepare_sqlite_file(path: Path) -> None:
    """Create the directory (0700) and an empty database file (0600) before SQLite can, with its umask."""
    try:
        if not path.parent.exists():
            path.parent.mkdir(mode=0o700, parents=True)
        fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
        os.close(fd)
    except OSError as exc:
        raise StoreError(f"cannot open database '{path}': {exc.strerror or exc}") from None


def make_engine(url: URL) -> Engine:
    """One engine per store; SQLite connections get WAL, a busy timeout and real transactions."""
    postgres = url.get_backend_name() == "postgresql"
    options: dict[str, object] = {}
    if postgres:
        # The daemon keeps connections for days; a ping on checkout survives a server restart.
        options["pool_pre_ping"] = True
        if "connect_timeout" not in url.query:
            options["connect_args"] = {"connect_timeout": POSTGRES_CONNECT_TIMEOUT}
    try:
        engine = create_engine(url, **options)
    except NoSuchModuleError:
        raise StoreError(
            f"cannot open database '{shown_url(url)}': unknown database kind '{url.drivername}'"
        ) from None
    except ImportError as exc:
        raise StoreError(
            f"cannot open database '{shown_url(url)}': its driver '{exc.name}' is not installed"
        ) from None
    if url.get_backend_name() == "sqlite":
        _set_up_sqlite(engine)
    elif postgres:
        _set_up_postgresql(engine)
    return engine


def schema_lock_key(name: str) -> str:
    """SQL for a 64-bit advisory lock key made of ``name`` and the current schema.

    Advisory locks are database-wide, while a ritual-scheduler installation is one schema
    (the first of search_path): installations sharing a database get keys of their own.
    """
    if "'" in name:
        raise ValueError(f"lock name '{name}' holds a quote")
    return f"('x' || substr(md5('{name}' || ':' || coalesce(current_schema(), '')), 1, 16))::bit(64)::bigint"


def _set_up_postgresql(engine: Engine) -> None:
    # SQLite runs one writer at a time (BEGIN IMMEDIATE); the store's read-then-write steps
    # (save a ritual by name, record a cadence change, set a meta key, fence a claim against
    # the leader epoch) rely on that. On PostgreSQL a transaction-scoped advisory lock, taken
    # first thing in every writing transaction, gives the same order; readers never wait.
    lock = (
        f"SET LOCAL lock_timeout = '{WRITER_WAIT_SECONDS}s'; "
        f"SELECT pg_advisory_xact_lock({schema_lock_key('ritual-scheduler writer')})"
    )

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        if connection.get_execution_options().get(WRITE_OPTION, False):
            connection.exec_driver_sql(lock)


def _set_up_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take BEGIN away from the sqlite3 module (it skips it before DDL and cannot say
        # IMMEDIATE); the "begin" hook below emits it, so migrations are transactional too.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            for pragma in SQLITE_PRAGMAS:
                cursor.execute(pragma)
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        writes = connection.get_execution_options().get(WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")
