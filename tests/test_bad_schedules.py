"""A cron or rrule that cannot be planned stops nothing else (issue 15, item 1).

The rules below all passed `ritual check` once, then crashed (IndexError) or wedged (minutes at
full CPU) `ritual list`, `status`, `next`, the ICS export, the API and the daemon for the whole
household. Now they are refused where they come in (`ritual add`, the ritual file, the API),
and one stored before the refusal existed is reported by `ritual check`, `status`, `list` and
the daemon's log, and skipped: every other ritual is planned, listed and nudged as before.
"""

from __future__ import annotations

import logging
import time
import warnings
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from scheduler.adapters.clock import FakeClock
from scheduler.adapters.store import SqlStore
from scheduler.adapters.web import create_app
from scheduler.app.service import RitualService
from scheduler.app.stored import RitualSource, api_token_hash
from scheduler.domain.definitions import ritual_from_table
from tests.conftest import NOW, RitualCli
from tests.support.daemon import InProcess, wait_for

with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)
    from starlette.testclient import TestClient

# (rrule, what the refusal says). Each passed validation before and broke everything after.
ISSUE_RULES = [
    pytest.param("FREQ=YEARLY;BYEASTER=400", "BYEASTER '400' is not in -80..250", id="byeaster-400"),
    pytest.param("FREQ=MONTHLY;BYDAY=+53MO", "BYDAY '+53MO': a month has at most 5", id="53rd-monday"),
    pytest.param("FREQ=HOURLY;BYSETPOS=-366", "BYSETPOS '-366' never matches", id="hourly-setpos-366"),
    pytest.param("FREQ=DAILY;BYSETPOS=2", "BYSETPOS '2' never matches", id="daily-setpos-2"),
]
# What any command may take with such a ritual stored (a wedged one took over a minute).
QUICK = 5.0


def timed(cli: RitualCli, *args: str, code: int = 0) -> tuple[str, str]:
    started = time.monotonic()
    result = cli(*args, code=code)
    elapsed = time.monotonic() - started
    assert elapsed < QUICK, f"`ritual {' '.join(args)}` took {elapsed:.1f} s"
    return result.stdout, result.stderr


def store_unchecked(database: str, rrule: str, name: str = "easter") -> None:
    """A ritual saved before its rrule was refused: as an old version wrote it, checks bypassed."""
    store = SqlStore.open(database)
    table = {"name": name, "rrule": rrule, "timezone": "Europe/Berlin"}
    ritual = ritual_from_table(table, stored=True)
    store.save_ritual(ritual, RitualSource.CLI, now=NOW, effective_from=date(2026, 11, 1))
    store.close()


@pytest.mark.parametrize(("rrule", "reason"), ISSUE_RULES)
def test_ritual_add_refuses_the_rule_naming_the_option(installed: RitualCli, rrule: str, reason: str) -> None:
    _, err = timed(installed, "add", "easter", "--every", "day", "--rrule", rrule, code=2)
    assert err.startswith(f"Error: --rrule: not a valid rrule: {reason}"), err
    assert len(err.strip().splitlines()) == 1
    assert "easter" not in {r["name"] for r in installed.json("list")}


@pytest.mark.parametrize(("rrule", "reason"), ISSUE_RULES)
def test_the_ritual_file_refuses_the_rule_naming_its_line(
    installed: RitualCli, rrule: str, reason: str
) -> None:
    path = installed.config / "rituals.toml"
    text = path.read_text(encoding="utf-8")
    line = text.count("\n") + 4
    path.write_text(text + f'\n[[ritual]]\nname = "easter"\nrrule = "{rrule}"\n', encoding="utf-8")
    _, err = timed(installed, "check", code=1)
    assert f"{path}:{line}: ritual 'easter': not a valid rrule: {reason}" in err, err
    listed, warned = timed(installed, "list")  # a broken file changes nothing; commands go on
    assert "tech-free-talk" in listed and "warning:" in warned


@pytest.mark.parametrize(("rrule", "reason"), ISSUE_RULES)
def test_a_stored_bad_rule_is_reported_and_the_others_go_on(
    installed: RitualCli, rrule: str, reason: str
) -> None:
    store_unchecked(f"sqlite:///{installed.database}", rrule)
    problem = f"ritual 'easter': rrule: not a valid rrule: {reason}"
    listed, warned = timed(installed, "list")
    assert "easter" in listed and "tech-free-talk" in listed
    assert problem in warned and len(warned.strip().splitlines()) == 1
    rows = installed.json("list")
    assert {r["name"]: r["next_due"] for r in rows}["easter"] is None
    assert {r["name"]: r["next_due"] for r in rows}["tech-free-talk"] is not None
    upcoming, _ = timed(installed, "next", "--days", "3")
    assert "tech-free-talk" in upcoming and "easter" not in upcoming
    status, _ = timed(installed, "status")
    assert f"problem: {problem}" in status
    assert "tech-free-talk" in status
    _, err = timed(installed, "check", code=1)
    assert problem in err
    feed, _ = timed(installed, "export", "--format", "ics", "--days", "30")
    assert "tech-free-talk" in feed.lower() or "SUMMARY" in feed
    timed(installed, "show", "easter")
    timed(installed, "done", "easter")
    timed(installed, "streaks")


