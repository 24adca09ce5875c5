"""Two `ritual run` daemons on one PostgreSQL schema both send what is due in the outbox (issue 19).

Real processes, a real PostgreSQL and a real local receiver (a lean one, ``BurstReceiver``,
that keeps up with two daemons). The outbox is filled directly with a burst of due
deliveries (one per ritual, every ritual's title unique, so an arrival names its
delivery), as an outage of the push server leaves it once its retries fall due:

1. one daemon alone drains a burst; the time from the burst's due instant to its last
   arrival is measured;
2. a second daemon joins (a standby, same config and link key); the same size of burst is
   drained by both, and timed;
3. both drain a third burst, and one is SIGKILLed a third of the way through: the other
   takes the lead, and what the killed one had claimed is sent once its lease is over.

Every delivery of every burst ends sent, none reaches the receiver twice except those the
killed daemon had claimed (at least once, as the lease documents: at most one chunk), and
every title arrives, and a killed daemon's send workers end with it. CI: 300 deliveries a
burst, the speed-up only printed (two cores shared with the rest of the suite prove nothing).
``RITUAL_SCENARIO_SCALE=full``: 5,000, and two daemons of one process each
(``send_workers = 0``) must drain a burst at least 1.6 times as fast as one. With their send
workers (the default at this many rituals) one daemon already keeps both cores of this machine
busy, so the second one's gain is only printed: on one machine it can add no cores.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from scheduler.adapters.keyfile import load_or_create_key
from scheduler.adapters.notify import load_channels
from scheduler.app.outbox import DRAIN_CHUNK
from scheduler.app.stored import (
    DeliveryStatus,
    OccurrenceClaim,
    OccurrenceKind,
    OccurrenceStatus,
    StoredRitual,
)
from tests.scenarios._daemon_harness import (
    CHANNEL_TAG,
    DaemonProcess,
    Installation,
    NotifySocket,
    wait_for,
)
from tests.scenarios.conftest import FULL, figures, scaled
from tests.support.receivers import BurstReceiver, Received

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

BURST = scaled(300, 5_000)
SPEED_UP = 1.6  # the bound, asserted at full scale
LEAD = scaled(3.0, 12.0)  # seconds from seeding a burst to its due instant (5,000 rows take a while)
DRAIN_LIMIT = scaled(120.0, 600.0)  # seconds a burst may take, the killed daemon's lease included


def machine_cpu() -> tuple[int, int]:
    """(busy, all) jiffies of every core so far, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle, iowait
    return sum(values) - idle, sum(values)


def daily_rituals(count: int, at: datetime) -> list[dict[str, object]]:
    return [
        {
            "name": f"burst-{n:04d}",
            "title": f"Burst {n:04d}",
            "timezone": "UTC",
            "at": f"{at:%H:%M}",
            "notify": [CHANNEL_TAG],
        }
        for n in range(count)
    ]


class Burst:
    """One burst: an occurrence per ritual on ``day``, its one delivery due at ``due``."""

    def __init__(
        self, installation: Installation, receiver: BurstReceiver, day: date, pair: tuple[str, str]
    ) -> None:
        self.installation = installation
        self.receiver = receiver
        self.day = day
        self.pair = pair
        self.first_request = 0
        self.end_request: int | None = None  # where the next burst's requests begin
        self.due = datetime.now(UTC)
        self.occurrence_ids: list[int] = []
        self.cpu_at_due: tuple[int, int] | None = None  # the machine's (busy, all) jiffies then
        self.cpu_at_end: tuple[int, int] | None = None

    def seed(self, rituals: Sequence[StoredRitual], slot: str) -> None:
        self.first_request = len(self.receiver.requests)
        now = datetime.now(UTC)
        self.due = now + timedelta(seconds=LEAD)
        due_at = datetime.combine(self.day, datetime.min.time(), UTC)
        claims = [
            OccurrenceClaim(stored.id, self.day, slot, OccurrenceKind.DUE, due_at, OccurrenceStatus.PENDING)
            for stored in rituals
        ]
        with self.installation.store() as store:
            found = store.claim_occurrences(claims, now=now)
            self.occurrence_ids = [occurrence.id for occurrence, _ in found if occurrence is not None]
            assert len(self.occurrence_ids) == len(rituals)
            store.add_deliveries_many(
                [(occurrence_id, [self.pair]) for occurrence_id in self.occurrence_ids],
                now=now,
                not_before=self.due,
            )
        assert datetime.now(UTC) < self.due, "seeding took longer than LEAD: raise it"
        timer = threading.Timer((self.due - datetime.now(UTC)).total_seconds(), self._due)
        timer.daemon = True
        timer.start()

    def _due(self) -> None:
        self.cpu_at_due = machine_cpu()

    def requests(self) -> list[Received]:
        return self.receiver.requests[self.first_request : self.end_request]

    def arrivals(self) -> list[str]:
        return [request.title for request in self.requests()]

    def end(self) -> None:
        self.end_request = len(self.receiver.requests)
        self.cpu_at_end = machine_cpu()

    def busy(self) -> str:
        """How busy the machine's cores were from the due instant to ``end`` (every process)."""
        if self.cpu_at_due is None or self.cpu_at_end is None:
            return "?"
        busy, every = (after - before for after, before in zip(self.cpu_at_end, self.cpu_at_due, strict=True))
        return f"{busy / max(every, 1):.0%} of {os.cpu_count()} cores busy"

    def arrived(self) -> bool:
        return len(set(self.arrivals())) >= len(self.occurrence_ids)

    def seconds(self) -> float:
        """From the due instant to the last arrival."""
        last = max(request.wall for request in self.requests())
        return last - self.due.timestamp()

    def rows(self) -> list[tuple[DeliveryStatus, int]]:
        with self.installation.store() as store:
            rows = [row for i in self.occurrence_ids for row in store.deliveries(occurrence_id=i)]
        return [(row.status, row.attempts) for row in rows]

    def all_sent(self) -> bool:
        return all(status is DeliveryStatus.SENT for status, _ in self.rows())


