"""The store contract: every test runs against each backend of the ``store_url`` fixture.

Tests that look at SQLite's file itself (mode, WAL, bytes) skip on other backends.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import sqlite3
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import MetaData, insert, text

from scheduler.adapters.notify.channel import CHANNEL_PREFIX
from scheduler.adapters.store import SqlStore, migrate
from scheduler.adapters.store import store as store_module
from scheduler.adapters.store.engine import parse_url, sqlite_path
from scheduler.adapters.store.tables import RitualRow
from scheduler.app.stored import CompletionRecord, RitualSource
from scheduler.domain.cadence import Cadence
from scheduler.domain.definitions import Ritual, ritual_from_table, ritual_to_table
from scheduler.domain.errors import SchemaTooNewError, StoreError, UnknownRitualError
from tests.support.store import SEED, SEED_AT, raw_engine, stamped, table_names

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
MAR = {day: date(2026, 3, day) for day in range(1, 32)}

DAILY: dict[str, Any] = {"every": "day"}
WEEKDAYS: dict[str, Any] = {"every": "day", "on": ["mon", "tue", "wed", "thu", "fri"]}
WEEKLY: dict[str, Any] = {"every": "week", "on": ["fri"]}
CADENCES = {"daily": DAILY, "weekdays": WEEKDAYS, "weekly": WEEKLY}


def make_ritual(name: str = "talk", **keys: Any) -> Ritual:
    return ritual_from_table({"name": name, **keys})


def cadence_of(keys: dict[str, Any]) -> Cadence:
    return make_ritual(**keys).cadence


@pytest.fixture
def ritual_id(store: SqlStore) -> int:
    return store.save_ritual(make_ritual(), RitualSource.FILE, now=NOW, effective_from=MAR[1]).id


def complete(
    store: SqlStore,
    ritual_id: int,
    *,
    day: date = MAR[1],
    at: datetime = NOW,
    by: str = "",
    occurrence: str | None = None,
    note: str = "",
    again: bool = False,
) -> tuple[CompletionRecord, bool]:
    return store.add_completion(
        ritual_id,
        day=day,
        at=at,
        period_key=day.isoformat(),
        by=by,
        note=note,
        source="cli",
        occurrence=occurrence,
        now=NOW,
        again=again,
    )


def sqlite_file(url: str) -> Path:
    path = sqlite_path(parse_url(url))
    if path is None:
        pytest.skip("looks at the SQLite file itself")
    return path


# --- opening: files, pragmas, errors ---------------------------------------------------------------


def test_new_sqlite_file_is_private(store_url: str) -> None:
    path = sqlite_file(store_url)
    opened = SqlStore.open(store_url)
    try:
        opened.set_meta("k", "v")  # a write makes the -wal and -shm files appear
        modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in path.parent.iterdir()}
        assert modes == {"ritual.db": 0o600, "ritual.db-wal": 0o600, "ritual.db-shm": 0o600}
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    finally:
        opened.close()


@pytest.mark.parametrize(
    ("pragma", "expected"),
    [
        pytest.param("journal_mode", "wal", id="write-ahead log"),
        pytest.param("busy_timeout", 10000, id="writers wait 10 s for each other"),
        pytest.param("foreign_keys", 1, id="foreign keys enforced"),
        pytest.param("synchronous", 1, id="synchronous NORMAL"),
    ],
)
def test_every_sqlite_connection_is_set_up(store_url: str, pragma: str, expected: object) -> None:
    sqlite_file(store_url)
    SqlStore.open(store_url).close()
    with raw_engine(store_url) as engine:
        for _ in range(2):  # a second, fresh connection gets the same settings
            with engine.connect() as connection:
                assert connection.exec_driver_sql(f"PRAGMA {pragma}").scalar() == expected
            engine.dispose()


def test_wal_mode_stays_in_the_file(store_url: str) -> None:
    path = sqlite_file(store_url)
    SqlStore.open(store_url).close()
    with sqlite3.connect(path) as plain:
        assert plain.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    plain.close()


def _directory(path: Path) -> None:
    path.mkdir(parents=True)


def _garbage(path: Path) -> None:
    path.parent.mkdir(parents=True)
    path.write_bytes(b"this is not a database\n" * 400)


def _parent_is_a_file(path: Path) -> None:
    path.parent.parent.mkdir(parents=True, exist_ok=True)
    path.parent.write_text("a file where the directory should be\n")


@pytest.mark.parametrize(
    ("spoil", "reason"),
    [
        pytest.param(_directory, "is a directory", id="path is a directory"),
        pytest.param(_garbage, "file is not a database", id="file is not a database"),
        pytest.param(_parent_is_a_file, "not a directory", id="parent is a file"),
    ],
)
def test_unopenable_sqlite_file_names_the_path(store_url: str, spoil: Any, reason: str) -> None:
    path = sqlite_file(store_url)
    spoil(path)
    with pytest.raises(StoreError) as caught:
        SqlStore.open(store_url)
    message = str(caught.value)
    assert message.startswith(f"cannot open database '{path}': ")
    assert reason in message.lower()
    assert "\n" not in message


def test_database_password_never_appears_in_errors() -> None:
    # An unreachable PostgreSQL, or none of its driver installed: either way a one-line StoreError.
    with pytest.raises(StoreError) as caught:
        SqlStore.open("postgresql+psycopg://u:secret@127.0.0.1:1/x")
    message = str(caught.value)
    assert "secret" not in message
    assert "postgresql+psycopg://u:***@127.0.0.1:1/x" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("not a url at all", id="no scheme"),
        pytest.param("nosuchdb://u:secret@localhost/x", id="unknown database kind"),
    ],
)
def test_bad_urls_are_store_errors_without_secrets(url: str) -> None:
    with pytest.raises(StoreError) as caught:
        SqlStore.open(url)
    assert "secret" not in str(caught.value)


def test_naive_datetimes_are_refused(store: SqlStore, ritual_id: int) -> None:
    with pytest.raises(ValueError, match="at must be an aware datetime"):
        complete(store, ritual_id, at=datetime(2026, 3, 1, 20, 0))
    assert store.completions(ritual_id) == []


# --- migrations --------------------------------------------------------------------------------


def all_revisions() -> list[str]:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(migrate.alembic_config())
    return [revision.revision for revision in reversed(list(script.walk_revisions()))]


def test_revisions_known_in_code_match_the_migrations() -> None:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(migrate.alembic_config())
    assert tuple(all_revisions()) == migrate.REVISIONS
    assert script.get_heads() == [migrate.HEAD]
    files = sorted(p.name for p in (migrate.MIGRATIONS_DIR / "versions").glob("[0-9]*.py"))
    assert [name.split("_")[0] for name in files] == list(migrate.REVISIONS)


def test_migrations_build_exactly_the_tables_the_code_uses(store_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    SqlStore.open(store_url).close()
    with raw_engine(store_url) as engine, engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), RitualRow.metadata)
    assert differences == []


def test_empty_sqlite_file_is_migrated_on_open(store_url: str) -> None:
    path = sqlite_file(store_url)
    path.parent.mkdir(parents=True)
    path.touch()
    SqlStore.open(store_url).close()
    assert stamped(store_url) == {migrate.HEAD}
    assert {
        "ritual",
        "cadence_version",
        "completion",
        "skip",
        "pause",
        "meta",
        "occurrence",
        "delivery",
    } <= table_names(store_url)


def test_reopening_a_current_database_does_not_run_alembic(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    SqlStore.open(store_url).close()

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("alembic ran on a current database")

    monkeypatch.setattr(migrate, "upgrade", refuse)
    reopened = SqlStore.open(store_url)
    reopened.set_meta("still", "works")
    reopened.close()
    # The patch is where SqlStore.open looks: a new database does reach it.
    with pytest.raises(AssertionError, match="alembic ran"):
        SqlStore.open(f"sqlite:///{tmp_path / 'other.db'}")


def test_opening_a_current_database_does_not_import_alembic(store_url: str) -> None:
    SqlStore.open(store_url).close()
    code = (
        "import sys\nfrom scheduler.adapters.store import SqlStore\n"
        f"SqlStore.open({store_url!r}).close()\n"
        "assert 'alembic' not in sys.modules, 'alembic was imported'\n"
    )
    root = Path(__file__).resolve().parent.parent
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_a_failed_upgrade_leaves_the_database_untouched(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from alembic import command

    real_upgrade = command.upgrade

    def upgrade_then_fail(config: Any, revision: str, **kwargs: Any) -> None:
        real_upgrade(config, revision, **kwargs)
        raise RuntimeError("crash after the last revision ran")

    monkeypatch.setattr(command, "upgrade", upgrade_then_fail)
    with pytest.raises(RuntimeError, match="crash after"):
        SqlStore.open(store_url)
    assert table_names(store_url) == set()
    monkeypatch.undo()
    SqlStore.open(store_url).close()
    assert stamped(store_url) == {migrate.HEAD}


def test_a_newer_schema_is_refused_and_left_alone(store_url: str) -> None:
    opened = SqlStore.open(store_url)
    ritual_id = opened.save_ritual(make_ritual(), RitualSource.CLI, now=NOW, effective_from=MAR[1]).id
    complete(opened, ritual_id)
    opened.close()
    with raw_engine(store_url) as engine, engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    path = sqlite_path(parse_url(store_url))
    before = path.read_bytes() if path else b""

    with pytest.raises(SchemaTooNewError) as caught:
        SqlStore.open(store_url)

    assert str(caught.value) == (
        f"{store_url}: database schema '9999' is newer than this ritual-scheduler knows"
        " (upgrade ritual-scheduler)"
    )
    assert stamped(store_url) == {"9999"}
    if path:
        assert path.read_bytes() == before
    with raw_engine(store_url) as engine, engine.connect() as connection:
        assert connection.execute(text("SELECT COUNT(*) FROM completion")).scalar() == 1


SEED_LINK_KEY = b"s" * 32


@pytest.mark.parametrize("revision", all_revisions())
def test_upgrading_from_each_revision_keeps_every_row(store_url: str, revision: str) -> None:
    with raw_engine(store_url) as engine:
        migrate.upgrade(engine, parse_url(store_url), revision)
        schema = MetaData()
        schema.reflect(engine)
        with engine.begin() as connection:
            for name, rows in SEED.items():
                if name not in schema.tables:  # a table later revisions add
                    continue
                table = schema.tables[name]
                connection.execute(
                    insert(table), [{k: v for k, v in r.items() if k in table.c} for r in rows]
                )
    seeded = set(schema.tables)

    upgraded = SqlStore.open(store_url, link_key=lambda: SEED_LINK_KEY)
    try:
        assert stamped(store_url) == {migrate.HEAD}
        kept = [
            (c.id, c.day, c.at, c.period_key, c.by, c.note, c.source, c.occurrence, c.created_at)
            for c in upgraded.completions(1)
        ]
        fields = ("id", "day", "at", "period_key", "by_person", "note", "source", "occurrence", "created_at")
        assert kept == [tuple(r[field] for field in fields) for r in SEED["completion"]]
        assert [(s.day, s.reason) for s in upgraded.skips(1)] == [(date(2026, 1, 9), "ill")]
        assert [(p.start, p.until, p.reason) for p in upgraded.pauses(1)] == [
            (date(2026, 1, 10), None, "travel")
        ]
        assert upgraded.get_meta("ritual_file_hash") == "abc123"
        assert [(v.effective_from, v.cadence) for v in upgraded.cadence_history(1)] == [
            (date(2026, 1, 1), Cadence())
        ]
        talk = upgraded.get_ritual("talk")
        assert talk is not None
        assert (talk.id, talk.ritual.title, talk.created_at) == (1, "Talk", SEED_AT)
        # Tables a revision adds arrive empty; once there, their rows are kept like the rest.
        occurrences = upgraded.occurrences()
        deliveries = upgraded.deliveries()
        if "occurrence" in seeded:
            assert [(o.id, o.slot, o.status, o.note, o.epoch, o.due_at) for o in occurrences] == [
                (1, "20:30", "sent", "sent 25 min late", 3, SEED_AT)
            ]
            # Rows from before 0005 held sha256(URL): re-keyed with the link key, not kept.
            plain = "f" * 64
            rekeyed = hmac.new(SEED_LINK_KEY, CHANNEL_PREFIX + plain.encode(), hashlib.sha256).hexdigest()
            rekeyed = rekeyed if revision < "0005" else plain
            assert [(d.id, d.status, d.attempts, d.target, d.idempotency_key) for d in deliveries] == [
                (1, "given_up", 5, rekeyed, f"1:{rekeyed}")
            ]
        else:
            assert (occurrences, deliveries) == ([], [])
    finally:
        upgraded.close()


# --- rituals ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "table",
    [
        pytest.param({"name": "talk"}, id="only a name"),
        pytest.param(
            {
                "name": "date-night",
                "title": "Date night",
                "description": "Phones in the drawer.",
                "dimension": "experiential",
                "every": "week",
                "on": "fri",
                "at": "19:00",
                "remind_before": "1d",
                "nag_after": "90m",
                "timezone": "Europe/Berlin",
                "day_starts_at": "03:00",
                "notify": ["couple"],
                "people": ["ann", "ben"],
                "complete_when": "both",
                "start": "2026-01-02",
                "discreet": True,
            },
            id="every key a person might write",
        ),
    ],
)
def test_saved_ritual_reads_back_equal(store: SqlStore, table: dict[str, Any]) -> None:
    ritual = ritual_from_table(table)
    saved = store.save_ritual(ritual, RitualSource.CLI, now=NOW, effective_from=MAR[1])
    loaded = store.get_ritual(ritual.name)
    assert loaded is not None
    assert loaded == saved
    assert loaded.ritual == ritual
    assert (loaded.source, loaded.created_at, loaded.updated_at, loaded.removed_at) == (
        RitualSource.CLI,
        NOW,
        NOW,
        None,
    )
    assert [v.cadence for v in store.cadence_history(loaded.id)] == [ritual.cadence]


def test_unknown_ritual_reads_as_none(store: SqlStore) -> None:
    assert store.get_ritual("nope") is None
    assert store.get_ritual("nope", include_removed=True) is None


def test_rituals_are_listed_by_name(store: SqlStore) -> None:
    for name in ("walk", "hug", "talk"):
        store.save_ritual(make_ritual(name), RitualSource.FILE, now=NOW, effective_from=MAR[1])
    assert [r.name for r in store.list_rituals()] == ["hug", "talk", "walk"]


def test_editing_a_ritual_updates_it_in_place(store: SqlStore) -> None:
    first = store.save_ritual(make_ritual(title="Talk"), RitualSource.FILE, now=NOW, effective_from=MAR[1])
    later = NOW + timedelta(days=3)
    edited = store.save_ritual(
        make_ritual(title="Twenty minutes", at="20:30"), RitualSource.CLI, now=later, effective_from=MAR[4]
    )
    assert edited.id == first.id
    assert (edited.ritual.title, edited.source, edited.created_at, edited.updated_at) == (
        "Twenty minutes",
        RitualSource.CLI,
        NOW,
        later,
    )
    assert store.get_ritual("talk") == edited
    # Only the reminders changed: the cadence history is untouched.
    assert [(v.effective_from, v.recorded_at) for v in store.cadence_history(first.id)] == [(MAR[1], NOW)]


@pytest.mark.parametrize(
    ("saves", "history"),
    [
        pytest.param([("daily", 1)], [("daily", 1)], id="first save records one version"),
        pytest.param([("daily", 1), ("daily", 5)], [("daily", 1)], id="same cadence later adds nothing"),
        pytest.param(
            [("daily", 1), ("weekdays", 5)], [("daily", 1), ("weekdays", 5)], id="a changed cadence appends"
        ),
        pytest.param(
            [("daily", 1), ("weekdays", 5), ("weekly", 5)],
            [("daily", 1), ("weekly", 5)],
            id="two edits on one day keep the last",
        ),
        pytest.param(
            [("daily", 1), ("weekdays", 5), ("daily", 5)],
            [("daily", 1)],
            id="an edit undone the same day leaves no trace",
        ),
        pytest.param(
            [("daily", 1), ("weekdays", 10), ("weekly", 5)],
            [("daily", 1), ("weekly", 5)],
            id="a back-dated edit supersedes later versions",
        ),
        pytest.param(
            [("daily", 1), ("weekdays", 10), ("weekdays", 5)],
            [("daily", 1), ("weekdays", 5)],
            id="a back-dated repeat moves the change earlier",
        ),
    ],
)
def test_cadence_changes_are_effective_dated(
    store: SqlStore, saves: list[tuple[str, int]], history: list[tuple[str, int]]
) -> None:
    for step, (cadence, day) in enumerate(saves):
        saved = store.save_ritual(
            make_ritual(**CADENCES[cadence]),
            RitualSource.CLI,
            now=NOW + timedelta(minutes=step),
            effective_from=MAR[day],
        )
    assert [(v.effective_from, v.cadence) for v in store.cadence_history(saved.id)] == [
        (MAR[day], cadence_of(CADENCES[cadence])) for cadence, day in history
    ]


def in_force(history: list[tuple[date, Cadence]], day: date) -> Cadence | None:
    current = None
    for effective_from, cadence in history:
        if effective_from <= day:
            current = cadence
    return current


_names = (f"r{number}" for number in itertools.count())


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    saves=st.lists(st.tuples(st.sampled_from(sorted(CADENCES)), st.integers(1, 12)), min_size=1, max_size=6)
)
def test_a_save_changes_the_cadence_from_its_day_on_and_never_before(
    store: SqlStore, saves: list[tuple[str, int]]
) -> None:
    name = next(_names)  # the store outlives the examples; each example gets its own ritual
    before: list[tuple[date, Cadence]] = []
    for step, (cadence_name, day) in enumerate(saves):
        cadence = cadence_of(CADENCES[cadence_name])
        saved = store.save_ritual(
            make_ritual(name, **CADENCES[cadence_name]),
            RitualSource.FILE,
            now=NOW + timedelta(minutes=step),
            effective_from=MAR[day],
        )
        after = [(v.effective_from, v.cadence) for v in store.cadence_history(saved.id)]
        for probe in (MAR[n] for n in range(1, 14)):
            expected = cadence if probe >= MAR[day] else in_force(before, probe)
            assert in_force(after, probe) == expected, (probe, after)
        dates = [effective_from for effective_from, _ in after]
        assert dates == sorted(set(dates)), "one version per day, oldest first"
        assert all(a[1] != b[1] for a, b in itertools.pairwise(after)), "no version repeats the one before"
        before = after


def test_removing_a_ritual_keeps_what_people_did(store: SqlStore, ritual_id: int) -> None:
    complete(store, ritual_id)
    store.add_skip(ritual_id, day=MAR[2], reason="ill", now=NOW)
    store.add_pause(ritual_id, start=MAR[3], until=None, reason="travel", now=NOW)
    later = NOW + timedelta(days=5)

    store.remove_ritual("talk", now=later)

    assert store.get_ritual("talk") is None
    assert store.list_rituals() == []
    removed = store.get_ritual("talk", include_removed=True)
    assert removed is not None
    assert removed.removed_at == later
    assert [r.name for r in store.list_rituals(include_removed=True)] == ["talk"]
    assert len(store.completions(ritual_id)) == 1
    assert len(store.skips(ritual_id)) == 1
    assert len(store.pauses(ritual_id)) == 1
    assert len(store.cadence_history(ritual_id)) == 1


def test_saving_a_removed_ritual_revives_it(store: SqlStore, ritual_id: int) -> None:
    complete(store, ritual_id)
    store.remove_ritual("talk", now=NOW)
    revived = store.save_ritual(make_ritual(), RitualSource.CLI, now=NOW, effective_from=MAR[2])
    assert (revived.id, revived.removed_at, revived.source) == (ritual_id, None, RitualSource.CLI)
    assert store.get_ritual("talk") == revived
    assert len(store.completions(ritual_id)) == 1


@pytest.mark.parametrize("already_removed", [False, True], ids=["never saved", "already removed"])
def test_removing_an_unknown_ritual_says_so(store: SqlStore, ritual_id: int, already_removed: bool) -> None:
    name = "talk" if already_removed else "walk"
    if already_removed:
        store.remove_ritual("talk", now=NOW)
    with pytest.raises(UnknownRitualError, match=f"no ritual named '{name}'"):
        store.remove_ritual(name, now=NOW)


# --- completions -------------------------------------------------------------------------------


def test_completions_come_back_oldest_first_with_aware_utc_times(store: SqlStore, ritual_id: int) -> None:
    berlin = timezone(timedelta(hours=1))
    late = complete(store, ritual_id, day=MAR[3], at=datetime(2026, 3, 3, 21, 0, tzinfo=berlin))[0]
    early = complete(store, ritual_id, day=MAR[2], at=datetime(2026, 3, 2, 23, 30, tzinfo=UTC))[0]
    backfill = complete(store, ritual_id, day=MAR[1], at=datetime(2026, 3, 1, 8, 0, tzinfo=UTC))[0]
    same_day = complete(store, ritual_id, day=MAR[2], at=datetime(2026, 3, 2, 7, 0, tzinfo=UTC), by="ben")[0]

    listed = store.completions(ritual_id)

    assert [c.id for c in listed] == [backfill.id, same_day.id, early.id, late.id]
    assert listed[-1].at == datetime(2026, 3, 3, 20, 0, tzinfo=UTC)
    assert all(c.at.tzinfo is UTC and c.created_at.tzinfo is UTC for c in listed)
    assert [c.id for c in store.completions(ritual_id, since=MAR[2])] == [same_day.id, early.id, late.id]
    assert store.last_completion(ritual_id) == same_day  # the newest recorded, not the newest day


def test_a_completion_keeps_every_field(store: SqlStore, ritual_id: int) -> None:
    record, created = store.add_completion(
        ritual_id,
        day=MAR[2],
        at=NOW,
        period_key="2026-03-02",
        by="ann",
        note="long walk, good talk",
        source="link",
        occurrence="talk/2026-03-02/20:30",
        now=NOW + timedelta(seconds=1),
    )
    assert created
    assert store.completions(ritual_id) == [record]
    assert (record.ritual_id, record.day, record.at, record.period_key, record.by, record.note) == (
        ritual_id,
        MAR[2],
        NOW,
        "2026-03-02",
        "ann",
        "long walk, good talk",
    )
    assert (record.source, record.occurrence, record.created_at) == (
        "link",
        "talk/2026-03-02/20:30",
        NOW + timedelta(seconds=1),
    )


def test_deleting_a_completion_returns_it_once(store: SqlStore, ritual_id: int) -> None:
    kept = complete(store, ritual_id, day=MAR[1])[0]
    undone = complete(store, ritual_id, day=MAR[2])[0]
    assert store.delete_completion(undone.id) == undone
    assert store.delete_completion(undone.id) is None
    assert store.completions(ritual_id) == [kept]
    assert store.last_completion(ritual_id) == kept


def test_nothing_recorded_reads_as_empty(store: SqlStore, ritual_id: int) -> None:
    assert store.completions(ritual_id) == []
    assert store.last_completion(ritual_id) is None
    assert store.skips(ritual_id) == []
    assert store.pauses(ritual_id) == []


@pytest.mark.parametrize(
    ("taps", "rows"),
    [
        pytest.param([("nudge-1", "ann"), ("nudge-1", "ann")], 1, id="double tap on one nudge counts once"),
        pytest.param([("nudge-1", "ann"), ("nudge-1", "ben")], 2, id="each person taps their own"),
        pytest.param([("nudge-1", ""), ("nudge-1", "")], 1, id="double tap by nobody in particular"),
        # Decided in issue 20: once per (ritual, day, person), whatever path it came by.
        pytest.param([("nudge-1", "ann"), ("nudge-2", "ann")], 1, id="two nudges of one day, one completion"),
        pytest.param([(None, "ann"), (None, "ann")], 1, id="without a nudge, still once a day"),
        pytest.param([(None, "ann"), (None, "ben")], 2, id="each person once a day"),
    ],
)
def test_completions_are_idempotent_per_occurrence_and_person(
    store: SqlStore, ritual_id: int, taps: list[tuple[str | None, str]], rows: int
) -> None:
    results = [complete(store, ritual_id, occurrence=occurrence, by=by) for occurrence, by in taps]
    assert [created for _, created in results] == [True, rows == 2]
    assert len(store.completions(ritual_id)) == rows
    if rows == 1:
        assert results[0][0] == results[1][0]


def test_two_stores_racing_on_one_nudge_record_one_completion(store_url: str, ritual_id: int) -> None:
    racers = [SqlStore.open(store_url) for _ in range(2)]
    try:
        for round_number in range(5):
            occurrence = f"talk/2026-03-0{round_number + 1}/20:30"
            start = threading.Barrier(2, timeout=30)
            day = MAR[round_number + 1]

            def tap(
                racer: SqlStore,
                occurrence: str = occurrence,
                start: threading.Barrier = start,
                day: date = day,
            ) -> Any:
                start.wait()
                return complete(racer, ritual_id, day=day, occurrence=occurrence, by="ann")

            with ThreadPoolExecutor(max_workers=2) as pool:
                results = list(pool.map(tap, racers))
            assert sorted(created for _, created in results) == [False, True]
            assert results[0][0] == results[1][0]
        assert len(racers[0].completions(ritual_id)) == 5
    finally:
        for racer in racers:
            racer.close()


def test_again_records_another_completion_of_the_same_day_on_purpose(store: SqlStore, ritual_id: int) -> None:
    first, _ = complete(store, ritual_id, by="ann")
    second, created = complete(store, ritual_id, by="ann", again=True)
    third, _ = complete(store, ritual_id, by="ann", again=True)
    assert created and [first.again, second.again, third.again] == [0, 1, 2]
    assert complete(store, ritual_id, by="ann") == (first, False)
    assert store.completion_marks(ritual_id) == [(MAR[1], "ann")] * 3


def test_losing_the_insert_race_returns_the_winner(
    store: SqlStore, ritual_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    winner, _ = complete(store, ritual_id, occurrence="nudge-1", by="ann")
    real_find = store_module._find_completion
    misses = iter([True])

    def find_late(*args: Any) -> Any:
        # The first look happens before the other writer commits: it sees nothing.
        return None if next(misses, False) else real_find(*args)

    monkeypatch.setattr(store_module, "_find_completion", find_late)
    with store.transaction():
        store.add_skip(ritual_id, day=MAR[5], reason="ill", now=NOW)
        loser = complete(store, ritual_id, occurrence="nudge-1", by="ann")
    assert loser == (winner, False)
    assert store.completions(ritual_id) == [winner]
    assert len(store.skips(ritual_id)) == 1  # the surrounding transaction survived the lost race


def test_completion_marks_are_the_day_and_person_of_each_completion_oldest_first(
    store: SqlStore, ritual_id: int
) -> None:
    # Read through the driver's own cursor: its placeholder style differs per backend.
    complete(store, ritual_id, day=MAR[3], by="ben")
    complete(store, ritual_id, day=MAR[1], by="ann")
    other = store.save_ritual(make_ritual("walk"), RitualSource.CLI, now=NOW, effective_from=MAR[1]).id
    complete(store, other, day=MAR[2], by="ann")
    assert store.completion_marks(ritual_id) == [(MAR[1], "ann"), (MAR[3], "ben")]
    assert store.completion_marks(other) == [(MAR[2], "ann")]
    assert store.completion_marks(other + 1) == []


def test_completing_an_unknown_ritual_is_a_store_error(store: SqlStore) -> None:
    with pytest.raises(StoreError, match="no ritual with id '42'"):
        complete(store, 42)


# --- skips and pauses --------------------------------------------------------------------------


def test_skips_come_back_by_day(store: SqlStore, ritual_id: int) -> None:
    later = store.add_skip(ritual_id, day=MAR[9], reason="", now=NOW)
    earlier = store.add_skip(ritual_id, day=MAR[2], reason="ill", now=NOW)
    assert store.skips(ritual_id) == [earlier, later]
    assert (earlier.ritual_id, earlier.day, earlier.reason, earlier.created_at) == (
        ritual_id,
        MAR[2],
        "ill",
        NOW,
    )


def test_pauses_come_back_by_start(store: SqlStore, ritual_id: int) -> None:
    open_ended = store.add_pause(ritual_id, start=MAR[20], until=None, reason="baby", now=NOW)
    holiday = store.add_pause(ritual_id, start=MAR[2], until=MAR[9], reason="travel", now=NOW)
    assert store.pauses(ritual_id) == [holiday, open_ended]
    assert (holiday.start, holiday.until, holiday.reason, holiday.created_at) == (
        MAR[2],
        MAR[9],
        "travel",
        NOW,
    )


def test_a_pause_cannot_end_before_it_starts(store: SqlStore, ritual_id: int) -> None:
    with pytest.raises(ValueError, match="before it starts"):
        store.add_pause(ritual_id, start=MAR[9], until=MAR[2], reason="", now=NOW)


@pytest.mark.parametrize(
    ("spans", "resumed", "untils"),
    [
        pytest.param([(1, None)], (1, 0), [10], id="an open pause ends on the last day"),
        pytest.param([(1, 20)], (1, 0), [10], id="a longer pause is cut short"),
        pytest.param([(10, None)], (1, 0), [10], id="a pause starting that day ends that day"),
        pytest.param([(1, 5)], (0, 0), [5], id="a pause already over is left alone"),
        pytest.param([(1, 10)], (0, 0), [10], id="a pause ending that day is left alone"),
        pytest.param([(11, None)], (1, 0), [], id="a pause starting the next day is dropped"),
        pytest.param([(11, 11)], (1, 0), [], id="a one-day pause the next day is dropped"),
        # Decided in issue 20: resuming also cancels what was planned ahead.
        pytest.param([(12, None)], (0, 1), [], id="a pause planned further ahead is cancelled"),
        pytest.param(
            [(1, 5), (6, None), (15, 20)], (1, 1), [5, 10], id="the running one ends, the planned goes"
        ),
    ],
)
def test_ending_pauses(
    store: SqlStore,
    ritual_id: int,
    spans: list[tuple[int, int | None]],
    resumed: tuple[int, int],
    untils: list[int | None],
) -> None:
    for start, until in spans:
        store.add_pause(
            ritual_id, start=MAR[start], until=None if until is None else MAR[until], reason="", now=NOW
        )
    assert store.end_pauses(ritual_id, last_day=MAR[10]) == resumed
    assert [p.until for p in store.pauses(ritual_id)] == [None if u is None else MAR[u] for u in untils]


def test_a_household_pause_stops_every_ritual_and_ends_on_its_own(store: SqlStore, ritual_id: int) -> None:
    own = store.add_pause(ritual_id, start=MAR[1], until=MAR[2], reason="", now=NOW, by="ann")
    trip = store.add_pause(None, start=MAR[5], until=MAR[9], reason="travelling", now=NOW, by="household")
    assert trip.household and (trip.by, own.by) == ("household", "ann")
    assert store.pauses(ritual_id) == [own, trip]
    assert store.household_pauses() == [trip]
    assert store.end_pauses(None, last_day=MAR[6]) == (1, 0)
    assert [p.until for p in store.pauses(ritual_id)] == [MAR[2], MAR[6]]


# --- transactions ------------------------------------------------------------------------------


@pytest.fixture
def onlooker(store_url: str, store: SqlStore) -> Iterator[SqlStore]:
    """A second store on the same database: it sees only what was committed."""
    other = SqlStore.open(store_url)
    yield other
    other.close()


def test_writes_outside_a_transaction_commit_at_once(
    store: SqlStore, ritual_id: int, onlooker: SqlStore
) -> None:
    store.add_skip(ritual_id, day=MAR[2], reason="", now=NOW)
    assert len(onlooker.skips(ritual_id)) == 1


def test_a_transaction_commits_its_writes_together(
    store: SqlStore, ritual_id: int, onlooker: SqlStore
) -> None:
    with store.transaction():
        store.add_skip(ritual_id, day=MAR[2], reason="", now=NOW)
        with store.transaction():  # joins the outer one: nothing is committed at its end
            complete(store, ritual_id)
        assert len(store.skips(ritual_id)) == 1  # the transaction reads its own writes
        assert onlooker.skips(ritual_id) == []
        assert onlooker.completions(ritual_id) == []
    assert len(onlooker.skips(ritual_id)) == 1
    assert len(onlooker.completions(ritual_id)) == 1


def test_a_failing_transaction_writes_nothing(store: SqlStore, ritual_id: int) -> None:
    with pytest.raises(RuntimeError, match="changed my mind"), store.transaction():
        store.add_skip(ritual_id, day=MAR[2], reason="", now=NOW)
        complete(store, ritual_id)
        store.set_meta("k", "v")
        raise RuntimeError("changed my mind")
    assert store.skips(ritual_id) == []
    assert store.completions(ritual_id) == []
    assert store.get_meta("k") is None


def race_pair(store_url: str, rounds: int, attempt: Any) -> list[list[Any]]:
    """Two stores on one database run ``attempt(store, round)`` in two threads, together each round."""
    racers = [SqlStore.open(store_url) for _ in range(2)]
    start = threading.Barrier(2, timeout=30)

    def run(racer: SqlStore) -> list[Any]:
        results = []
        for number in range(rounds):
            start.wait()
            results.append(attempt(racer, number))
        return results

    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            return list(pool.map(run, racers))
    finally:
        for racer in racers:
            racer.close()


def test_two_stores_saving_one_new_ritual_make_one_without_error(store_url: str, store: SqlStore) -> None:
    # A read-then-write step: writers take turns (SQLite's one writer, PostgreSQL's writer lock).
    def save(racer: SqlStore, number: int) -> int:
        ritual = make_ritual(f"r{number}", every="week")
        return racer.save_ritual(ritual, RitualSource.CLI, now=NOW, effective_from=MAR[1]).id

    first, second = race_pair(store_url, 20, save)
    assert first == second
    assert [r.ritual.name for r in store.list_rituals()] == sorted(f"r{n}" for n in range(20))
    assert all(len(store.cadence_history(ritual_id)) == 1 for ritual_id in first)


def test_two_stores_setting_one_new_meta_key_do_not_fail(store_url: str, store: SqlStore) -> None:
    race_pair(store_url, 20, lambda racer, number: racer.set_meta(f"k{number}", str(id(racer))))
    assert all(store.get_meta(f"k{number}") is not None for number in range(20))


# --- meta --------------------------------------------------------------------------------------


def test_meta_is_a_small_key_value_store(store: SqlStore) -> None:
    assert store.get_meta("ritual_file_hash") is None
    store.set_meta("ritual_file_hash", "abc")
    store.set_meta("other", "x")
    store.set_meta("ritual_file_hash", "def")
    assert (store.get_meta("ritual_file_hash"), store.get_meta("other")) == ("def", "x")


def test_the_store_survives_reopening(store_url: str) -> None:
    first = SqlStore.open(store_url)
    ritual_id = first.save_ritual(make_ritual(), RitualSource.FILE, now=NOW, effective_from=MAR[1]).id
    record = complete(first, ritual_id, occurrence="nudge-1", by="ann")[0]
    first.set_meta("k", "v")
    first.close()
    second = SqlStore.open(store_url)
    try:
        assert complete(second, ritual_id, occurrence="nudge-1", by="ann") == (record, False)
        assert second.get_meta("k") == "v"
        assert [r.id for r in second.list_rituals()] == [ritual_id]
    finally:
        second.close()


def test_a_ritual_is_found_by_its_id_unless_removed(store: SqlStore) -> None:
    now = datetime(2026, 11, 24, 11, 0, tzinfo=UTC)
    ritual = ritual_from_table({"name": "walk", "every": "week", "on": ["sat"], "timezone": "UTC"})
    stored = store.save_ritual(ritual, RitualSource.CLI, now=now, effective_from=date(2026, 11, 24))
    found = store.ritual_by_id(stored.id)
    assert found is not None and found.name == "walk"
    assert store.ritual_by_id(stored.id + 1000) is None
    store.remove_ritual("walk", now=now)
    assert store.ritual_by_id(stored.id) is None
    assert store.ritual_by_id(stored.id, include_removed=True) is not None


def test_repeats_stored_before_0004_stay_readable_and_count_once_unless_several_were_the_target(
    store_url: str,
) -> None:
    """0003 let one person record a day twice; 0004 keeps every row: a repeat of a
    ``times = 1`` ritual is numbered NULL (read, never counted), of ``times = 3`` 1, 2, ..."""
    water = ritual_from_table({"name": "water", "every": "day", "times": 3})
    with raw_engine(store_url) as engine:
        migrate.upgrade(engine, parse_url(store_url), "0003")
        schema = MetaData()
        schema.reflect(engine)
        with engine.begin() as connection:
            connection.execute(insert(schema.tables["ritual"]), [SEED["ritual"][0]])
            connection.execute(
                insert(schema.tables["ritual"]),
                [
                    {
                        **SEED["ritual"][0],
                        "id": 2,
                        "name": "water",
                        "definition": json.dumps(ritual_to_table(water)),
                    }
                ],
            )
            day = date(2026, 1, 5)
            rows = [(1, "ann"), (1, "ann"), (1, "ben"), (2, ""), (2, ""), (2, "")]
            connection.execute(
                insert(schema.tables["completion"]),
                [
                    {  # ids from the database, so its sequence knows them
                        "ritual_id": ritual,
                        "day": day,
                        "at": SEED_AT,
                        "period_key": "2026-01-05",
                        "by_person": by,
                        "note": "",
                        "source": "cli",
                        "occurrence": None,
                        "created_at": SEED_AT,
                    }
                    for ritual, by in rows
                ],
            )
            connection.execute(
                insert(schema.tables["api_token"]),
                [{"id": 1, "name": "phone", "token_hash": "a" * 64, "created_at": SEED_AT}],
            )

    upgraded = SqlStore.open(store_url)
    try:
        assert [(c.id, c.by, c.again) for c in upgraded.completions(1)] == [
            (1, "ann", 0),
            (2, "ann", None),
            (3, "ben", 0),
        ]
        assert [(c.id, c.again) for c in upgraded.completions(2)] == [(4, 0), (5, 1), (6, 2)]
        assert upgraded.completion_marks(1) == [(date(2026, 1, 5), "ann"), (date(2026, 1, 5), "ben")]
        assert len(upgraded.completion_marks(2)) == 3
        assert [(t.name, t.person) for t in upgraded.api_tokens()] == [("phone", None)]
        # From now on a repeat is refused by the index, and --again numbers after the old ones.
        when = {"day": date(2026, 1, 5), "at": SEED_AT, "period_key": "2026-01-05", "by": "ann"}
        extra = {"note": "", "source": "cli", "occurrence": None, "now": SEED_AT}
        first, created = upgraded.add_completion(1, **when, **extra)  # type: ignore[arg-type]
        assert (created, first.id) == (False, 1)
        again, created = upgraded.add_completion(1, **when, **extra, again=True)  # type: ignore[arg-type]
        assert (created, again.again) == (True, 1)
    finally:
        upgraded.close()
