"""A year of the time contract: the daemon sends exactly what `ritual next` listed beforehand.

A ritual file holds rituals in zones whose clocks jump (Berlin, New York, Lord Howe's half
hour, Santiago's midnight, Apia), each with one of the issue's rules at work: a nag that quiet
hours hold past its grace, quiet hours ending in a repeated hour, heads-ups and nags in days and
weeks, times before ``day_starts_at``, cron and rrule, an every-other-week ritual and a pause
planned ahead. At the start `ritual next --days 366 --json` (the real command, on the same
database and fake clock) lists the year; then the real daemon runs in-process (the Daemon on a
thread, a FakeClock, a recording outbox) and the clock jumps from each armed timer to the next,
as APScheduler would wake it. Every nudge sent, its key and the instant it went out, must be one
that was listed, at the listed instant, and every listed one must be sent; what is not sent is
recorded (missed past its grace, or paused), never lost.

CI runs a year; RITUAL_SCENARIO_SCALE=full runs two, from another start.
"""

from __future__ import annotations

import time as walltime
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from scheduler.adapters.store import SqlStore
from scheduler.app.stored import OccurrenceRecord, OccurrenceStatus
from tests.conftest import RitualCli
from tests.scenarios.conftest import figures, scaled
from tests.support.daemon import InProcess, wait_for

pytestmark = pytest.mark.slow

# Far from the real clock, so no real APScheduler timer can go off; a year from here holds every
# zone's clock changes. A full run starts mid-year and runs two.
# Half a minute off the minute grid, so no nudge is due at the very instant `ritual next` starts from.
START = scaled(datetime(2031, 1, 1, 12, 0, 30, tzinfo=UTC), datetime(2032, 6, 15, 12, 0, 30, tzinfo=UTC))
YEARS = scaled(1, 2)
# Four days around a Thursday, planned ahead, for the every-other-week ritual.
PAUSE = scaled((date(2031, 3, 26), date(2031, 3, 29)), (date(2032, 9, 29), date(2032, 10, 2)))

RITUALS = f"""
[[ritual]]
name = "berlin-talk"        # issue 1: the 23:00 nag is held to 07:00, past its 2 h grace
timezone = "Europe/Berlin"
at = "21:30"
nag_after = "90m"
quiet_hours = "22:00-07:00"

[[ritual]]
name = "santiago-late"      # issue 2: quiet hours ending in the hour repeated at midnight
timezone = "America/Santiago"
at = "23:15"
nag_after = "1h"
quiet_hours = "23:00-23:45"

[[ritual]]
name = "berlin-sunday"      # issue 3: a day before on the wall clock; a nag a day and 2 h after
timezone = "Europe/Berlin"
every = "week"
on = "sun"
at = "19:15"
remind_before = "1d"
nag_after = "1d2h"

[[ritual]]
name = "santiago-week"      # issue 3: a week before, across the midnight gap
timezone = "America/Santiago"
every = "week"
on = "sun"
at = "00:15"
remind_before = "1w"

[[ritual]]
name = "lord-howe-night"    # issue 4: night times in their ritual day, in the half-hour changes
timezone = "Australia/Lord_Howe"
day_starts_at = "03:00"
at = ["20:00", "01:45", "02:15"]
nag_after = "30m"
quiet_hours = "02:20-02:50"

[[ritual]]
name = "new-york-friday"    # issue 4: weekly on fri at 01:30 is the night after Friday
timezone = "America/New_York"
day_starts_at = "03:00"
every = "week"
on = "fri"
at = "01:30"
remind_before = "2h"
nag_after = "1d"

[[ritual]]
name = "apia-cron"          # cron keeps its days; times before 01:30 count for the day before
timezone = "Pacific/Apia"
day_starts_at = "01:30"
cron = "15 0,1,2 * * 1-5"
nag_after = "45m"

[[ritual]]
name = "new-york-rrule"     # an rrule counts from start; 01:30 and 02:30 on the first Sunday
timezone = "America/New_York"
rrule = "FREQ=MONTHLY;BYDAY=1SU;BYHOUR=1,2;BYMINUTE=30"
start = "{START.date().isoformat()}"

[[ritual]]
name = "berlin-fortnight"   # interval: both on days of every other week; paused ahead once
timezone = "Europe/Berlin"
every = "week"
interval = 2
on = ["tue", "thu"]
at = "07:00"
remind_before = "1d"
quiet_hours = "06:00-07:30"
catch_up_grace = "1h"
"""

