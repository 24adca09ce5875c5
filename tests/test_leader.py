"""Leader election on PostgreSQL: one leader per database schema, fenced by an epoch.

Every PostgreSQL test gets a schema of its own (``postgres_url``); the lock key is derived
from the schema, so concurrent runs (CI and a developer) never elect against each other.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Protocol

import psycopg
import pytest

from scheduler.adapters.clock import FakeClock
from scheduler.adapters.store import SqlStore
from scheduler.adapters.store.leader import (
    PostgresLeadership,
    SoleLeadership,
    default_holder,
    open_leadership,
)
from scheduler.app.stored import LeaderInfo, OccurrenceKind, OccurrenceRecord, OccurrenceStatus, RitualSource
from scheduler.domain.definitions import ritual_from_table
from tests.conftest import libpq_url, postgres_schema

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DAY = date(2026, 3, 1)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def store(postgres_url: str) -> Iterator[SqlStore]:
    opened = SqlStore.open(postgres_url)
    yield opened
    opened.close()


class Elect(Protocol):
    def __call__(
        self, holder: str, url: str | None = None, on: SqlStore | None = None
    ) -> PostgresLeadership: ...


@pytest.fixture
def elect(postgres_url: str, store: SqlStore, clock: FakeClock) -> Iterator[Elect]:
    """Makes daemons' leaderships (on this test's schema unless told), closed at the end."""
    made: list[PostgresLeadership] = []

    def make(holder: str, url: str | None = None, on: SqlStore | None = None) -> PostgresLeadership:
        leadership = open_leadership(url or postgres_url, on or store, holder, clock)
        assert isinstance(leadership, PostgresLeadership)
        made.append(leadership)
        return leadership

    yield make
    for leadership in made:
        leadership.close()


def terminate(url: str, pid: int | None) -> None:
    """Kill a backend as a DBA (or a failover) would, and wait until it is gone."""
    assert pid is not None
    with psycopg.connect(libpq_url(url), autocommit=True) as admin:
        row = admin.execute("SELECT pg_terminate_backend(%s, 10000)", (pid,)).fetchone()
    assert row == (True,)


def claim(store: SqlStore, slot: str, epoch: int | None) -> tuple[OccurrenceRecord | None, bool]:
    ritual_id = store.save_ritual(
        ritual_from_table({"name": "talk"}), RitualSource.CLI, now=NOW, effective_from=DAY
    ).id
    return store.claim_occurrence(
        ritual_id,
        day=DAY,
        slot=slot,
        kind=OccurrenceKind.DUE,
        due_at=NOW,
        status=OccurrenceStatus.PENDING,
        now=NOW,
        epoch=epoch,
    )


# --- PostgreSQL ---------------------------------------------------------------------------------


@pytest.mark.postgres
def test_of_two_daemons_exactly_one_leads(elect: Elect, store: SqlStore) -> None:
    first, second = elect("host-a 41"), elect("host-b 7")
    assert (first.try_lead(), second.try_lead()) == (True, False)
    assert (first.leading, second.leading) == (True, False)
    assert (first.check(), second.check()) == (True, False)
    assert first.epoch == 1
    assert second.epoch == 0, "a follower's epoch fences every claim"
    assert store.leader_info() == LeaderInfo(epoch=1, holder="host-a 41", since=NOW)
    assert (first.try_lead(), second.try_lead()) == (True, False), "asking again changes nothing"
    assert first.epoch == 1


@pytest.mark.postgres
def test_when_the_leader_steps_down_the_other_takes_over_with_a_higher_epoch(
    elect: Elect, store: SqlStore, clock: FakeClock
) -> None:
    first, second = elect("host-a 41"), elect("host-b 7")
    assert first.try_lead()
    assert not second.try_lead()
    first.close()
    assert not first.leading
    clock.advance(timedelta(minutes=3))
    assert second.try_lead()
    assert second.epoch == 2
    assert store.leader_info() == LeaderInfo(epoch=2, holder="host-b 7", since=NOW + timedelta(minutes=3))
    assert not first.try_lead(), "the old leader is a follower now"


@pytest.mark.postgres
def test_a_killed_leader_session_is_noticed_at_the_next_check(postgres_url: str, elect: Elect) -> None:
    first, second = elect("host-a 41"), elect("host-b 7")
    assert first.try_lead()
    stale = first.epoch
    terminate(postgres_url, first.backend_pid)

    assert first.check() is False
    assert not first.leading
    assert first.backend_pid is None, "the dead connection is let go"
    assert first.epoch == stale, "the old epoch stays, so late claims are refused"
    assert second.try_lead()
    assert second.epoch == 2
    assert not first.try_lead(), "a new connection, but the lock is taken"
    second.close()
    assert first.try_lead(), "and it leads again once the lock is free"
    assert first.epoch == 3


@pytest.mark.postgres
def test_a_claim_with_a_stale_epoch_is_refused(postgres_url: str, elect: Elect, store: SqlStore) -> None:
    first, second = elect("host-a 41"), elect("host-b 7")
    assert first.try_lead()
    stale = first.epoch
    terminate(postgres_url, first.backend_pid)
    assert second.try_lead()

    # The old leader has not run check() yet: its claim is fenced all the same.
    assert claim(store, "20:30", stale) == (None, False)
    record, created = claim(store, "20:30", second.epoch)
    assert created
    assert record is not None and record.epoch == second.epoch
    assert store.occurrences() == [record]
    # Before a daemon was ever elected its epoch fences every claim too.
    assert claim(store, "nag/20:30", elect("host-c 9").epoch) == (None, False)


@pytest.mark.postgres
def test_two_installations_in_one_database_elect_apart(elect: Elect) -> None:
    with postgres_schema() as other_url:
        other_store = SqlStore.open(other_url)
        try:
            here, there = elect("host-a 41"), elect("host-b 7", other_url, other_store)
            assert (here.try_lead(), there.try_lead()) == (True, True)
            assert (here.epoch, there.epoch) == (1, 1)
        finally:
            there.close()
            other_store.close()


@pytest.mark.postgres
def test_the_leader_connection_is_its_own_with_timeouts_and_keepalives(
    postgres_url: str, elect: Elect
) -> None:
    leader = elect("host-a 41")
    assert leader.try_lead()
    with psycopg.connect(libpq_url(postgres_url), autocommit=True) as admin:
        row = admin.execute(
            "SELECT application_name FROM pg_stat_activity WHERE pid = %s", (leader.backend_pid,)
        ).fetchone()
    assert row == ("ritual-scheduler leader",)
    connection = leader._connection
    assert connection is not None and connection.autocommit
    settings = dict(
        connection.execute(
            "SELECT name, setting FROM pg_settings WHERE name IN"
            " ('statement_timeout', 'tcp_keepalives_idle', 'tcp_keepalives_interval', 'tcp_keepalives_count')"
        ).fetchall()
    )
    assert settings == {
        "statement_timeout": "2000",
        "tcp_keepalives_idle": "5",
        "tcp_keepalives_interval": "2",
        "tcp_keepalives_count": "3",
    }


# --- without PostgreSQL ---------------------------------------------------------------------------


def test_on_sqlite_the_only_daemon_always_leads_and_fences_nothing(tmp_path: Path) -> None:
    store = SqlStore.open(f"sqlite:///{tmp_path / 'ritual.db'}")
    try:
        leadership = open_leadership(f"sqlite:///{tmp_path / 'ritual.db'}", store, "host-a 41")
        assert isinstance(leadership, SoleLeadership)
        assert (leadership.try_lead(), leadership.check(), leadership.leading) == (True, True, True)
        assert leadership.epoch is None
        record, created = claim(store, "20:30", leadership.epoch)
        assert created and record is not None and record.epoch == 0
        leadership.close()
        assert store.leader_info() is None
    finally:
        store.close()


def test_an_unreachable_server_means_not_leading_without_an_error(tmp_path: Path) -> None:
    store = SqlStore.open(f"sqlite:///{tmp_path / 'ritual.db'}")
    try:
        # Port 1 on the loopback refuses at once: nothing listens there.
        leadership = open_leadership("postgresql+psycopg://nobody:pw@127.0.0.1:1/none", store, "host-a 41")
        assert isinstance(leadership, PostgresLeadership)
        assert leadership.try_lead() is False
        assert (leadership.leading, leadership.check(), leadership.epoch) == (False, False, 0)
        leadership.close()
    finally:
        store.close()


def test_the_holder_names_host_and_process() -> None:
    host, pid = default_holder().rsplit(" ", 1)
    assert host
    assert int(pid) > 0
