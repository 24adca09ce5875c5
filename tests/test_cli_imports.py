"""`ritual done` as a process of its own: what it loads, and the collector it leaves.

bench/cli.py times this command against importing the ORM; these tests keep the
start-up lean. Each runs the real command in a subprocess and reads its
``sys.modules`` and ``gc`` state at exit.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import RitualCli

ROOT = Path(__file__).resolve().parents[1]

# Runs `python -m scheduler ARGS...` and, at exit, prints what the process loaded and its gc state.
PROBE = """\
import atexit, gc, json, runpy, sys

def report():
    state = {"modules": sorted(sys.modules), "gc_enabled": gc.isenabled(), "frozen": gc.get_freeze_count()}
    print("PROBE " + json.dumps(state), file=sys.stderr)

atexit.register(report)
sys.argv = ["ritual", *sys.argv[1:]]
runpy.run_module("scheduler", run_name="__main__", alter_sys=True)
"""

RITUALS = """\
[[ritual]]
name = "talk"
every = "day"
at = "20:30"
"""

# Never needed to record a completion: reports, rendering, the daemon's and other databases' code.
NOT_ON_THE_DONE_PATH = (
    "scheduler.domain.streaks",
    "scheduler.domain.report",
    "scheduler.adapters.daemon",
    "scheduler.adapters.notify",
    "rich",
    "apprise",
    "apscheduler",
    "alembic",  # only when the schema is behind
    "sqlalchemy.dialects.postgresql",
    "dateutil.rrule",  # only for rituals with an rrule
    "tomllib",  # only when the ritual file changed since the last sync, or a settings.toml exists
)


def run_probe(home: Path, *args: str) -> tuple[str, dict[str, Any]]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("RITUAL_")}
    env.update(
        RITUAL_CONFIG_DIR=str(home / "config"), RITUAL_DATA_DIR=str(home / "data"), RITUAL_TIMEZONE="UTC"
    )
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, env=env, cwd=ROOT, check=False
    )
    assert proc.returncode == 0, proc.stderr
    line = next(line for line in reversed(proc.stderr.splitlines()) if line.startswith("PROBE "))
    state: dict[str, Any] = json.loads(line.removeprefix("PROBE "))
    return proc.stdout, state


def installation(tmp_path: Path) -> Path:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "rituals.toml").write_text(RITUALS, encoding="utf-8")
    return tmp_path


def test_done_loads_nothing_it_does_not_use(tmp_path: Path) -> None:
    home = installation(tmp_path)
    first, _ = run_probe(home, "done", "talk")  # creates the database, syncs the file
    assert "recorded: 'talk'" in first
    out, state = run_probe(home, "done", "talk", "--date", "yesterday")
    assert "recorded: 'talk'" in out
    loaded = set(state["modules"])
    assert "scheduler.adapters.store.tables" in loaded  # the probe does see the command's imports
    unexpected = sorted(
        name
        for name in loaded
        for banned in NOT_ON_THE_DONE_PATH
        if name == banned or name.startswith(banned + ".")
    )
    assert unexpected == []


def test_own_process_freezes_start_up_and_leaves_the_collector_on(tmp_path: Path) -> None:
    home = installation(tmp_path)
    _, state = run_probe(home, "done", "talk")
    assert state["gc_enabled"] is True
    assert state["frozen"] > 10_000  # modules, classes and tables built while starting


def test_under_cli_runner_nothing_is_frozen(installed: RitualCli) -> None:
    frozen = gc.get_freeze_count()
    installed("done", "tech-free-talk")
    assert gc.isenabled()
    assert gc.get_freeze_count() == frozen
