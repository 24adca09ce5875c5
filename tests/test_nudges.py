"""The nudge path under a fake clock: exactly once per key, through DST, downtime and races."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from scheduler.adapters.store import SqlStore
from scheduler.app.nudging import DigestPlan, Handled, Nudger
from scheduler.app.service import RitualService
from scheduler.app.stored import OccurrenceStatus, StoredRitual
from scheduler.domain.firing import Decision
from tests.support.nudging import World


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    made = World(tmp_path, datetime(2026, 1, 1, tzinfo=UTC))
    yield made
    made.store.close()


# -- DST: exactly one nudge a day, at the documented time ----------------------------------------

DST_DAYS = [
    # zone, the change day, the local time the 02:30 nudge goes out that day
    ("Europe/Berlin", date(2026, 3, 29), "03:00"),  # spring: 02:30 does not exist; first valid minute
    ("Europe/Berlin", date(2026, 10, 25), "02:30"),  # fall: 02:30 happens twice; once, the first
    ("Europe/Berlin", date(2027, 3, 28), "03:00"),
    ("Europe/Berlin", date(2027, 10, 31), "02:30"),
    ("America/New_York", date(2026, 3, 8), "03:00"),
    ("America/New_York", date(2026, 11, 1), "02:30"),
    ("America/New_York", date(2027, 3, 14), "03:00"),
    ("America/New_York", date(2027, 11, 7), "02:30"),
]


@pytest.mark.parametrize(("zone", "change", "local_time"), DST_DAYS, ids=str)
def test_a_0230_ritual_fires_once_a_day_across_dst(
    tmp_path: Path, zone: str, change: date, local_time: str
) -> None:
    tz = ZoneInfo(zone)
    start = datetime.combine(change - timedelta(days=2), datetime.min.time(), tz)
    world = World(tmp_path, start)
    stored = world.add(timezone=zone, at="02:30")
    world.run_until(stored, start + timedelta(days=5))
    fired = world.occurrences(stored)
    days = [o.day for o in fired]
    assert days == [change + timedelta(days=n) for n in range(-2, 3)], "one occurrence per day"
    assert len(world.outbox.sent) == 5
    on_change = next(o for o in fired if o.day == change)
    assert f"{on_change.due_at.astimezone(tz):%H:%M}" == local_time
    for other in fired:
        if other.day != change:
            assert f"{other.due_at.astimezone(tz):%H:%M}" == "02:30"
    world.store.close()


# -- downtime --------------------------------------------------------------------------------------


def at(hhmm: str, day: int = 24) -> datetime:
    hour, minute = map(int, hhmm.split(":"))
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


@pytest.fixture
def nine(world: World) -> StoredRitual:
    """A daily 09:00 ritual (UTC, grace 2h) whose 23 Nov nudge went out on time."""
    stored = world.add(at="09:00", timezone="UTC")
    world.clock.set(at("09:00", 23))
    world.nudger.handle_due(stored)
    world.outbox.sent.clear()
    return stored


def test_stopped_before_and_started_within_grace_sends_one_late_nudge(
    world: World, nine: StoredRitual
) -> None:
    world.clock.set(at("08:55"))
    assert world.nudger.handle_due(nine).verdicts == ()
    world.clock.set(at("09:20"))  # down from 08:55 to 09:20
    handled = world.nudger.handle_due(nine)
    assert [(v.decision, v.note) for v in handled.verdicts] == [(Decision.LATE, "sent 20 min late")]
    assert world.outbox.sent == [("talk", date(2026, 11, 24), "09:00", Decision.LATE)]
    assert world.occurrences(nine)[-1].status is OccurrenceStatus.LATE


def test_started_past_the_grace_records_missed_and_sends_nothing(world: World, nine: StoredRitual) -> None:
    world.clock.set(at("11:30"))
    handled = world.nudger.handle_due(nine)
    assert [v.decision for v in handled.verdicts] == [Decision.MISSED]
    assert world.outbox.sent == []
    assert world.occurrences(nine)[-1].status is OccurrenceStatus.MISSED


def test_three_days_down_sends_at_most_one_catch_up(world: World, nine: StoredRitual) -> None:
    world.clock.set(at("10:00", 26))
    handled = world.nudger.handle_due(nine)
    decisions = [(v.nudge.day, v.decision) for v in handled.verdicts]
    assert decisions == [
        (date(2026, 11, 24), Decision.MISSED),
        (date(2026, 11, 25), Decision.MISSED),
        (date(2026, 11, 26), Decision.LATE),
    ]
    assert len(world.outbox.sent) == 1
    world.clock.set(at("10:01", 26))
    assert world.nudger.handle_due(nine).verdicts == ()  # a second look sends nothing more


def test_a_kept_period_suppresses_its_nudge(world: World, nine: StoredRitual) -> None:
    world.clock.set(at("08:00"))
    world.service.record_done("talk")
    world.clock.set(at("09:00"))
    handled = world.nudger.handle_due(nine)
    assert [v.decision for v in handled.verdicts] == [Decision.SUPPRESSED]
    assert world.outbox.sent == []


def test_a_paused_day_is_recorded_not_sent(world: World, nine: StoredRitual) -> None:
    world.service.pause("talk", start=date(2026, 11, 24), until=date(2026, 11, 24))
    world.clock.set(at("09:00"))
    assert [v.decision for v in world.nudger.handle_due(nine).verdicts] == [Decision.PAUSED]
    assert world.outbox.sent == []


def test_nag_goes_out_only_while_the_period_is_not_kept(world: World) -> None:
    stored = world.add(at="20:30", nag_after="90m", timezone="UTC")
    world.run_until(stored, at("22:01"))
    assert [(s[2], s[3]) for s in world.outbox.sent if s[1] == date(2026, 11, 24)] == [
        ("20:30", Decision.SEND),
        ("nag/20:30", Decision.SEND),
    ]
    world.outbox.sent.clear()
    world.run_until(stored, at("21:00", 25))
    world.service.record_done("talk")
    world.run_until(stored, at("23:00", 25))
    day_25 = [(o.slot, o.status) for o in world.occurrences(stored) if o.day == date(2026, 11, 25)]
    assert day_25 == [("20:30", OccurrenceStatus.SENT), ("nag/20:30", OccurrenceStatus.SUPPRESSED)]


def test_a_clock_jumping_back_sends_nothing_twice(world: World, nine: StoredRitual) -> None:
    world.clock.set(at("09:00"))
    world.nudger.handle_due(nine)
    world.clock.set(at("08:00"))  # back an hour
    assert world.nudger.handle_due(nine).verdicts == ()
    world.run_until(nine, at("09:30"))
    assert len(world.outbox.sent) == 1


def test_two_paths_racing_for_one_key_send_once(world: World, nine: StoredRitual, tmp_path: Path) -> None:
    """The daemon's timer and its reconcile tick (here: two stores, two threads) race for one key."""
    world.clock.set(at("09:00"))
    second_store = SqlStore.open(f"sqlite:///{tmp_path / 'ritual.db'}")
    second = RitualService(second_store, world.clock, ritual_file=tmp_path / "x.toml", default_timezone="UTC")
    nudgers = [world.nudger, Nudger(second, world.outbox, world.clock)]
    barrier = threading.Barrier(2)

    def race(nudger: Nudger) -> None:
        barrier.wait()
        nudger.handle_due(nine)

    threads = [threading.Thread(target=race, args=(n,)) for n in nudgers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    second_store.close()
    assert world.outbox.sent == [("talk", date(2026, 11, 24), "09:00", Decision.SEND)]


def test_a_ritual_added_after_its_time_owes_no_late_nudge_today(world: World) -> None:
    world.clock.set(at("09:20"))
    stored = world.add(at="09:00", timezone="UTC")
    assert world.nudger.handle_due(stored).verdicts == ()
    assert world.nudger.next_wakeup(stored) == at("09:00", 25)


# -- the weekly digest ---------------------------------------------------------------------------


def test_the_weekly_digest_goes_out_once_at_its_time(world: World) -> None:
    world.nudger.digest = DigestPlan.weekly("sun", "18:00", "Europe/Berlin")
    sunday = datetime(2026, 11, 29, 17, 0, tzinfo=UTC)  # 18:00 in Berlin
    world.clock.set(sunday - timedelta(minutes=1))
    assert world.nudger.handle_digest() == ()
    assert world.nudger.next_digest() == sunday
    world.clock.set(sunday)
    assert [v.decision for v in world.nudger.handle_digest()] == [Decision.SEND]
    assert world.nudger.handle_digest() == ()
    assert world.outbox.sent == [("household", date(2026, 11, 29), "digest", Decision.SEND)]
    assert world.nudger.next_digest() == sunday + timedelta(days=7)


def test_a_digest_missed_by_a_long_downtime_is_recorded_not_sent(world: World) -> None:
    world.nudger.digest = DigestPlan.weekly("sun", "18:00", "UTC")
    world.clock.set(datetime(2026, 11, 22, 18, 0, tzinfo=UTC))
    world.nudger.handle_digest()
    world.outbox.sent.clear()
    world.clock.set(datetime(2026, 11, 29, 18, 30, tzinfo=UTC))  # within the grace: late
    assert [v.note for v in world.nudger.handle_digest()] == ["sent 30 min late"]
    world.clock.set(datetime(2026, 12, 6, 23, 0, tzinfo=UTC))  # five hours late: missed
    assert [v.decision for v in world.nudger.handle_digest()] == [Decision.MISSED]
    assert len(world.outbox.sent) == 1


def test_no_digest_goes_out_while_the_whole_household_is_paused(world: World) -> None:
    world.nudger.digest = DigestPlan.weekly("sun", "18:00", "UTC")
    world.service.pause(None, start=date(2026, 11, 28), until=date(2026, 11, 30), reason="away")
    world.clock.set(datetime(2026, 11, 29, 18, 0, tzinfo=UTC))
    assert [v.decision for v in world.nudger.handle_digest()] == [Decision.PAUSED]
    world.clock.set(datetime(2026, 12, 6, 18, 0, tzinfo=UTC))  # back home: the next one goes out
    assert [v.decision for v in world.nudger.handle_digest()] == [Decision.SEND]
    assert world.outbox.sent == [("household", date(2026, 12, 6), "digest", Decision.SEND)]


# -- many rituals due at one instant: one batch decides as one ritual at a time would ------------


def _household(world: World) -> list[StoredRitual]:
    """Six 09:00 rituals whose nudges on 24 Nov get every kind of verdict."""
    made = {}
    extras: list[tuple[str, dict[str, object]]] = [
        ("plain", {}),
        ("kept", {}),
        ("paused", {}),
        ("weekly", {"every": "week", "times": 2}),  # kept by Monday's two completions
        ("down", {}),  # last nudged three days before
        ("twice", {"complete_when": "both", "people": ["alex", "sam"]}),  # half done: still nudged
    ]
    for name, extra in extras:
        made[name] = world.add(name=name, at="09:00", timezone="UTC", **extra)
    world.clock.set(at("09:00", 21))
    world.nudger.handle_due(made["down"])
    world.clock.set(at("09:00", 23))
    for name in ("plain", "kept", "paused", "weekly", "twice"):
        world.nudger.handle_due(made[name])
    world.clock.set(at("18:00", 23))
    world.service.record_done("weekly", by="alex")
    world.service.record_done("weekly", by="sam")
    world.clock.set(at("08:00"))
    world.service.record_done("kept")
    world.service.record_done("twice", by="alex")
    world.service.pause("paused", start=date(2026, 11, 24), until=date(2026, 11, 24))
    world.outbox.sent.clear()
    world.outbox.batches.clear()
    world.clock.set(at("09:20"))  # the batch runs 20 min late: within the grace
    return list(made.values())


def _outcome_of(world: World, rituals: Sequence[StoredRitual]) -> list[tuple[str, date, str, str, str]]:
    return sorted(
        (stored.name, o.day, o.slot, o.status.value, o.note)
        for stored in rituals
        for o in world.occurrences(stored)
        if o.day >= date(2026, 11, 22)
    )


def test_a_batch_decides_exactly_as_one_ritual_at_a_time(tmp_path: Path) -> None:
    alone = World(tmp_path / "alone", datetime(2026, 11, 1, tzinfo=UTC))
    batch = World(tmp_path / "batch", datetime(2026, 11, 1, tzinfo=UTC))
    try:
        one_by_one = [alone.nudger.handle_due(stored) for stored in _household(alone)]
        together = batch.nudger.handle_due_many(_household(batch))
        assert together == one_by_one
        assert _outcome_of(batch, _household_names(batch)) == _outcome_of(alone, _household_names(alone))
        decided = {h.ritual: [v.decision for v in h.verdicts] for h in together}
        assert decided == {
            "plain": [Decision.LATE],
            "kept": [Decision.SUPPRESSED],
            "paused": [Decision.PAUSED],
            "weekly": [Decision.SUPPRESSED],
            "down": [Decision.MISSED, Decision.MISSED, Decision.LATE],
            "twice": [Decision.LATE],
        }
        assert sorted(batch.outbox.sent) == sorted(alone.outbox.sent)
        assert batch.outbox.batches == [3], "one delivery call for every nudge sent"
        assert batch.nudger.handle_due_many(_household_names(batch)) == [
            Handled(stored.name, ()) for stored in _household_names(batch)
        ], "a second look claims nothing"
    finally:
        alone.store.close()
        batch.store.close()


def _household_names(world: World) -> list[StoredRitual]:
    return [s for s in world.store.list_rituals() if s.name != "talk"]
