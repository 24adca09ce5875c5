"""Benchmark: one nudge to 50 channels that each answer after 200 ms, against one such channel.

Both go through the real send path, side by side in one run: channels loaded from an Apprise
config file by ``scheduler.adapters.notify.load_channels`` (json:// URLs to a local receiver that holds each
request 200 ms), then (a) ``send_all`` alone and (b) ``ChannelOutbox.deliver``, which the daemon
calls, with its delivery rows in a real SQLite file. Sends are concurrent, so 50 channels should
cost little more than one. The last line is the outbox ratio 50/1; the goal is <= 1.5x.

    python bench/fanout.py [--channels 50] [--delay 0.2] [--repeat 5]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Home, daily_rituals, receiver_process

from scheduler.adapters.clock import SystemClock
from scheduler.adapters.notify import Channels, load_channels, send_all
from scheduler.adapters.store import SqlStore
from scheduler.app.nudging import Claimed
from scheduler.app.outbox import ChannelOutbox
from scheduler.app.service import RitualService
from scheduler.app.stored import OccurrenceKind, OccurrenceStatus
from scheduler.domain.firing import Decision, Verdict
from scheduler.domain.messages import Message
from scheduler.domain.reminders import Nudge, NudgeKind
from scheduler.startup import prepare_sending

MESSAGE = Message(title="fanout", body="Time for the weekly check-in.")
TIMEOUT = 15.0


def channels_for(folder: Path, port: int, count: int) -> Channels:
    """``count`` json:// channels on the receiver, one path each, read from an apprise.txt."""
    config = folder / f"apprise-{count}.txt"
    config.write_text("".join(f"json://127.0.0.1:{port}/c{n:02d}\n" for n in range(count)))
    channels = load_channels(
        config_file=config, urls={}, plugin_paths=[], credentials_dir=None, link_key=b"k" * 32
    )
    assert len(channels) == count, channels.problems
    return channels


def send_path(channels: Channels) -> Callable[[], None]:
    def run() -> None:
        results = asyncio.run(send_all(list(channels), MESSAGE, timeout=TIMEOUT))
        assert all(result.ok for result in results), [r.error for r in results if not r.ok]

    return run


class OutboxPath:
    """``ChannelOutbox.deliver`` for a fresh occurrence of one ritual on every call."""

    def __init__(self, home: Home, channels: Channels, count: int) -> None:
        self.store = SqlStore.open(home.database)
        self.service = RitualService(
            self.store, SystemClock(), ritual_file=home.config / "none.toml", default_timezone="UTC"
        )
        self.outbox = ChannelOutbox(
            self.service, channels, SystemClock(), timeout=TIMEOUT, max_attempts=8, max_age=timedelta(days=1)
        )
        stored = self.store.get_ritual(f"fanout-{count}")
        assert stored is not None
        self.stored = stored
        self.calls = 0

    def __call__(self) -> None:
        now = datetime.now(UTC)
        self.calls += 1
        slot = f"bench-{self.calls}"
        occurrence, created = self.store.claim_occurrence(
            self.stored.id,
            day=now.date(),
            slot=slot,
            kind=OccurrenceKind.DUE,
            due_at=now,
            status=OccurrenceStatus.PENDING,
            now=now,
        )
        assert created
        nudge = Nudge(due=now, kind=NudgeKind.DUE, day=now.date(), slot=slot)
        self.outbox.deliver([Claimed(self.stored, occurrence, Verdict(nudge, Decision.SEND, "sent on time"))])
        rows = self.store.deliveries(occurrence_id=occurrence.id)
        assert all(row.status == "sent" for row in rows), [row.last_error for row in rows]

    def close(self) -> None:
        self.store.close()


def best_of(repeat: int, func: Callable[[], None]) -> float:
    func()  # warm up: first connections, Apprise's worker pools
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        func()
        times.append(time.perf_counter() - began)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--channels", type=int, default=50)
    parser.add_argument("--delay", type=float, default=0.2, help="seconds each channel takes to answer")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    prepare_sending()  # as the daemon's start-up does (scheduler.startup)
    with tempfile.TemporaryDirectory() as name, receiver_process(args.delay) as (port, arrived):
        folder = Path(name)
        home = Home.make(folder, [])
        now = datetime.now(UTC)
        daily_rituals(home, [("fanout-1", "12:00"), (f"fanout-{args.channels}", "12:00")], now)
        one = channels_for(folder, port, 1)
        many = channels_for(folder, port, args.channels)
        print(f"{args.channels} channels vs 1, each answering after {args.delay * 1000:.0f} ms")
        send_one = best_of(args.repeat, send_path(one))
        send_many = best_of(args.repeat, send_path(many))
        outbox_one, outbox_many = OutboxPath(home, one, 1), OutboxPath(home, many, args.channels)
        deliver_one = best_of(args.repeat, outbox_one)
        deliver_many = best_of(args.repeat, outbox_many)
        outbox_one.close()
        outbox_many.close()
        expected = (args.repeat + 1) * 2 * (1 + args.channels)
        assert arrived() == expected, (arrived(), expected)
        n = args.channels
        print(f"send_all, 1 channel:          {send_one * 1000:8.1f} ms  (best of {args.repeat})")
        print(f"send_all, {n} channels:       {send_many * 1000:8.1f} ms")
        print(f"outbox.deliver, 1 channel:    {deliver_one * 1000:8.1f} ms")
        print(f"outbox.deliver, {n} channels: {deliver_many * 1000:8.1f} ms")
        print(f"ratio send_all {n}/1: {send_many / send_one:.2f}x (goal <= 1.5x)")
        print(f"ratio outbox.deliver {n}/1: {deliver_many / deliver_one:.2f}x (goal <= 1.5x)")


if __name__ == "__main__":
    main()