Key = tuple[str, date, str]


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[InProcess]:
    made = InProcess(tmp_path, START)
    made.settings.config_dir.mkdir(parents=True)
    (made.settings.config_dir / "rituals.toml").write_text(RITUALS, encoding="utf-8")
    yield made
    made.stop()


def recorded(daemon: InProcess) -> list[tuple[str, OccurrenceRecord]]:
    store = SqlStore.open(daemon.settings.database)
    try:
        names = {s.id: s.name for s in store.list_rituals()}
        return [(names[o.ritual_id or 0], o) for o in store.occurrences()]
    finally:
        store.close()


@pytest.mark.timeout(900)  # a year of wakeups: about half a minute alone, more beside other tests
def test_a_year_of_nudges_is_exactly_what_next_listed(tmp_path: Path, daemon: InProcess) -> None:
    cli = RitualCli(tmp_path, daemon.clock)  # the same config, data dir and clock as the daemon
    cli.env["RITUAL_TIMEZONE"] = "UTC"
    cli("pause", "berlin-fortnight", "--from", PAUSE[0].isoformat(), "--until", PAUSE[1].isoformat())
    listed: dict[Key, datetime] = {}
    for year in range(YEARS):
        daemon.clock.set(START + timedelta(days=366 * year))
        for item in cli.json("next", "--days", "366"):
            key = (item["name"], date.fromisoformat(item["day"]), item["slot"])
            assert key not in listed, f"{key} listed twice"
            listed[key] = datetime.fromisoformat(item["due"])
    end = START + timedelta(days=366 * YEARS)
    daemon.clock.set(START)

    daemon.start()
    assert wait_for(lambda: daemon.daemon._scheduler is not None and daemon.daemon._scheduler.running, 20)
    began, wakeups, last = walltime.monotonic(), 0, START
    while True:
        when = min(daemon.daemon.timers, default=None)
        if when is None or when > end:
            break
        assert when > last, f"the timer at {when} did not move on"
        daemon.clock.set(when)  # APScheduler would wake the daemon now: its tick fires the timer
        daemon.daemon.tick()
        wakeups, last = wakeups + 1, when
    took = walltime.monotonic() - began

    occurrences = recorded(daemon)
    sent = {
        (name, o.day, o.slot): o
        for name, o in occurrences
        if o.status in (OccurrenceStatus.SENT, OccurrenceStatus.LATE)
    }
    assert len(sent) == len(daemon.sent), "each key reached the outbox once"
    assert {key: o.due_at for key, o in sent.items()} == listed
    for o in sent.values():
        assert o.status is OccurrenceStatus.SENT and o.created_at == o.due_at, o  # at the listed instant
    not_sent = [
        (name, o) for name, o in occurrences if o.status not in (OccurrenceStatus.SENT, OccurrenceStatus.LATE)
    ]
    assert {(name, o.status) for name, o in not_sent} == {
        ("berlin-talk", OccurrenceStatus.MISSED),  # the nags quiet hours held past the grace
        ("berlin-fortnight", OccurrenceStatus.PAUSED),
    }
    for _, o in not_sent:
        if o.status is OccurrenceStatus.MISSED:
            assert o.slot == "nag/21:30" and o.note.startswith("missed: quiet hours held it "), o
        else:
            assert PAUSE[0] <= o.day <= PAUSE[1], o

    per_ritual = Counter(name for name, _, _ in sent)
    figures(
        "a year of the time contract",
        rituals=len(per_ritual),
        days=(end - START).days,
        wakeups=wakeups,
        listed_by_next=len(listed),
        sent_at_the_listed_instant=len(sent),
        recorded_not_sent=dict(Counter(str(o.status) for _, o in not_sent)),
        sent_per_ritual=dict(sorted(per_ritual.items())),
        seconds=f"{took:.1f}",
    )
