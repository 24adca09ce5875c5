"""Benchmark: what the idle daemon costs, with 1,000 rituals whose next nudges are hours away.

Side by side in one run, at the same time (all of them idle, so they do not disturb each other):

(a) bare: APScheduler 3.11 alone in a child process, a BackgroundScheduler with one DateTrigger
    job per ritual, due at the same instants as the rituals' next nudges;
(b) bare + tick: the same, plus an interval job that does nothing every 60 s (the least a
    once-a-minute watchdog tick can cost), for reference;
(c) the daemon: `python -m scheduler run` against a prepared SQLite database of the rituals.

Once all have started and settled, each one's CPU time (utime+stime from /proc/PID/stat; the
finer run time from /proc/PID/task/*/schedstat) and wakeups (voluntary context switches summed
over /proc/PID/task/*/status) are read at the start and the end of the window. The goals: CPU
<= 2x bare, and no more than about one wakeup a minute beyond it. The last line is the CPU ratio.

    python bench/idle.py [--rituals 1000] [--window 60] [--quick]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Child, Home, Usage, at_minute, daily_rituals, start_bare, start_daemon, usage

SETTLE = 5.0  # seconds after start-up before the window may open
TICK = 60.0  # the daemon's reconcile tick


def due_times(now: datetime, count: int) -> list[datetime]:
    """Next nudges three to six hours away, one ritual per minute slot, round-robin."""
    first = now.replace(second=0, microsecond=0) + timedelta(hours=3)
    return [first + timedelta(minutes=n % 180) for n in range(count)]


def measure(children: dict[str, Child], window: float) -> dict[str, Usage]:
    before = {label: usage(child.pid) for label, child in children.items()}
    time.sleep(window)
    return {label: usage(child.pid) - before[label] for label, child in children.items()}


def line(label: str, used: Usage) -> str:
    return (
        f"{label:<12} cpu {used.cpu:6.2f} s  run {used.run_ns / 1e6:8.1f} ms"
        f"  wakeups {used.wakeups:5d}  threads {used.threads}"
    )


def ratio(daemon: float, bare: float) -> str:
    if bare > 0:
        return f"{daemon / bare:.1f}x"
    return "1.0x (neither used measurable CPU)" if daemon <= 0 else "inf (bare used no measurable CPU)"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rituals", type=int, default=1_000)
    parser.add_argument("--window", type=float, default=60.0, help="seconds measured")
    parser.add_argument("--quick", action="store_true", help="a 20 s window")
    args = parser.parse_args(argv)
    window = 20.0 if args.quick else args.window
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        home = Home.make(folder, ["json://127.0.0.1:9/"])  # never reached: nothing falls due
        now = datetime.now(UTC)
        names = [f"ritual-{n:04d}" for n in range(args.rituals)]
        dues = due_times(now, args.rituals)
        daily_rituals(home, [(n, at_minute(due)) for n, due in zip(names, dues, strict=True)], now)
        jobs = [(n, due.timestamp()) for n, due in zip(names, dues, strict=True)]
        url = "http://127.0.0.1:9/"
        children = {
            "bare": start_bare(url, jobs, folder / "bare.log"),
            "bare + tick": start_bare(url, jobs, folder / "tick.log", tick=TICK),
            "daemon": start_daemon(home, folder / "daemon.log"),
        }
        try:
            children["bare"].wait_for("ready", 120)
            children["bare + tick"].wait_for("ready", 120)
            started = children["daemon"].wait_for("started:", 300)
            # Centre the window on the daemon's first tick, so even a short one holds a tick.
            opens = max(started + SETTLE, started + TICK - window / 2)
            time.sleep(max(0.0, opens - time.time()))
            ticks = int((opens + window - started) // TICK) - int((opens - started) // TICK)
            scene = f"{args.rituals} rituals, next nudges 3-6 h away"
            print(f"{scene}; {window:g} s window holding {ticks} daemon tick(s)")
            used = measure(children, window)
        finally:
            for child in children.values():
                child.stop()
        for label, row in used.items():
            print(line(label, row))
        bare, daemon = used["bare"], used["daemon"]
        extra = daemon.wakeups - bare.wakeups
        per_tick = f"{extra / ticks:.1f} per daemon tick" if ticks else "no daemon tick in the window"
        print(f"wakeups beyond bare: {extra} in {window:g} s, {per_tick} (goal: about 1 a minute, a tick)")
        print(f"ratio run time daemon/bare: {ratio(daemon.run_ns, bare.run_ns)}")
        print(f"ratio cpu daemon/bare: {ratio(daemon.cpu, bare.cpu)} (goal <= 2x)")


if __name__ == "__main__":
    main()
