"""The CLI on PostgreSQL: RITUAL_DATABASE_URL=postgresql+psycopg://... works like the SQLite default.

Each test gets a PostgreSQL schema of its own (``postgres_url``); without a server they skip
with a reason that says how to give them one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from scheduler.adapters.clock import FakeClock
from scheduler.adapters.store import SqlStore
from tests.conftest import NOW, RitualCli

pytestmark = pytest.mark.postgres

# The test server trusts local connections, so a password in the URL is never checked: it is
# there to prove no command prints it.
PASSWORD = "pg-s3cret-word"


def with_password(url: str) -> str:
    parsed = make_url(url)
    return parsed.set(username=parsed.username or "postgres", password=PASSWORD).render_as_string(
        hide_password=False
    )


def session(cli: RitualCli) -> list[Any]:
    """Define a ritual, record and back-fill completions, and read them back."""
    cli("init")
    cli("add", "stretch", "--every", "day", "--at", "07:15", "--dimension", "self", "--start", "2026-11-01")
    for day in ("2026-11-20", "2026-11-21", "2026-11-22", "2026-11-23"):
        cli("done", "stretch", "--date", day, "--by", "alex")
    cli("done", "stretch", "--by", "sam", "--note", "before work")
    status = cli.json("status")
    status.pop("database")
    return [cli.json("streaks", "stretch"), cli.json("show", "stretch"), cli.json("list"), status]


def test_commands_on_postgresql_do_what_they_do_on_sqlite(postgres_url: str, tmp_path: Path) -> None:
    url = with_password(postgres_url)
    on_postgres = RitualCli(tmp_path / "pg", FakeClock(NOW))
    on_postgres.env["RITUAL_DATABASE_URL"] = url
    on_sqlite = RitualCli(tmp_path / "lite", FakeClock(NOW))

    assert session(on_postgres) == session(on_sqlite)

    (row,) = on_postgres.json("streaks", "stretch")
    assert (row["name"], row["current_streak"], row["last_completion"]) == ("stretch", 5, "2026-11-24")
    assert not on_postgres.database.exists(), "no SQLite file beside a PostgreSQL database"
    store = SqlStore.open(postgres_url)  # the rows are in this test's schema
    try:
        stretch = store.get_ritual("stretch")
        assert stretch is not None
        assert [(c.day.isoformat(), c.by) for c in store.completions(stretch.id)][-2:] == [
            ("2026-11-23", "alex"),
            ("2026-11-24", "sam"),
        ]
    finally:
        store.close()


def test_status_on_postgresql_shows_the_database_without_its_password(
    postgres_url: str, tmp_path: Path
) -> None:
    cli = RitualCli(tmp_path, FakeClock(NOW))
    cli.env["RITUAL_DATABASE_URL"] = with_password(postgres_url)
    outputs = [cli("init"), cli("status"), cli("status", "--json"), cli("check")]
    shown = cli.json("status")["database"]
    assert shown.startswith("postgresql+psycopg://postgres:***@")
    assert "ritual_test_" in shown, "the schema option is part of what it shows"
    for result in outputs:
        assert PASSWORD not in result.output
        assert PASSWORD not in result.stderr


def test_status_names_the_leading_daemon(postgres_url: str, tmp_path: Path) -> None:
    from scheduler.adapters.store.leader import open_leadership

    cli = RitualCli(tmp_path, FakeClock(NOW))
    cli.env["RITUAL_DATABASE_URL"] = postgres_url
    cli("init")
    assert cli.json("status")["leader"] is None, "no daemon has led yet"
    store = SqlStore.open(postgres_url)
    leadership = open_leadership(postgres_url, store, holder="homeserver 4242", clock=FakeClock(NOW))
    try:
        assert leadership.try_lead()
        status = cli.json("status")
        assert status["leader"] == {"holder": "homeserver 4242", "since": NOW.isoformat(), "epoch": 1}
        # status reads every time in the household's zone (Europe/Berlin here)
        assert "leader: homeserver 4242 since Tue 24 Nov 12:00 (epoch 1)" in cli("status").output
    finally:
        leadership.close()
        store.close()
