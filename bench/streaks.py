"""Benchmark: `ritual streaks --json` over 100 rituals x 10 years of daily history.

It measures, side by side in one run, (a) reading the same rows straight from
the SQLite file with the sqlite3 module, the floor any implementation pays,
and (b) everything `ritual streaks --json` does after start-up: reading
through the store, judging every period, and writing the JSON. The last line
is the ratio b/a; the goal is <= 2x.

    python bench/streaks.py [--rituals 100] [--years 10] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scheduler.adapters.clock import FakeClock
from scheduler.adapters.encoding import dumps, streak_json
from scheduler.adapters.store import SqlStore
from scheduler.app.service import RitualService
from scheduler.app.stored import RitualSource
from scheduler.domain.definitions import ritual_from_table

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
SHAPES = (
    {"every": "day", "at": "20:30"},
    {"every": "day", "on": "weekdays", "at": "07:15"},
    {"every": "week", "times": 2, "at": "19:00"},
    {"every": "month", "on": "first sat", "at": "10:00"},
)


def build(path: Path, rituals: int, years: int, seed: int = 7) -> int:
    """A database with ``rituals`` rituals, each with ``years`` of mostly-kept daily history."""
    store = SqlStore.open(f"sqlite:///{path}")
    start = NOW.date() - timedelta(days=365 * years)
    rng = random.Random(seed)
    ids = []
    for number in range(rituals):
        table = {
            "name": f"ritual-{number:03d}",
            "timezone": "Europe/Berlin",
            "start": start.isoformat(),
            **SHAPES[number % len(SHAPES)],
        }
        ritual = ritual_from_table(table)
        ids.append(store.save_ritual(ritual, RitualSource.CLI, now=NOW, effective_from=start).id)
    store.close()
    rows = []
    for ritual_id in ids:
        day = start
        while day <= NOW.date():
            if rng.random() < 0.85:
                at = f"{day.isoformat()} 19:00:00.000000"  # SQLAlchemy's SQLite DATETIME text, in UTC
                stamp = (at, day.isoformat(), "", "", "cli", f"{NOW:%Y-%m-%d %H:%M:%S.%f}")
                rows.append((ritual_id, day.isoformat(), *stamp))
            day += timedelta(days=1)
    with sqlite3.connect(path) as db:
        db.executemany(
            "insert into completion (ritual_id, day, at, period_key, by_person, note, source, created_at)"
            " values (?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
    return len(rows)


def read_rows(path: Path) -> int:
    """The floor: the same rows, straight from SQLite, dates parsed."""
    count = 0
    with sqlite3.connect(path) as db:
        ids = [i for (i,) in db.execute("select id from ritual where removed_at is null")]
        for ritual_id in ids:
            versions = "select effective_from, cadence from cadence_version where ritual_id = ?"
            db.execute(versions, (ritual_id,)).fetchall()
            marks = [
                (date.fromisoformat(day), by)
                for day, by in db.execute(
                    "select day, by_person from completion where ritual_id = ? order by day", (ritual_id,)
                )
            ]
            db.execute("select day from skip where ritual_id = ?", (ritual_id,)).fetchall()
            db.execute("select start, until from pause where ritual_id = ?", (ritual_id,)).fetchall()
            count += len(marks)
    return count


def streaks_json(path: Path) -> str:
    """What `ritual streaks --json` does once started."""
    store = SqlStore.open(f"sqlite:///{path}")
    try:
        service = RitualService(
            store, FakeClock(NOW), ritual_file=path.with_suffix(".toml"), default_timezone="UTC"
        )
        return dumps([streak_json(view) for view in service.streaks()])
    finally:
        store.close()


def best_of(repeat: int, func: Callable[[Path], object], path: Path) -> float:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        func(path)
        times.append(time.perf_counter() - began)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rituals", type=int, default=100)
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.db"
        count = build(path, args.rituals, args.years)
        print(f"{args.rituals} rituals, {count} completions over {args.years} years")
        json.loads(streaks_json(path))  # warm up, and prove it parses
        read = best_of(args.repeat, read_rows, path)
        full = best_of(args.repeat, streaks_json, path)
        print(f"read rows (sqlite3):    {read * 1000:8.1f} ms  (best of {args.repeat})")
        print(f"ritual streaks --json:  {full * 1000:8.1f} ms  (best of {args.repeat})")
        print(f"ratio streaks/read: {full / read:.2f}x (goal <= 2x)")


if __name__ == "__main__":
    main()
