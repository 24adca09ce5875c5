"""Leader election: of all `ritual run` daemons on one PostgreSQL database, one fires nudges.

The leader holds a PostgreSQL session advisory lock on a connection of its own (not from
the store's pool): the lock lives exactly as long as that session, so a crashed host, a
killed backend or a dead network frees it for another daemon. Keepalives on both ends
(libpq's and the server's tcp_keepalives_*) notice a silent network within about 11 s.

Each election bumps a leader epoch in the store; the leader passes its epoch to
``SqlStore.claim_occurrence`` and ``SqlStore.claim_delivery``, which refuse a claim once the
stored epoch has moved on. So a deposed leader that has not noticed yet (between two
``check()`` calls) cannot fire a nudge the new leader also fires.

On SQLite there is one daemon per database file anyway (``instance.py``'s file lock):
``SoleLeadership`` always leads and fences nothing (epoch None).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import URL

from scheduler.adapters.clock import SystemClock
from scheduler.adapters.store import SqlStore
from scheduler.adapters.store.engine import one_line, parse_url, schema_lock_key
from scheduler.app.ports import Clock, Leadership
from scheduler.domain.errors import StoreError

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger(__name__)

# The lock key is derived from this name and the installation's schema (engine.schema_lock_key),
# so two installations in two schemas of one database elect their leaders apart.
LEADER_LOCK = "ritual-scheduler leader"
CONNECT_TIMEOUT = 5  # seconds, libpq's connect_timeout
STATEMENT_TIMEOUT = timedelta(seconds=2)
# Client (libpq) and server (GUC) side alike: first probe after 5 s idle, then 3 probes 2 s
# apart, so a dead peer is noticed within about 11 s; tcp_user_timeout bounds unacked sends.
KEEPALIVES_IDLE, KEEPALIVES_INTERVAL, KEEPALIVES_COUNT = 5, 2, 3
TCP_USER_TIMEOUT_MS = 11_000
APPLICATION_NAME = "ritual-scheduler leader"


def default_holder() -> str:
    """How `ritual status` names the leader: "host pid"."""
    return f"{socket.gethostname()} {os.getpid()}"


def open_leadership(
    database_url: str, store: SqlStore, holder: str | None = None, clock: Clock | None = None
) -> Leadership:
    """The leadership for ``Settings.database``: an advisory lock on PostgreSQL, sole otherwise.

    Nothing is connected until ``try_lead``.
    """
    url = parse_url(database_url)
    if url.get_backend_name() == "postgresql":
        return PostgresLeadership(url, store, holder or default_holder(), clock or SystemClock())
    return SoleLeadership()


class SoleLeadership:
    """The only daemon of a SQLite database: always the leader, nothing to fence."""

    @property
    def epoch(self) -> int | None:
        return None

    @property
    def leading(self) -> bool:
        return True

    @property
    def contested(self) -> bool:
        return False

    def try_lead(self) -> bool:
        return True

    def check(self) -> bool:
        return True

    def close(self) -> None:
        return None


class PostgresLeadership:
    """A session advisory lock on a dedicated psycopg connection (autocommit, keepalives).

    ``epoch`` is 0 until the first election and keeps the last epoch after the lead is lost,
    so claims fenced with it are refused rather than let through.
    """

    def __init__(
        self,
        url: URL,
        store: SqlStore,
        holder: str,
        clock: Clock,
        *,
        connect_timeout: int = CONNECT_TIMEOUT,
        statement_timeout: timedelta = STATEMENT_TIMEOUT,
    ) -> None:
        self._url = url
        self._conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._store = store
        self._holder = holder
        self._clock = clock
        self._connect_timeout = connect_timeout
        self._statement_timeout_ms = int(statement_timeout.total_seconds() * 1000)
        self._mutex = threading.Lock()
        self._connection: psycopg.Connection[Any] | None = None
        self._key = 0
        self._leading = False
        self._epoch = 0

    @property
    def epoch(self) -> int | None:
        return self._epoch

    @property
    def leading(self) -> bool:
        return self._leading

    @property
    def contested(self) -> bool:
        return True

    @property
    def holder(self) -> str:
        return self._holder

    @property
    def backend_pid(self) -> int | None:
        """The server process holding (or asking for) the lock; None when not connected."""
        connection = self._connection
        return None if connection is None or connection.closed else connection.info.backend_pid

    def try_lead(self) -> bool:
        with self._mutex:
            if self._leading:
                return self._check()
            try:
                connection = self._connect()
                row = connection.execute("SELECT pg_try_advisory_lock(%s)", (self._key,)).fetchone()
            except Exception as exc:  # any failure of this connection: drop it, try again later
                self._drop(f"cannot reach the database to take the lead: {self._one_line(exc)}")
                return False
            if row is None or row[0] is not True:
                return False  # another daemon leads; keep the connection for the next try
            try:
                self._epoch = self._store.bump_leader_epoch(self._holder, self._clock.now())
            except StoreError as exc:
                self._drop(f"took the lock but could not record the epoch: {exc}")
                return False
            self._leading = True
            log.info("leading as '%s' (epoch %d)", self._holder, self._epoch)
            return True

    def check(self) -> bool:
        with self._mutex:
            return self._leading and self._check()

    def close(self) -> None:
        with self._mutex:
            if self._leading:
                log.info("stepping down (epoch %d)", self._epoch)
            self._leading = False
            self._close_connection()

    # ---------------------------------------------------------------------------------------
    def _check(self) -> bool:
        hi, lo = (self._key >> 32) & 0xFFFFFFFF, self._key & 0xFFFFFFFF
        try:
            assert self._connection is not None
            row = self._connection.execute(
                "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory'"
                " AND pid = pg_backend_pid() AND granted AND classid::bigint = %s"
                " AND objid::bigint = %s AND objsubid = 1)",
                (hi, lo),
            ).fetchone()
        except Exception as exc:  # the session is gone, and the lock with it
            self._drop(f"lost the lead (epoch {self._epoch}): {self._one_line(exc)}")
            return False
        if row is None or row[0] is not True:
            self._drop(f"lost the lead (epoch {self._epoch}): the lock is no longer held")
            return False
        return True

    def _connect(self) -> psycopg.Connection[Any]:
        if self._connection is not None and not self._connection.closed:
            return self._connection
        import psycopg

        connection = psycopg.connect(
            self._conninfo,
            autocommit=True,
            connect_timeout=self._connect_timeout,
            keepalives=1,
            keepalives_idle=KEEPALIVES_IDLE,
            keepalives_interval=KEEPALIVES_INTERVAL,
            keepalives_count=KEEPALIVES_COUNT,
            tcp_user_timeout=TCP_USER_TIMEOUT_MS,
            application_name=APPLICATION_NAME,
        )
        try:
            # The server probes this session too (a dead leader host frees the lock in seconds,
            # not the OS default of hours); a stuck statement fails instead of hanging the check.
            row = connection.execute(
                "SELECT set_config('statement_timeout', %s, false),"
                " set_config('tcp_keepalives_idle', %s, false),"
                " set_config('tcp_keepalives_interval', %s, false),"
                " set_config('tcp_keepalives_count', %s, false),"
                f" {schema_lock_key(LEADER_LOCK)}",
                (
                    str(self._statement_timeout_ms),
                    str(KEEPALIVES_IDLE),
                    str(KEEPALIVES_INTERVAL),
                    str(KEEPALIVES_COUNT),
                ),
            ).fetchone()
        except BaseException:
            connection.close()
            raise
        assert row is not None
        self._key = int(row[-1])
        self._connection = connection
        return connection

    def _drop(self, why: str) -> None:
        if self._leading:
            log.warning("%s", why)
        else:
            log.debug("%s", why)
        self._leading = False
        self._close_connection()

    def _close_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.close()  # ends the session: the server releases the lock
            except Exception as exc:
                log.debug("closing the leader connection: %s", self._one_line(exc))

    def _one_line(self, error: BaseException) -> str:
        return one_line(error, self._url)
