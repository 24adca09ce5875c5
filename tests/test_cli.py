"""The `ritual` command end to end through click's CliRunner, on real SQLite files in tmp_path."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

from tests.conftest import RitualCli, rows, snapshot

# -- init, check, list ------------------------------------------------------------------------


def test_init_writes_private_config_and_lists_the_catalogue(ritual: RitualCli) -> None:
    out = ritual("init").stdout
    assert "wrote" in out
    for name in ("settings.toml", "rituals.toml"):
        mode = stat.S_IMODE((ritual.config / name).stat().st_mode)
        assert mode == 0o600, name
    assert stat.S_IMODE(ritual.database.stat().st_mode) == 0o600
    assert "ok:" in ritual("check").stdout
    names = {r["name"] for r in ritual.json("list")}
    assert {"tech-free-talk", "date-night"} <= names
    assert len(names) >= 10


def test_init_never_overwrites_without_force(ritual: RitualCli) -> None:
    ritual("init")
    (ritual.config / "rituals.toml").write_text("# mine\n", encoding="utf-8")
    assert "kept" in ritual("init").stdout
    assert (ritual.config / "rituals.toml").read_text(encoding="utf-8") == "# mine\n"
    ritual("init", "--force")
    assert "tech-free-talk" in (ritual.config / "rituals.toml").read_text(encoding="utf-8")


def test_list_piped_is_plain_text(installed: RitualCli) -> None:
    out = installed("list").stdout
    assert out.splitlines()[0].split()[:3] == ["name", "title", "dimension"]
    assert "tech-free-talk" in out
    assert not set("│┃━─") & set(out)


def test_python_dash_m_scheduler_runs_the_cli(tmp_path: Path) -> None:
    env = {**os.environ, "RITUAL_CONFIG_DIR": str(tmp_path / "c"), "RITUAL_DATA_DIR": str(tmp_path / "d")}
    proc = subprocess.run(
        [sys.executable, "-m", "scheduler", "--version"], capture_output=True, text=True, env=env, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("ritual, version ")


# -- recording ---------------------------------------------------------------------------------


def test_done_with_date_shows_in_show_json(installed: RitualCli) -> None:
    out = installed("done", "tech-free-talk", "--date", "2026-11-20", "--by", "alex").stdout
    assert "recorded: 'tech-free-talk' on Fri 20 Nov 2026 by alex" in out
    shown = installed.json("show", "tech-free-talk")
    assert [(c["day"], c["by"], c["source"]) for c in shown["completions"]] == [("2026-11-20", "alex", "cli")]


def test_done_at_a_late_hour_counts_for_the_evening_before(installed: RitualCli) -> None:
    # The catalogue's day starts at 03:00: a talk finished at 00:30 belongs to the day before.
    installed("done", "tech-free-talk", "--at", "2026-11-22 00:30")
    shown = installed.json("show", "tech-free-talk")
    assert shown["completions"][0]["day"] == "2026-11-21"


def test_undo_removes_only_the_last_completion(installed: RitualCli) -> None:
    installed("done", "tech-free-talk", "--date", "2026-11-20")
    installed("done", "tech-free-talk", "--date", "yesterday")
    assert "23 Nov 2026" in installed("undo", "tech-free-talk").stdout
    days = [c["day"] for c in installed.json("show", "tech-free-talk")["completions"]]
    assert days == ["2026-11-20"]
    installed("undo", "tech-free-talk")
    installed("undo", "tech-free-talk", code=1)


def test_skip_and_pause_are_recorded(installed: RitualCli) -> None:
    installed("skip", "tech-free-talk", "--date", "2026-11-21", "--reason", "ill")
    installed("pause", "date-night", "--from", "2026-12-01", "--until", "2026-12-14")
    talk = installed.json("show", "tech-free-talk")
    assert talk["skips"] == [{"id": 1, "day": "2026-11-21", "reason": "ill", "by": None}]
    night = installed.json("show", "date-night")
    assert [(p["from"], p["until"]) for p in night["pauses"]] == [("2026-12-01", "2026-12-14")]
    assert night["paused"] is False


def test_pause_now_then_resume(installed: RitualCli) -> None:
    installed("pause", "tech-free-talk")
    assert {r["name"]: r["paused"] for r in installed.json("list")}["tech-free-talk"] is True
    assert "resumed" in installed("resume", "tech-free-talk").stdout
    assert {r["name"]: r["paused"] for r in installed.json("list")}["tech-free-talk"] is False


def test_next_lists_upcoming_nudges_in_order(installed: RitualCli) -> None:
    upcoming = installed.json("next", "--days", "2", "tech-free-talk")
    assert upcoming, "a daily ritual has nudges in two days"
    assert all(u["name"] == "tech-free-talk" for u in upcoming)
    dues = [u["due"] for u in upcoming]
    assert dues == sorted(dues)
    first_due = next(u for u in upcoming if u["kind"] == "due")
    assert first_due["local"].startswith("2026-11-24T20:30")


# -- defining rituals from the CLI --------------------------------------------------------------


def test_add_edit_remove_a_cli_ritual_keeps_history(installed: RitualCli) -> None:
    installed("add", "stretch", "--every", "day", "--on", "weekdays", "--at", "07:15", "--dimension", "self")
    installed("done", "stretch")
    out = installed("edit", "stretch", "--at", "07:30").stdout
    assert "07:30" in out
    installed("remove", "stretch", stdin="n\n", code=1)
    installed("remove", "stretch", "--yes")
    assert "stretch" not in {r["name"] for r in installed.json("list")}
    assert rows(installed.database, "select count(*) from completion") == [(1,)]
    installed("add", "stretch", "--at", "07:00")
    assert len(installed.json("show", "stretch")["completions"]) == 1


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["add", "x", "--on", "fryday"], 2, "--on: unknown weekday 'fryday'"),
        (["add", "x", "--timezone", "Europe/Berln"], 2, "--timezone: unknown time zone 'Europe/Berln'"),
        (["add", "tech-free-talk"], 1, "ritual 'tech-free-talk' already exists"),
        (["edit", "tech-free-talk", "--at", "21:00"], 1, "defined in"),
        (["remove", "tech-free-talk", "--yes"], 1, "defined in"),
        (["done", "no-such"], 1, "no ritual named 'no-such'"),
        (["done", "tech-free-talk", "--date", "20-11-2026"], 2, "--date: not a date: '20-11-2026'"),
        (["done", "tech-free-talk", "--date", "2026-12-01"], 2, "--date 2026-12-01 is in the future"),
        (["done", "tech-free-talk", "--at", "tomorrow"], 2, "--at: not a date and time: 'tomorrow'"),
        (["pause", "date-night", "--from", "2026-12-10", "--until", "2026-12-01"], 2, "is before --from"),
        (["edit", "tech-free-talk"], 2, "nothing to change"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_bad_input_is_one_line_and_changes_nothing(
    installed: RitualCli, args: list[str], code: int, message: str
) -> None:
    before = snapshot(installed.database)
    result = installed(*args, code=code)
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.output
    assert snapshot(installed.database) == before


def test_a_broken_ritual_file_keeps_the_stored_rituals(installed: RitualCli) -> None:
    before = installed.json("list")
    rituals = installed.config / "rituals.toml"
    rituals.write_text(rituals.read_text(encoding="utf-8") + '\n[[ritual]]\nname = "x"\non = "fryday"\n')
    check = installed("check", code=1)
    assert "rituals.toml:" in check.stderr
    assert "ritual 'x': unknown weekday 'fryday'" in check.stderr
    listed = installed("list", "--json")
    assert "warning:" in listed.stderr
    assert json.loads(listed.stdout) == before


def test_a_ritual_file_nested_hundreds_deep_is_one_line_and_commands_go_on(installed: RitualCli) -> None:
    """It once made every command, `ritual done` included, die in a RecursionError (issue 15)."""
    before = installed.json("list")
    (installed.config / "rituals.toml").write_text("x = " + "[" * 600 + "]" * 600 + "\n", encoding="utf-8")
    done = installed("done", "tech-free-talk")
    assert "recorded" in done.stdout
    shown = f"{installed.config / 'rituals.toml'}:1: arrays or tables nested more than 32 deep"
    assert done.stderr.startswith(f"warning: {shown}"), done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    check = installed("check", code=1)
    assert f"error: {shown}" in check.stderr and "Traceback" not in check.output
    assert [r["name"] for r in installed.json("list")] == [r["name"] for r in before]


def test_a_file_ritual_clashing_with_a_cli_ritual_is_refused(installed: RitualCli) -> None:
    installed("add", "stretch", "--at", "07:15")
    rituals = installed.config / "rituals.toml"
    rituals.write_text(rituals.read_text(encoding="utf-8") + '\n[[ritual]]\nname = "stretch"\nat = "08:00"\n')
    check = installed("check", code=1)
    assert "ritual 'stretch' already exists, created with `ritual add`" in check.stderr
    shown = installed.json("show", "stretch")
    assert shown["at"] == ["07:15"]
    assert shown["source"] == "cli"


def test_removing_a_ritual_from_the_file_retires_it(installed: RitualCli) -> None:
    installed("done", "date-night", "--date", "2026-11-20")
    rituals = installed.config / "rituals.toml"
    text = rituals.read_text(encoding="utf-8")
    start = text.index('name = "date-night"')
    block_start = text.rindex("[[ritual]]", 0, start)
    block_end = text.find("[[ritual]]", start)
    rituals.write_text(text[:block_start] + (text[block_end:] if block_end != -1 else ""))
    result = installed("list", "--json")
    assert "ritual 'date-night' left the ritual file" in result.stderr
    assert "date-night" not in {r["name"] for r in json.loads(result.stdout)}
    assert rows(installed.database, "select count(*) from completion") == [(1,)]


def test_editing_the_file_cadence_is_effective_dated(installed: RitualCli) -> None:
    rituals = installed.config / "rituals.toml"
    text = rituals.read_text(encoding="utf-8")
    start = text.index('name = "tech-free-talk"')
    end = text.find("[[ritual]]", start)
    block = text[start:end]
    assert 'every = "day"' in block
    rituals.write_text(
        text[:start] + block.replace('every = "day"', 'every = "day"\non = "weekdays"') + text[end:]
    )
    installed.clock.advance(timedelta(days=1))
    versions = installed.json("show", "tech-free-talk")["cadence_versions"]
    assert len(versions) == 2
    assert versions[0]["cadence"].get("on", []) == []
    assert versions[1]["cadence"]["on"] == ["mon", "tue", "wed", "thu", "fri"]
    assert versions[1]["effective_from"] == "2026-11-25"


# -- settings and the database -------------------------------------------------------------------


def test_unknown_time_zone_setting_names_the_variable(ritual: RitualCli) -> None:
    ritual.env["RITUAL_TIMEZONE"] = "Mars/Olympus"
    result = ritual("list", code=1)
    assert result.stderr.strip() == "Error: RITUAL_TIMEZONE: unknown time zone 'Mars/Olympus'"


def test_unknown_setting_in_settings_file_names_file_and_line(ritual: RitualCli) -> None:
    ritual.config.mkdir(parents=True)
    (ritual.config / "settings.toml").write_text('# settings\ntimezone = "UTC"\ntimezon = "UTC"\n')
    result = ritual("list", code=1)
    assert f"{ritual.config / 'settings.toml'}:3: unknown setting 'timezon'" in result.stderr


def test_database_from_a_newer_version_is_refused_untouched(installed: RitualCli) -> None:
    with sqlite3.connect(installed.database) as db:
        db.execute("update alembic_version set version_num = 'ffff_from_the_future'")
    before = installed.database.read_bytes()
    result = installed("list", code=1)
    assert "newer than this ritual-scheduler knows" in result.stderr
    assert "Traceback" not in result.output
    assert installed.database.read_bytes() == before


# -- the daemon from the CLI's side ------------------------------------------------------------------

HOLD_AND_COUNT_HUPS = """
import signal, sys, time
from datetime import UTC, datetime
from pathlib import Path
from scheduler.adapters.instance import InstanceLock
hups = Path(sys.argv[2])
signal.signal(signal.SIGHUP, lambda *_: hups.write_text(str(int(hups.read_text() or 0) + 1)))
hups.write_text("0")
InstanceLock(Path(sys.argv[1])).acquire(datetime(2026, 11, 24, 8, 0, tzinfo=UTC))
print("held", flush=True)
while True:
    time.sleep(0.05)
