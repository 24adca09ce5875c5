"""Benchmark: fire lag of N nudges due within two minutes, the daemon against bare APScheduler.

Side by side in one run, one after the other, the same N nudges are due at the same pattern of
instants (rituals are timed to whole minutes, so N/2 fall due at each of two consecutive minutes)
and each ends as a POST to one local HTTP receiver in this process. Lag is measured from the due
time to the request arriving:

(a) bare: APScheduler 3.11 alone in a child process, a BackgroundScheduler with one DateTrigger
    job per nudge that POSTs with urllib;
(b) bare-apprise: the same, each job sending through Apprise as a naive script would (a new
    ``Apprise()`` per send, ``json://`` to the same receiver);
(c) the daemon: `python -m scheduler run` as a child process against a prepared SQLite database
    of N daily rituals, with an apprise.txt naming the receiver (json://), digest off.

It prints the p99 ratio daemon/bare-apprise (goal <= 1.0x), and last the p99 ratio daemon/bare
(goal <= 1.5x); the daemon's p99 should also be under 100 ms.

    python bench/fire_lag.py [--rituals 10000] [--quick] [--drain 240] [--send-workers N]
                             [--profile FILE [--profile-gil]]
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    Arrival,
    Child,
    Home,
    Usage,
    at_minute,
    daily_rituals,
    percentile,
    receiver,
    start_bare,
    start_daemon,
    usage,
)

MINUTES = 2  # whole minutes the due times are spread over


@dataclass(frozen=True, slots=True)
class Lags:
    """What arrived for one contender, how late, and what its process spent meanwhile."""

    expected: int
    lags: list[float]  # seconds, one per ritual that arrived, in arrival order
    duplicates: int
    usage: Usage  # from just before the first due time to the last arrival

    def p(self, share: float) -> float:
        """The percentile, counting what never arrived as infinitely late."""
        missing = self.expected - len(self.lags)
        return percentile([*self.lags, *([math.inf] * missing)], share)

    def line(self, label: str) -> str:
        got = f"{len(self.lags)}/{self.expected} arrived"
        if self.duplicates:
            got += f", {self.duplicates} twice"
        return (
            f"{label:<7} p50 {_ms(self.p(0.5)):>11}  p99 {_ms(self.p(0.99)):>11}  max {_ms(self.p(1.0)):>11}"
            f"  ({got}; cpu {self.usage.cpu:.1f} s)"
        )


def _ms(seconds: float) -> str:
    return "never" if math.isinf(seconds) else f"{seconds * 1000:.1f} ms"


def due_times(first: datetime, names: Sequence[str]) -> dict[str, datetime]:
    """Each name's due time: spread evenly over MINUTES whole minutes from ``first``."""
    return {name: first + timedelta(minutes=n % MINUTES) for n, name in enumerate(names)}


def next_minute(after: datetime) -> datetime:
    """The first whole minute at or after ``after``."""
    floor = after.replace(second=0, microsecond=0)
    return floor if floor == after else floor + timedelta(minutes=1)


def sleep_until(when: datetime) -> None:
    delay = when.timestamp() - time.time()
    if delay > 0:
        time.sleep(delay)


def watch(child: Child, dues: dict[str, datetime], arrivals: list[Arrival], drain: float) -> Lags:
    """From just before the first due time until all arrived (or ``drain`` s after the last one)."""
    first, last = min(dues.values()), max(dues.values())
    sleep_until(first - timedelta(seconds=1))
    since, before = len(arrivals), usage(child.pid)
    while len(arrivals) - since < len(dues) and time.time() < last.timestamp() + drain:
        time.sleep(0.2)
    spent = usage(child.pid) - before
    seen: dict[str, float] = {}
    duplicates = 0
    for arrival in arrivals[since:]:
        due = dues.get(arrival.title)
        if due is None:
            continue
        if arrival.title in seen:
            duplicates += 1
        else:
            seen[arrival.title] = arrival.at - due.timestamp()
    return Lags(len(dues), list(seen.values()), duplicates, spent)


def run_bare(folder: Path, url: str, count: int, arrivals: list[Arrival], drain: float, label: str) -> Lags:
    # The daemon's shape (half at one instant, half 60 s later), without waiting for a whole minute.
    first = datetime.now(UTC) + timedelta(seconds=5 + 0.0005 * count)
    dues = due_times(first, [f"{label}-{n:05d}" for n in range(count)])
    child = start_bare(url, [(name, due.timestamp()) for name, due in dues.items()], folder / f"{label}.log")
    try:
        child.wait_for("ready", 120)
        if datetime.now(UTC) > first - timedelta(seconds=2):
            raise SystemExit(f"{label} APScheduler was not ready before its first due time")
        return watch(child, dues, arrivals, drain)
    finally:
        child.stop()


