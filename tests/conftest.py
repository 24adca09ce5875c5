"""Shared fixtures.

Store tests are a contract suite: they run once per backend in ``store_url``.
CLI tests drive `ritual` through click's CliRunner against an installation in
tmp_path, with a fake clock handed in through the CLI's App object.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from scheduler.cli import App, main
from scheduler.clock import FakeClock
from scheduler.store import Store


@pytest.fixture(params=["sqlite"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty database, one per test (PostgreSQL joins as another param later)."""
    assert request.param == "sqlite"
    return f"sqlite:///{tmp_path / 'state' / 'ritual.db'}"


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    opened = Store.open(store_url)
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