"""


def test_changes_from_the_cli_reach_a_running_daemon(installed: RitualCli, tmp_path: Path) -> None:
    """add/edit/remove/pause/resume send SIGHUP to the lock holder, so it re-reads within seconds."""
    hups = tmp_path / "hups"
    lock = installed.home / "data" / "ritual.lock"
    root = Path(__file__).resolve().parents[1]
    with subprocess.Popen(
        [sys.executable, "-c", HOLD_AND_COUNT_HUPS, str(lock), str(hups)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=root,
    ) as holder:
        try:
            assert holder.stdout is not None
            assert holder.stdout.readline().strip() == "held"
            installed("add", "stretch", "--at", "07:15")
            installed("edit", "stretch", "--at", "07:30")
            installed("pause", "stretch")
            installed("resume", "stretch")
            installed("remove", "stretch", "--yes")
            assert "asked the daemon (pid" in installed("reload").stdout
            deadline = time.monotonic() + 10
            while hups.read_text() != "6" and time.monotonic() < deadline:
                time.sleep(0.05)
            assert hups.read_text() == "6"
            status = installed.json("status")
            assert status["daemon"]["running"] is True
            assert status["daemon"]["pid"] == holder.pid
        finally:
            holder.kill()
            holder.wait()


def test_reload_without_a_daemon_says_so(installed: RitualCli) -> None:
    assert "no `ritual run` is running" in installed("reload", code=1).stderr


def test_status_shows_next_nudges_and_the_outbox(installed: RitualCli) -> None:
    status = installed.json("status")
    assert status["daemon"] == {"running": False}
    assert status["rituals"] >= 10
    assert status["next"][0]["local"] <= status["next"][-1]["local"]
    assert status["deliveries"] == {"pending": 0, "retrying": 0, "failed": [], "waiting": []}
    assert "daemon: not running" in installed("status").stdout


# -- the link key and API tokens ------------------------------------------------------------------


def test_init_creates_a_private_link_key_once(ritual: RitualCli) -> None:
    first = ritual("init").stdout
    key = ritual.home / "data" / "link-signing.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    before = key.read_bytes()
    assert key.read_text().strip() not in first  # only its fingerprint is shown
    assert "fingerprint" in first
    ritual("init", "--force")
    assert key.read_bytes() == before


def test_api_tokens_are_shown_once_listed_without_secret_and_revocable(installed: RitualCli) -> None:
    import warnings

    from scheduler.adapters.keyfile import load_or_create_key
    from scheduler.adapters.store import SqlStore
    from scheduler.adapters.web import create_app
    from scheduler.app.service import RitualService

    with warnings.catch_warnings():
        # Starlette 1.x asks for the httpx2 fork; plain httpx still works and is what we pin.
        warnings.simplefilter("ignore", UserWarning)
        from starlette.testclient import TestClient

    secret = installed("token", "create", "phone").stdout.strip()
    assert len(secret) >= 40
    listed = installed.json("token", "list")
    assert [(t["name"], t["revoked_at"]) for t in listed] == [("phone", None)]
    assert secret not in json.dumps(listed)
    installed("token", "create", "phone", code=1)  # one active token per name

    store = SqlStore.open(f"sqlite:///{installed.database}")
    service = RitualService(
        store, installed.clock, ritual_file=installed.config / "rituals.toml", default_timezone="UTC"
    )
    key = load_or_create_key(installed.home / "data" / "link-signing.key")
    client = TestClient(create_app(service, key=key, clock=installed.clock, public_url="http://127.0.0.1"))
    auth = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/streaks", headers=auth).status_code == 200
    installed("token", "revoke", "phone")
    assert client.get("/api/v1/streaks", headers=auth).status_code == 401
    store.close()
    assert "no active API token named 'phone'" in installed("token", "revoke", "phone", code=1).stderr
    assert "revoked" in installed("token", "list").stdout