def start_prepared_daemon(
    folder: Path, port: int, dues: dict[str, datetime], workers: int | None = None
) -> Child:
    """Store the rituals, start the daemon, and wait until it says it has started."""
    home = Home.make(folder / "daemon", [f"json://127.0.0.1:{port}/"])
    daily_rituals(home, [(name, at_minute(due)) for name, due in dues.items()], datetime.now(UTC))
    settings = {} if workers is None else {"send_workers": str(workers)}
    child = start_daemon(home, folder / "daemon.log", **settings)
    child.wait_for("started:", max(0.0, min(dues.values()).timestamp() - time.time()))
    return child


def _profile(pid: int, out: Path, first: datetime, *, gil: bool) -> subprocess.Popen[bytes]:
    """py-spy (pip install py-spy) on the daemon from just before the first due time, all threads.

    With ``gil`` only the thread holding the GIL is sampled: where the CPU goes, not the waits.
    """
    sleep_until(first - timedelta(seconds=1))
    spy = Path(sys.executable).with_name("py-spy")
    command = [str(spy), "record", "--pid", str(pid), "--duration", "90", "--output", str(out)]
    if out.suffix != ".svg":
        command += ["--format", "raw"]  # collapsed stacks, one line each, for grep and sort
    command += ["--threads", "--nonblocking", *(["--gil"] if gil else [])]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rituals", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true", help="1,000 rituals")
    parser.add_argument("--drain", type=float, default=240.0, help="seconds to wait after the last due time")
    parser.add_argument("--lead", type=float, help="seconds to store the rituals and start the daemon")
    parser.add_argument(
        "--profile",
        type=Path,
        help="py-spy profile of the daemon's first 90 s (.svg: flame graph, else stacks)",
    )
    parser.add_argument(
        "--send-workers", type=int, help="the daemon's send_workers (default: its own choice)"
    )
    parser.add_argument("--profile-gil", action="store_true", help="profile only the GIL holder (CPU)")
    args = parser.parse_args(argv)
    count = 1_000 if args.quick else args.rituals
    # The daemon is stored and started first (it plans every ritual), then held still with SIGSTOP
    # while the baseline runs, so its start-up overlaps the wait for a whole minute, not the baseline.
    room = args.lead if args.lead is not None else 10 + 0.0035 * count
    bare_phase = 2 * (75 + 0.0006 * count)  # the two baselines, one after the other
    first = next_minute(datetime.now(UTC) + timedelta(seconds=room + bare_phase))
    dues = due_times(first, [f"ritual-{n:05d}" for n in range(count)])
    with tempfile.TemporaryDirectory() as name, receiver() as (port, log):
        folder = Path(name)
        print(f"{count} nudges due over {MINUTES} whole minutes, each a POST to a local receiver")
        began = time.time()
        daemon_child = start_prepared_daemon(folder, port, dues, args.send_workers)
        print(f"daemon: rituals stored and started in {time.time() - began:.0f} s")
        try:
            os.kill(daemon_child.pid, signal.SIGSTOP)
            try:
                bare = run_bare(folder, f"http://127.0.0.1:{port}/", count, log.arrivals, args.drain, "bare")
                print(bare.line("bare"), flush=True)
                naive = run_bare(
                    folder, f"json://127.0.0.1:{port}/", count, log.arrivals, args.drain, "apprise"
                )
                print(naive.line("apprise"), flush=True)
            finally:
                os.kill(daemon_child.pid, signal.SIGCONT)
            print(f"baseline done {first.timestamp() - time.time():.0f} s before the daemon's first due time")
            if time.time() > first.timestamp() - 5:
                raise SystemExit("the baseline ran into the daemon's first due time; raise --lead")
            spy = None
            if args.profile:
                spy = _profile(daemon_child.pid, args.profile, first, gil=args.profile_gil)
            daemon = watch(daemon_child, dues, log.arrivals, args.drain)
            if spy is not None:
                spy.wait()
        finally:
            daemon_child.stop()
        print(daemon.line("daemon"))
        p99_bare, p99_daemon = bare.p(0.99), daemon.p(0.99)
        met = "met" if p99_daemon < 0.1 else "not met"
        print(f"daemon p99 {_ms(p99_daemon)} (goal < 100 ms: {met})")
        print(f"ratio p99 daemon/bare-apprise: {p99_daemon / naive.p(0.99):.2f}x (goal <= 1.0x)")
        print(f"ratio p99 daemon/bare: {p99_daemon / p99_bare:.2f}x (goal <= 1.5x)")


if __name__ == "__main__":
    main()
