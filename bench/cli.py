"""Benchmark: `ritual done NAME` wall time against `python -c "import sqlmodel"`.

Both are real subprocesses, run alternately (A B A B ...) so that a noisy
neighbour slows both alike. The command runs against a prepared SQLite
installation in a temporary folder (found through RITUAL_CONFIG_DIR and
RITUAL_DATA_DIR); `ritual undo` after each run, untimed, means every timed run
records a completion. The baseline is the floor for any command that touches
the database: importing the ORM. The last line is the ratio of the best wall
times (the median and CPU-time ratios beside it); the goal is <= 1.3x.

Bytecode is cached in the temporary folder (PYTHONPYCACHEPREFIX), as it is for an
installed package; otherwise an environment with PYTHONDONTWRITEBYTECODE would time
the compiling of scheduler/ on every run.

    python bench/cli.py [--runs 15] [--quick] [--importtime]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

RITUALS = """\
[[ritual]]
name = "talk"
title = "20 minutes, phones away"
every = "day"
at = "20:30"

[[ritual]]
name = "date-night"
every = "week"
on = "fri"
at = "19:00"

[[ritual]]
name = "journal"
every = "week"
times = 3
at = "21:45"

[[ritual]]
name = "new-experience"
every = "month"
on = "first sat"
at = "10:00"
"""

DONE = ("-m", "scheduler", "done", "talk")
UNDO = ("-m", "scheduler", "undo", "talk")
IMPORT = ("-c", "import sqlmodel")


def prepare(folder: Path) -> dict[str, str]:
    """An installation with four rituals, synced and migrated; the environment that finds it."""
    config, data = folder / "config", folder / "data"
    config.mkdir()
    data.mkdir()
    (config / "rituals.toml").write_text(RITUALS, encoding="utf-8")
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("RITUAL_", "NOTIFY_")) and key != "PYTHONDONTWRITEBYTECODE"
    }
    env.update(
        RITUAL_CONFIG_DIR=str(config),
        RITUAL_DATA_DIR=str(data),
        RITUAL_TIMEZONE="UTC",
        PYTHONPYCACHEPREFIX=str(folder / "pycache"),
    )
    run(("-m", "scheduler", "list"), env)  # creates the database and reads the ritual file
    return env


@dataclass(frozen=True, slots=True)
class Timing:
    wall: float
    cpu: float  # user + system: steadier than wall time when neighbours compete for the cores


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(args: Sequence[str], env: dict[str, str], expect: str = "") -> Timing:
    """Wall and CPU time of one ``python ARGS`` child, checked to have done its job."""
    cpu = children_cpu()
    began = time.perf_counter()
    done = subprocess.run(
        [sys.executable, *args], check=False, env=env, cwd=ROOT, capture_output=True, text=True
    )
    timing = Timing(time.perf_counter() - began, children_cpu() - cpu)
    if done.returncode != 0 or expect not in done.stdout:
        raise RuntimeError(f"python {' '.join(args)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return timing


def measure(env: dict[str, str], runs: int) -> tuple[list[Timing], list[Timing]]:
    """(done timings, import timings), interleaved; one untimed round first fills the bytecode cache."""
    done_times: list[Timing] = []
    import_times: list[Timing] = []
    for round_number in range(runs + 1):
        done = run(DONE, env, expect="recorded:")
        run(UNDO, env, expect="removed")
        imported = run(IMPORT, env)
        if round_number:
            done_times.append(done)
            import_times.append(imported)
    return done_times, import_times


def import_profile(env: dict[str, str], top: int) -> list[str]:
    """What `done` imports beyond the baseline: self time summed per package, biggest first."""

    def self_times(args: Sequence[str]) -> dict[str, int]:
        child = subprocess.run(
            [sys.executable, "-X", "importtime", *args],
            check=False,
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        times = {}
        for line in child.stderr.splitlines():
            if line.startswith("import time:") and "self [us]" not in line:
                own, _cumulative, name = line.removeprefix("import time:").split("|")
                times[name.strip()] = int(own)
        return times

    baseline = self_times(IMPORT)
    command = self_times(DONE)
    run(UNDO, env, expect="removed")
    extra: Counter[str] = Counter()
    for name, own in command.items():
        if name not in baseline:
            parts = name.split(".")
            depth = 3 if parts[0] in {"scheduler", "sqlalchemy", "pydantic_settings"} else 1
            extra[".".join(parts[:depth])] += own
    lines = [f"imported by `done` only: {sum(extra.values()) / 1000:.1f} ms (self time, -X importtime)"]
    lines += [f"  {own / 1000:6.1f} ms  {name}" for name, own in extra.most_common(top)]
    return lines


def summary(label: str, times: Sequence[Timing]) -> str:
    wall = [t.wall * 1000 for t in times]
    cpu = min(t.cpu for t in times) * 1000
    return (
        f"{label:<28} best {min(wall):6.1f} ms   median {statistics.median(wall):6.1f} ms"
        f"   cpu {cpu:6.1f} ms   ({len(times)} runs)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="Timed runs of each (default 15).")
    parser.add_argument("--quick", action="store_true", help="5 runs.")
    parser.add_argument("--importtime", action="store_true", help="Also list what only `done` imports.")
    args = parser.parse_args()
    runs = 5 if args.quick else args.runs
    with tempfile.TemporaryDirectory() as folder:
        env = prepare(Path(folder))
        done_times, import_times = measure(env, runs)
        if args.importtime:
            print("\n".join(import_profile(env, top=15)))
    print(summary('python -c "import sqlmodel"', import_times))
    print(summary("ritual done talk", done_times))
    cpu = min(t.cpu for t in done_times) / min(t.cpu for t in import_times)
    best = min(t.wall for t in done_times) / min(t.wall for t in import_times)
    median = statistics.median(t.wall for t in done_times) / statistics.median(t.wall for t in import_times)
    print(f"ratio done/import: {best:.2f}x best, {median:.2f}x median, {cpu:.2f}x cpu (goal <= 1.3x)")


if __name__ == "__main__":
    main()
