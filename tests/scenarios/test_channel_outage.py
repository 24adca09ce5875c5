"""A push channel that goes away and comes back: every nudge arrives once, after growing waits.

A real HTTP receiver on 127.0.0.1 plays the push server. For the first minutes nothing
listens on its port (connection refused), then it answers 503, then 200. Several rituals
fire into that outage; the daemon's loop runs in fast-forward over a simulated hour of a
FakeClock, a few seconds per step: each ritual's timer fires when its time comes, and the
outbox's ``deliver_due`` runs at every step. Nothing sleeps; the waits are the outbox's.

Measured: when each delivery was tried (from the delivery rows, step by step), what the
receiver saw, the spacing of the tries, and how long after the recovery each nudge arrived.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import pytest

from scheduler.adapters.clock import FakeClock
from scheduler.app.outbox import FIRST_RETRY, LONGEST_WAIT
from scheduler.app.stored import DeliveryStatus, OccurrenceStatus, StoredRitual
from tests.scenarios.conftest import figures, scaled
from tests.support.households import Household
from tests.support.receivers import StartReceiver, closed_port

pytestmark = pytest.mark.slow

DUE = datetime(2026, 11, 24, 20, 30, tzinfo=UTC)  # the first ritual's time (Household's rituals are UTC)
LISTENS_AT = DUE + timedelta(minutes=10)  # until then: connection refused
RECOVERS_AT = DUE + timedelta(minutes=20)  # until then: 503
HOUR_ENDS = DUE + timedelta(hours=1)
STEP = timedelta(seconds=scaled(5, 1))
NUDGES = scaled(4, 24)


@dataclass
class Hit:
    at: datetime  # the fake time of the request
    title: str
    answered: int


@dataclass
class Outage:
    """How the push server answers: 503 until ``recovers_at`` on the fake clock, 200 after.

    The shared receiver's script counts requests, but this outage is timed (how many tries fall
    into it depends on the back-off), so it answers by the clock and notes each request's fake time.
    """

    clock: FakeClock
    recovers_at: datetime
    hits: list[Hit] = field(default_factory=list)

    def __call__(self, path: str, body: Mapping[str, Any]) -> int:
        now = self.clock.now()  # the main thread is blocked in the send: time stands still
        code = 503 if now < self.recovers_at else 200
        self.hits.append(Hit(now, str(body.get("title")), code))  # the receiver holds its lock
        return code

    def delivered(self) -> Counter[str]:
        return Counter(hit.title for hit in self.hits if hit.answered == 200)


def backoff_bounds(retry: int) -> tuple[timedelta, timedelta]:
    """The outbox's wait before retry number ``retry`` (1 = the first retry): doubling, capped, +-25%."""
    base = min(FIRST_RETRY * 2 ** (retry - 1), LONGEST_WAIT)
    return base * 0.75, base * 1.25


def test_an_outage_refused_then_503_then_200_delivers_every_nudge_once(
    receivers: StartReceiver, households: Callable[..., Household]
) -> None:
    port = closed_port()
    home = households({"couple": [f"json://127.0.0.1:{port}/push"]})
    outage = Outage(home.clock, RECOVERS_AT)
    run_the_hour(home, outage, listen=lambda: receivers(port=port, answer=outage))


def run_the_hour(home: Household, outage: Outage, listen: Callable[[], object]) -> None:
    # Rituals due over the first quarter hour: some fire into refused connections, some into 503s.
    rituals: list[StoredRitual] = []
    for n in range(NUDGES):
        due = DUE + timedelta(minutes=n * 15 // NUDGES)
        rituals.append(home.add(f"ritual-{n}", title=f"Ritual {n}", at=f"{due:%H:%M}", notify=["couple"]))
    home.clock.set(DUE - timedelta(minutes=1))
    timers = {s.id: home.nudger.next_wakeup(s) for s in rituals}
    tries: dict[int, list[datetime]] = {}  # delivery id -> the fake times it was tried
    seen: dict[int, int] = {}  # delivery id -> attempts seen so far
    listening = False

    while home.clock.now() < HOUR_ENDS:
        now = home.clock.advance(STEP)
        if not listening and now >= LISTENS_AT:
            listen()  # the push server is back on its port, not healthy yet
            listening = True
        for stored in rituals:
            wake = timers[stored.id]
            if wake is not None and wake <= now:
                home.nudger.handle_due(stored)  # the ritual's timer
                timers[stored.id] = home.nudger.next_wakeup(stored)
        home.outbox.deliver_due()  # the reconcile tick's retries
        for row in home.deliveries():
            for _ in range(row.attempts - seen.get(row.id, 0)):
                tries.setdefault(row.id, []).append(now)
            seen[row.id] = row.attempts

    rows = {row.id: row for row in home.deliveries()}
    assert len(rows) == NUDGES, "one delivery per nudge (one channel)"
    # Every nudge arrived exactly once, after the recovery; the occurrence says sent.
    assert outage.delivered() == Counter(f"Ritual {n}" for n in range(NUDGES))
    assert all(hit.at >= RECOVERS_AT for hit in outage.hits if hit.answered == 200)
    assert {row.status for row in rows.values()} == {DeliveryStatus.SENT}
    assert {home.occurrence(s).status for s in rituals} == {OccurrenceStatus.SENT}
    assert sum(len(t) for t in tries.values()) == sum(row.attempts for row in rows.values())

    # The tries of each delivery: spaced by the outbox's back-off, each wait longer than the last.
    spacings: dict[int, list[float]] = {}
    for delivery_id, times in tries.items():
        waits = [later - earlier for earlier, later in pairwise(times)]
        for retry, wait in enumerate(waits, start=1):
            low, high = backoff_bounds(retry)
            assert low <= wait <= high + STEP, (delivery_id, retry, wait, low, high)
        assert all(a < b for a, b in pairwise(waits)), waits
        spacings[delivery_id] = [w.total_seconds() for w in waits]

    # What the receiver saw adds up: every try after it listened is a request; refused ones are not.
    listened = sum(1 for times in tries.values() for t in times if t >= LISTENS_AT)
    assert len(outage.hits) == listened
    answers = Counter(hit.answered for hit in outage.hits)
    assert answers[200] == NUDGES

    # After the hour nothing is left to send, and nothing is sent again.
    home.clock.advance(timedelta(days=1))
    assert home.outbox.deliver_due() == 0
    assert len(outage.hits) == listened

    arrived = {hit.title: hit.at for hit in outage.hits if hit.answered == 200}
    recovery = [(arrived[f"Ritual {n}"] - RECOVERS_AT).total_seconds() for n in range(NUDGES)]
    refused = sum(1 for times in tries.values() for t in times if t < LISTENS_AT)
    figures(
        "channel outage: refused, then 503, then 200",
        nudges=NUDGES,
        outage=f"refused {DUE:%H:%M}-{LISTENS_AT:%H:%M}, 503 until {RECOVERS_AT:%H:%M}, then 200",
        step=f"{STEP.total_seconds():.0f} s of fake time per deliver_due",
        tries=f"{sum(len(t) for t in tries.values())} ({refused} refused, {answers[503]} got 503, "
        f"{answers[200]} got 200)",
        tries_per_nudge=sorted(len(t) for t in tries.values()),
        spacing_s_first_nudge=spacings[min(spacings)],
        spacing_s_last_nudge=spacings[max(spacings)],
        delivered_after_recovery_s=f"min {min(recovery):.0f}, max {max(recovery):.0f}",
        delivered_exactly_once=f"{len(arrived)}/{NUDGES}",
    )