@pytest.fixture
def receiver() -> Iterator[BurstReceiver]:
    """The push server: one that keeps up with two daemons (tests/support/receivers.py)."""
    started = BurstReceiver()
    yield started
    started.close()


@pytest.mark.timeout(scaled(300, 1800))
@pytest.mark.parametrize("workers", ["0", "default"], ids=["one-process-each", "send-workers"])
def test_two_daemons_drain_a_burst_faster_and_send_each_delivery_once(
    tmp_path: Path, receiver: BurstReceiver, postgres_url: str, workers: str
) -> None:
    environ = {} if workers == "default" else {"RITUAL_SEND_WORKERS": workers}
    a = Installation(tmp_path / "a", receiver.port, postgres_url, environ)
    b = Installation(tmp_path / "b", receiver.port, postgres_url, environ)
    at = datetime.now(UTC) + timedelta(hours=6)  # nothing falls due by itself meanwhile
    for installation in (a, b):
        installation.write_rituals(daily_rituals(BURST, at))
        installation.data.mkdir(parents=True, exist_ok=True)
    key = load_or_create_key(a.data / "link-signing.key")
    shutil.copy(a.data / "link-signing.key", b.data / "link-signing.key")  # as the README says
    [channel] = load_channels(
        config_file=a.config / "apprise.txt", urls={}, plugin_paths=[], credentials_dir=None, link_key=key
    )
    pair = (f"{CHANNEL_TAG} {channel.masked}", channel.target)
    first = DaemonProcess(a, tmp_path / "a.log", NotifySocket(tmp_path / "a.sock"))
    second = DaemonProcess(b, tmp_path / "b.log", NotifySocket(tmp_path / "b.sock"))
    today = datetime.now(UTC).date()
    shown: dict[str, object] = {"deliveries a burst": BURST, "send_workers": workers}
    try:
        first.start()
        assert first.wait_ready(120), first.log_text()
        with a.store() as store:
            rituals = store.list_rituals()
        assert len(rituals) == BURST

        # 1. One daemon alone.
        alone = Burst(a, receiver, today - timedelta(days=1), pair)
        alone.seed(rituals, f"{at:%H:%M}")
        assert wait_for(alone.arrived, DRAIN_LIMIT, step=0.2), f"{len(alone.arrivals())}\n{first.log_text()}"
        assert wait_for(alone.all_sent, 30, step=0.5)
        alone.end()

        # 2. A second daemon joins: both drain.
        second.start()
        assert second.wait_ready(120), second.log_text()
        both = Burst(a, receiver, today - timedelta(days=2), pair)
        both.seed(rituals, f"{at:%H:%M}")
        assert wait_for(both.arrived, DRAIN_LIMIT, step=0.2), f"{len(both.arrivals())}\n{second.log_text()}"
        assert wait_for(both.all_sent, 30, step=0.5)
        both.end()

        # 3. Both again, and the first one SIGKILLed a third of the way through.
        killed = Burst(a, receiver, today - timedelta(days=3), pair)
        killed.seed(rituals, f"{at:%H:%M}")
        assert wait_for(lambda: len(killed.arrivals()) >= BURST // 3, DRAIN_LIMIT, step=0.05)
        first.kill()
        assert wait_for(killed.all_sent, DRAIN_LIMIT, step=0.5), f"{killed.rows()[:5]}\n{second.log_text()}"

        for burst in (alone, both):
            counts = Counter(burst.arrivals())
            assert len(counts) == BURST, "every delivery arrived"
            assert max(counts.values()) == 1, [t for t, n in counts.items() if n > 1][:5]
            assert {attempts for _, attempts in burst.rows()} == {1}
        counts = Counter(killed.arrivals())
        rows = killed.rows()
        resent = sum(1 for _, attempts in rows if attempts > 1)
        assert len(counts) == BURST, "every delivery arrived, the killed daemon's claims too"
        assert max(attempts for _, attempts in rows) <= 2
        assert resent <= DRAIN_CHUNK, "only what the killed daemon had claimed is tried again"
        twice = sum(n - 1 for n in counts.values())
        assert max(counts.values()) <= 2
        assert twice <= resent, "a delivery arrives twice only when its lease ran out on the killed daemon"

        speed_up = alone.seconds() / both.seconds()
        shown.update(
            one_daemon=f"{alone.seconds():.1f} s ({BURST / alone.seconds():.0f}/s; {alone.busy()})",
            two_daemons=f"{both.seconds():.1f} s ({BURST / both.seconds():.0f}/s; {both.busy()})",
            speed_up=f"{speed_up:.2f}x (goal >= {SPEED_UP}x at full scale)",
            killed_mid_burst=f"{resent} tried again after the lease, {twice} arrived twice",
        )
        figures("two senders", **shown)
        if FULL and workers == "0":
            assert speed_up >= SPEED_UP
        if workers == "default":
            assert len(first.children_at_kill) >= 1, "the daemon had its send workers when killed"
        assert not first.orphans(), "a killed daemon's send workers end with it"
    finally:
        for daemon in (first, second):
            daemon.close()
            daemon.notify.close()
