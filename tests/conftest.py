"""Shared fixtures.

Store tests are a contract suite: they run once per backend in ``store_url``.
CLI tests drive `ritual` through click's CliRunner against an installation in
tmp_path, with a fake clock handed in through the CLI's App object. Tests that
send real nudges take local receivers and households built on tests/support.
"""

from __future__ import annotations

import json
import os
import sqlite3
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy.engine import make_url

from scheduler.adapters.clock import FakeClock
from scheduler.adapters.store import SqlStore
from scheduler.cli import App, main
from tests.support.households import Household
from tests.support.receivers import Answer, Receiver, StartReceiver

POSTGRES_ENV = "RITUAL_TEST_POSTGRES_URL"
POSTGRES_HOW = f"set {POSTGRES_ENV}=postgresql+psycopg://postgres@127.0.0.1:5432/test"
_postgres_down: dict[str, str] = {}  # base URL -> why it cannot be reached (asked once per run)


def postgres_base_url() -> str:
    """The PostgreSQL server the tests may use, or a skip that says how to give them one."""
    base = os.environ.get(POSTGRES_ENV, "")
    if not base:
        pytest.skip(f"needs PostgreSQL: {POSTGRES_HOW}")
    if base not in _postgres_down:
        import psycopg

        try:
            psycopg.connect(libpq_url(base), connect_timeout=3).close()
            _postgres_down[base] = ""
        except psycopg.Error as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            _postgres_down[base] = f"PostgreSQL at {POSTGRES_ENV} is unreachable ({first})"
    if _postgres_down[base]:
        pytest.skip(f"{_postgres_down[base]}: start it, or {POSTGRES_HOW}")
    return base


def libpq_url(url: str) -> str:
    """A SQLAlchemy URL as psycopg.connect takes it (no '+psycopg' driver part)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A fresh, empty schema of its own on the test server, dropped afterwards; yields a store URL
    whose search_path puts every table (Alembic's version table too) in it, so runs never meet."""
    import psycopg
    from psycopg import sql

    base = postgres_base_url()
    schema = f"ritual_test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(libpq_url(base), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    try:
        url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with psycopg.connect(libpq_url(base), autocommit=True) as admin:
            admin.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A store URL on an empty PostgreSQL schema of this test's own (skips without PostgreSQL)."""
    with postgres_schema() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database, one per test: a SQLite file, or a PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'state' / 'ritual.db'}"
        return
    with postgres_schema() as url:
        yield url


@pytest.fixture
def store(store_url: str) -> Iterator[SqlStore]:
    opened = SqlStore.open(store_url)
    yield opened
    opened.close()


# 2026-11-24 12:00 in Berlin; the example catalogue's household zone.
NOW = datetime(2026, 11, 24, 11, 0, tzinfo=UTC)


class RitualCli:
    """Runs `ritual` commands against one installation living in a temp folder."""

    def __init__(self, home: Path, clock: FakeClock) -> None:
        self.home = home
        self.clock = clock
        self.env = {
            "RITUAL_CONFIG_DIR": str(home / "config"),
            "RITUAL_DATA_DIR": str(home / "data"),
            "RITUAL_TIMEZONE": "Europe/Berlin",
            "RITUAL_DATABASE_URL": "",
        }

    @property
    def config(self) -> Path:
        return self.home / "config"

    @property
    def database(self) -> Path:
        return self.home / "data" / "ritual.db"

    def __call__(self, *args: str, code: int = 0, stdin: str | None = None) -> Result:
        env = {k: v for k, v in self.env.items() if v}
        unset = {k: None for k, v in self.env.items() if not v}
        result = CliRunner().invoke(
            main, list(args), obj=App(clock=self.clock), env={**env, **unset}, input=stdin
        )
        assert result.exit_code == code, (args, result.output, result.stderr, result.exception)
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "--json").stdout)


@pytest.fixture
def ritual(tmp_path: Path) -> Iterator[RitualCli]:
    yield RitualCli(tmp_path, FakeClock(NOW))


@pytest.fixture
def installed(ritual: RitualCli) -> RitualCli:
    ritual("init")
    return ritual


def rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as db:
        return db.execute(sql).fetchall()


def snapshot(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, to prove a failed command changed nothing."""
    with sqlite3.connect(path) as db:
        tables = [t for (t,) in db.execute("select name from sqlite_master where type = 'table'")]
        return {t: db.execute(f"select * from {t}").fetchall() for t in tables}


# --- real nudges: local receivers and households ---------------------------------------------------


@pytest.fixture
def receivers() -> Iterator[StartReceiver]:
    """Start local push receivers at will (scripted answers, a fixed port); all closed afterwards."""
    started: list[Receiver] = []

    def start(script: Sequence[int] = (), *, port: int = 0, answer: Answer | None = None) -> Receiver:
        started.append(Receiver(script, port=port, answer=answer))
        return started[-1]

    yield start
    for receiver in started:
        receiver.close()


@pytest.fixture
def receiver(receivers: StartReceiver) -> Receiver:
    """One local push receiver answering 200 (``/status/NNN`` answers NNN)."""
    return receivers()


@pytest.fixture
def households(tmp_path: Path) -> Iterator[Callable[..., Household]]:
    """Make households, each in a folder of its own under tmp_path; their stores closed afterwards."""
    made: list[Household] = []

    def make(urls: Mapping[str, Sequence[str]], **options: Any) -> Household:
        folder = tmp_path / f"household-{len(made)}"
        folder.mkdir()
        made.append(Household(folder, urls, **options))
        return made[-1]

    yield make
    for household in made:
        household.store.close()


@pytest.fixture
def apprise_builds(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every Apprise object this process builds to send (none when send workers send)."""
    import apprise

    import scheduler.adapters.notify.send as sending

    built: list[object] = []

    class Counting(apprise.Apprise):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            built.append(self)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(sending, "Apprise", Counting)
    return built
