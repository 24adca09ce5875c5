"""Benchmark: the daemon's resident memory after start with 10,000 rituals against 10 rituals.

Each size gets its own database of daily rituals at times spread over the day,
starting tomorrow (so no start-up finds a nudge overdue, whatever the hour).
`python -m scheduler run` starts on it in a fresh process, with no channels and
the digest off; once its log says "started:" (every timer armed) and a short
settle, VmRSS is read from /proc and the daemon is stopped with SIGTERM. Sizes
alternate (10, 10000, 10, ...). The last line is rss(10000)/rss(10); the goal
is <= 1.5x.

    python bench/memory.py [--rituals 10000] [--few 10] [--rounds 3] [--quick] [--profile]

--profile starts each size once more under tracemalloc (slow: about 5x) and lists what the extra
rituals hold, from a snapshot diff.
"""

from __future__ import annotations

import argparse
import signal
import statistics
import tempfile
import time
import tracemalloc
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _common import Home, start_child, start_daemon

SETTLE_SECONDS = 1.0
START_TIMEOUT = 600.0

# The daemon under tracemalloc: SIGUSR1, which the daemon leaves alone, dumps a snapshot to argv[1].
PROFILED_DAEMON = """\
import runpy, signal, sys, tracemalloc

path = sys.argv[1]

def dump(_signum, _frame):
    tracemalloc.take_snapshot().dump(path)
    print("snapshot written", file=sys.stderr, flush=True)

tracemalloc.start()
signal.signal(signal.SIGUSR1, dump)
sys.argv = ["ritual", "run"]
runpy.run_module("scheduler", run_name="__main__")
"""


@dataclass(frozen=True, slots=True)
class Reading:
    rss_kib: int  # VmRSS once started
    peak_kib: int  # VmHWM: the most it held on the way there
    start_seconds: float


def build(folder: Path, count: int, now: datetime) -> Home:
    """A config and a data dir whose database holds ``count`` daily rituals, stored as `ritual add` does."""
    from scheduler.adapters.store import SqlStore
    from scheduler.app.stored import RitualSource
    from scheduler.domain.definitions import ritual_from_table

    home = Home.make(folder, channel_urls=[])
    start = now.date() + timedelta(days=1)
    store = SqlStore.open(home.database)
    try:
        with store.transaction():
            for number in range(count):
                minute = number * 24 * 60 // count
                table = {
                    "name": f"ritual-{number:05d}",
                    "every": "day",
                    "at": f"{minute // 60:02d}:{minute % 60:02d}",
                    "timezone": "UTC",
                    "start": start.isoformat(),
                }
                ritual = ritual_from_table(table)
                store.save_ritual(ritual, RitualSource.CLI, now=now, effective_from=start)
    finally:
        store.close()
    return home


def status_kib(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    raise RuntimeError(f"no {key} in /proc/{pid}/status")


def measure(home: Home, log: Path) -> Reading:
    """Start the daemon, wait until it has started and settled, read its memory, stop it."""
    began = time.monotonic()
    child = start_daemon(home, log)
    try:
        child.wait_for("started:", START_TIMEOUT)
        started = time.monotonic() - began
        time.sleep(SETTLE_SECONDS)
        return Reading(status_kib(child.pid, "VmRSS"), status_kib(child.pid, "VmHWM"), started)
    finally:
        child.stop()


def snapshot(home: Home, folder: Path, name: str) -> tracemalloc.Snapshot:
    """A tracemalloc snapshot of a daemon started on ``home``, taken once it has started."""
    path = folder / f"{name}.snapshot"
    child = start_child(["-c", PROFILED_DAEMON, str(path)], home.environ(), folder / f"{name}.log")
    try:
        child.wait_for("started:", START_TIMEOUT)
        child.process.send_signal(signal.SIGUSR1)
        child.wait_for("snapshot written", START_TIMEOUT)
    finally:
        child.stop()
    return tracemalloc.Snapshot.load(str(path))


def holder(filename: str, *, whole: bool = False) -> str:
    """Who allocated: a site-packages package (``whole``: its file), one of our modules, or the stdlib."""
    parts = Path(filename).parts
    if "site-packages" in parts:
        inside = parts[parts.index("site-packages") + 1 :]
        return "/".join(inside) if whole else inside[0]
    if "scheduler" in parts:
        return "/".join(parts[parts.index("scheduler") :])
    return "stdlib " + parts[-1]


def growth(small: tracemalloc.Snapshot, big: tracemalloc.Snapshot, count: int, top: int = 8) -> list[str]:
    """What the extra rituals cost: traced bytes grown per holder, then the biggest lines."""
    by_holder: Counter[str] = Counter()
    for diff in big.compare_to(small, "filename"):
        by_holder[holder(diff.traceback[0].filename)] += diff.size_diff
    total = sum(by_holder.values())
    lines = [
        f"traced growth: {total / 2**20:.1f} MiB ({total / count:.0f} B per extra ritual), by who allocated:"
    ]
    lines += [f"  {size / 2**20:6.1f} MiB  {name}" for name, size in by_holder.most_common(top)]
    lines.append("biggest lines:")
    for diff in big.compare_to(small, "lineno")[:top]:
        frame = diff.traceback[0]
        where = f"{holder(frame.filename, whole=True)}:{frame.lineno}"
        lines.append(f"  {diff.size_diff / 2**20:6.1f} MiB  {diff.count_diff:+8d} blocks  {where}")
    return lines


def summary(count: int, readings: list[Reading]) -> str:
    rss = min(r.rss_kib for r in readings) / 1024
    spread = (max(r.rss_kib for r in readings) - min(r.rss_kib for r in readings)) / 1024
    peak = max(r.peak_kib for r in readings) / 1024
    started = statistics.median(r.start_seconds for r in readings)
    return (
        f"{count:>6} rituals: RSS {rss:6.1f} MiB (best of {len(readings)}, spread {spread:.1f})"
        f"   peak {peak:6.1f} MiB   started in {started:5.1f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rituals", type=int, default=10_000, help="The big installation (default 10000).")
    parser.add_argument("--few", type=int, default=10, help="The small one (default 10).")
    parser.add_argument("--rounds", type=int, default=3, help="Daemon starts of each size (default 3).")
    parser.add_argument("--quick", action="store_true", help="One start of each size.")
    parser.add_argument("--profile", action="store_true", help="Also diff tracemalloc snapshots (slow).")
    args = parser.parse_args()
    rounds = 1 if args.quick else args.rounds
    now = datetime.now(UTC)  # the daemon reads the real clock, so its rituals start tomorrow by it
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        homes = {count: build(folder / str(count), count, now) for count in (args.few, args.rituals)}
        readings: dict[int, list[Reading]] = {count: [] for count in homes}
        for round_number in range(rounds):
            for count, home in homes.items():
                readings[count].append(measure(home, folder / f"daemon-{count}-{round_number}.log"))
        if args.profile:
            small, big = (snapshot(homes[count], folder, f"profiled-{count}") for count in homes)
            print("\n".join(growth(small, big, args.rituals - args.few)))
    for count, taken in readings.items():
        print(summary(count, taken))
    few = min(r.rss_kib for r in readings[args.few])
    many = min(r.rss_kib for r in readings[args.rituals])
    print(f"ratio rss({args.rituals})/rss({args.few}): {many / few:.2f}x (goal <= 1.5x)")


if __name__ == "__main__":
    main()