def test_editing_a_stored_bad_rule_says_what_to_mend(installed: RitualCli) -> None:
    store_unchecked(f"sqlite:///{installed.database}", "FREQ=DAILY;BYSETPOS=2")
    _, err = timed(installed, "edit", "easter", "--title", "Easter brunch", code=2)
    assert err.startswith("Error: --rrule: not a valid rrule: BYSETPOS '2' never matches"), err
    timed(installed, "edit", "easter", "--rrule", "FREQ=YEARLY;BYEASTER=0")
    assert installed.json("list")  # and it is planned again
    assert not installed("status").stdout.count("problem:")


def test_the_api_lists_every_ritual_with_a_bad_one_stored(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'ritual.db'}"
    store = SqlStore.open(database)
    good = ritual_from_table({"name": "talk", "at": "20:30", "timezone": "UTC"})
    store.save_ritual(good, RitualSource.CLI, now=NOW, effective_from=date(2026, 11, 1))
    store.create_api_token("ha", api_token_hash("token-1"), now=NOW)
    store.close()
    store_unchecked(database, "FREQ=HOURLY;BYSETPOS=-366")
    store = SqlStore.open(database)
    clock = FakeClock(NOW)
    service = RitualService(store, clock, ritual_file=tmp_path / "none.toml", default_timezone="UTC")
    client = TestClient(create_app(service, key=b"k" * 32, clock=clock, public_url="http://x"))
    started = time.monotonic()
    answer = client.get("/api/v1/rituals", headers={"Authorization": "Bearer token-1"})
    assert time.monotonic() - started < QUICK
    assert answer.status_code == 200, answer.text
    due = {row["name"]: row["next_due"] for row in answer.json()}
    assert due["easter"] is None and due["talk"] is not None
    created = client.post(
        "/api/v1/rituals",
        headers={"Authorization": "Bearer token-1"},
        json={"name": "walk", "rrule": "FREQ=YEARLY;BYEASTER=400"},
    )
    assert created.status_code == 400
    assert created.json()["error"].startswith("rrule: not a valid rrule: BYEASTER '400'")
    store.close()


def test_the_daemon_starts_and_nudges_the_others_with_a_bad_rule_stored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    daemon = InProcess(tmp_path, datetime(2031, 5, 6, 8, 0, tzinfo=UTC))
    daemon.add("talk", "09:00")
    store_unchecked(daemon.settings.database, "FREQ=HOURLY;BYSETPOS=-366", name="wedge")
    store_unchecked(daemon.settings.database, "FREQ=YEARLY;BYEASTER=400", name="easter")
    caplog.set_level(logging.INFO, logger="scheduler")
    started = time.monotonic()
    daemon.start()
    try:
        assert time.monotonic() - started < QUICK
        assert "talk" in {name for names in daemon.daemon.timers.values() for name in names}
        daemon.clock.set(datetime(2031, 5, 6, 9, 0, 30, tzinfo=UTC))
        daemon.daemon.tick()
        assert daemon.sent == [("talk", date(2031, 5, 6), "09:00", "send")]
        daemon.daemon.request_reload()  # a reload re-reads them, and is not held up either
        assert wait_for(lambda: "reloaded:" in caplog.text, QUICK), "the reload did not finish"
    finally:
        daemon.stop()
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any(m.startswith("ritual 'wedge': rrule: not a valid rrule: BYSETPOS '-366'") for m in errors)
    assert any(m.startswith("ritual 'easter': rrule: not a valid rrule: BYEASTER '400'") for m in errors)
    assert not any(r.exc_info for r in caplog.records), "one line each, no traceback"
    assert all(len(m.splitlines()) == 1 for m in errors)


def test_a_stored_bad_cron_is_reported_too(installed: RitualCli) -> None:
    store = SqlStore.open(f"sqlite:///{installed.database}")
    table = {"name": "feb-30", "cron": "0 9 30 2 *", "timezone": "UTC"}
    ritual = ritual_from_table(table, stored=True)
    store.save_ritual(ritual, RitualSource.CLI, now=NOW, effective_from=date(2026, 11, 1))
    store.close()
    status, _ = timed(installed, "status")
    assert "problem: ritual 'feb-30': cron: cron matches no day within a year of 2001-01-01" in status
    _, err = timed(installed, "add", "feb-31", "--cron", "0 9 31 2 *", code=2)
    assert err.startswith("Error: --cron: cron matches no day within a year"), err
