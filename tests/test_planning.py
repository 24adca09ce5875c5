"""The time contract (issue 14): what `ritual next` lists is what the daemon sends.

First the issue's examples, each with its decided outcome; then an upgrade across a nudge recorded
the old way; then properties over zones whose clocks jump: DST (Berlin, New York), half an hour
(Lord Howe), at midnight (Santiago), and Apia, which left out 30 December 2011 altogether.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.adapters.clock import FakeClock
from scheduler.app.nudging import ON_TIME
from scheduler.app.stored import OccurrenceKind, OccurrenceStatus, StoredRitual
from scheduler.domain import firing, planning
from scheduler.domain.cadence import local_instant, ritual_date
from scheduler.domain.definitions import Ritual, ritual_from_table
from scheduler.domain.firing import Decision
from scheduler.domain.reminders import Nudge, NudgeKind
from tests.conftest import RitualCli
from tests.support.nudging import World

BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"
LORD_HOWE = "Australia/Lord_Howe"
SANTIAGO = "America/Santiago"
APIA = "Pacific/Apia"
ZONES = [BERLIN, NEW_YORK, LORD_HOWE, SANTIAGO, APIA]


def ritual(**table: Any) -> Ritual:
    return ritual_from_table({"name": "talk", **table})


def local(zone: str, text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone))


def shown(zone: str, nudges: Iterable[Nudge]) -> list[tuple[str, str, str]]:
    """Nudges as (local time with its offset, day, slot), readable next to the expectation."""
    tz = ZoneInfo(zone)
    return [(f"{n.due.astimezone(tz):%a %Y-%m-%d %H:%M %z}", n.day.isoformat(), n.slot) for n in nudges]


def plan(table: dict[str, Any], after: str, until: str) -> list[tuple[str, str, str]]:
    zone = table["timezone"]
    return shown(zone, planning.nudges(ritual(**table), local(zone, after), local(zone, until)))


def never(_: object) -> bool:
    return False


# --- 1. quiet hours past the grace: not listed, recorded missed ---------------------------------

HELD_NAG = {"timezone": BERLIN, "at": "21:30", "nag_after": "90m", "quiet_hours": "22:00-07:00"}


def test_a_nag_held_past_its_grace_is_planned_but_not_listed() -> None:
    talk = ritual(**HELD_NAG)
    after, until = local(BERLIN, "2026-03-02 12:00"), local(BERLIN, "2026-03-03 12:00")
    planned = list(planning.nudges(talk, after, until))
    assert shown(BERLIN, planned) == [
        ("Mon 2026-03-02 21:30 +0100", "2026-03-02", "21:30"),
        ("Tue 2026-03-03 07:00 +0100", "2026-03-02", "nag/21:30"),  # meant for 23:00, held 8 h
    ]
    assert shown(BERLIN, planning.sendable(talk, after, until)) == shown(BERLIN, planned[:1])
    nag = planned[1]
    (verdict,) = firing.decide(
        [nag], now=nag.due, grace=talk.reminders.catch_up_grace, on_time=ON_TIME, kept=never, paused=never
    )
    assert (verdict.decision, verdict.note) == (
        Decision.MISSED,
        "missed: quiet hours held it 8 h, past its 2 h grace",
    )


def test_a_nag_held_within_its_grace_is_listed_at_the_end_of_the_quiet_hours() -> None:
    talk = ritual(**HELD_NAG | {"quiet_hours": "22:00-23:30"})
    after, until = local(BERLIN, "2026-03-02 12:00"), local(BERLIN, "2026-03-03 12:00")
    assert shown(BERLIN, planning.sendable(talk, after, until)) == [
        ("Mon 2026-03-02 21:30 +0100", "2026-03-02", "21:30"),
        ("Mon 2026-03-02 23:30 +0100", "2026-03-02", "nag/21:30"),
    ]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    made = World(tmp_path, local(BERLIN, "2026-03-02 12:00").astimezone(UTC))
    yield made
    made.store.close()


def listed(world: World, days: int) -> list[tuple[date, str, datetime]]:
    return [(u.nudge.day, u.nudge.slot, u.nudge.due) for u in world.service.upcoming(days)]


def sent(world: World, stored: StoredRitual) -> list[tuple[date, str, datetime]]:
    return [
        (o.day, o.slot, o.due_at)
        for o in world.occurrences(stored)
        if o.status in (OccurrenceStatus.SENT, OccurrenceStatus.LATE)
    ]


def test_the_daemon_sends_what_next_listed_and_records_the_held_nag_missed(world: World) -> None:
    stored = world.add(**HELD_NAG)
    before = listed(world, 3)
    world.run_until(stored, world.clock.now() + timedelta(days=3))
    assert sent(world, stored) == before
    assert {o.status for o in world.occurrences(stored) if o.slot == "nag/21:30"} == {OccurrenceStatus.MISSED}
    assert all(decision is Decision.SEND for *_, decision in world.outbox.sent)


def test_next_leaves_out_nudges_of_a_period_already_kept_and_of_paused_days(world: World) -> None:
    world.add(timezone=BERLIN, at="21:30", nag_after="90m")
    world.service.record_done("talk")  # today, Monday
    world.service.pause("talk", start=date(2026, 3, 4), until=date(2026, 3, 4))
    assert [(day.isoformat(), slot) for day, slot, _ in listed(world, 4)] == [
        ("2026-03-03", "21:30"),
        ("2026-03-03", "nag/21:30"),
        ("2026-03-05", "21:30"),
        ("2026-03-05", "nag/21:30"),
    ]


# --- 2. quiet hours ending in a repeated hour: they only delay ----------------------------------


def test_quiet_hours_ending_in_the_repeated_hour_never_move_a_nudge_earlier() -> None:
    """Santiago, the night of 4 April 2026: at midnight the clocks go back to 23:00."""
    talk = ritual(timezone=SANTIAGO, at="23:15", nag_after="1h", quiet_hours="23:00-23:45")
    after, until = local(SANTIAGO, "2026-04-04 12:00"), local(SANTIAGO, "2026-04-05 12:00")
    nudges = list(planning.nudges(talk, after, until))
    assert shown(SANTIAGO, nudges) == [
        ("Sat 2026-04-04 23:45 -0300", "2026-04-04", "23:15"),
        ("Sat 2026-04-04 23:45 -0400", "2026-04-04", "nag/23:15"),  # the second 23:45, an hour later
    ]
    due, nag = nudges
    assert (due.intended, nag.intended) == (
        datetime(2026, 4, 5, 2, 15, tzinfo=UTC),
        datetime(2026, 4, 5, 3, 15, tzinfo=UTC),
    )
    assert nag.due - due.due == timedelta(hours=1)
    assert list(planning.sendable(talk, after, until)) == nudges


# --- 3. days and weeks are calendar days on the wall clock; hours and minutes elapse ---------------

CALENDAR = [
    pytest.param(
        {"timezone": BERLIN, "every": "week", "on": "sun", "at": "19:15", "remind_before": "1d"},
        ("2026-03-27 00:00", "2026-03-30 00:00"),
        [
            ("Sat 2026-03-28 19:15 +0100", "2026-03-29", "before/19:15"),
            ("Sun 2026-03-29 19:15 +0200", "2026-03-29", "19:15"),
        ],
        id="1d before Sunday 19:15 is Saturday 19:15, across spring forward (Berlin)",
    ),
    pytest.param(
        {"timezone": BERLIN, "every": "week", "on": "sun", "at": "19:15", "remind_before": "1d"},
        ("2026-10-23 00:00", "2026-10-26 00:00"),
        [
            ("Sat 2026-10-24 19:15 +0200", "2026-10-25", "before/19:15"),
            ("Sun 2026-10-25 19:15 +0100", "2026-10-25", "19:15"),
        ],
        id="and across fall back (Berlin)",
    ),
    pytest.param(
        {"timezone": NEW_YORK, "every": "week", "on": "sun", "at": "19:15", "remind_before": "1d"},
        ("2026-03-06 00:00", "2026-03-09 00:00"),
        [
            ("Sat 2026-03-07 19:15 -0500", "2026-03-08", "before/19:15"),
            ("Sun 2026-03-08 19:15 -0400", "2026-03-08", "19:15"),
        ],
        id="and in New York",
    ),
    pytest.param(
        {"timezone": SANTIAGO, "every": "week", "on": "sun", "at": "00:15", "remind_before": "1w"},
        ("2026-08-29 00:00", "2026-09-13 12:00"),
        [
            ("Sun 2026-08-30 00:15 -0400", "2026-08-30", "00:15"),
            ("Sun 2026-08-30 00:15 -0400", "2026-09-06", "before/00:15"),
            ("Sun 2026-09-06 01:00 -0300", "2026-09-06", "00:15"),  # 00:00-01:00 does not exist
            ("Sun 2026-09-06 01:00 -0300", "2026-09-13", "before/00:15"),  # a Sunday, not Saturday 23:15
            ("Sun 2026-09-13 00:15 -0300", "2026-09-13", "00:15"),
            ("Sun 2026-09-13 00:15 -0300", "2026-09-20", "before/00:15"),
        ],
        id="1w before lands on the same weekday, across Santiago's midnight gap",
    ),
    pytest.param(
        {"timezone": BERLIN, "every": "week", "on": "sat", "at": "19:15", "nag_after": "1d"},
        ("2026-03-28 00:00", "2026-03-30 00:00"),
        [
            ("Sat 2026-03-28 19:15 +0100", "2026-03-28", "19:15"),
            ("Sun 2026-03-29 19:15 +0200", "2026-03-28", "nag/19:15"),
        ],
        id="a nag 1d after Saturday 19:15 is Sunday 19:15",
    ),
    pytest.param(
        {"timezone": BERLIN, "every": "week", "on": "sat", "at": "19:15", "nag_after": "1d2h"},
        ("2026-03-28 00:00", "2026-03-30 00:00"),
        [
            ("Sat 2026-03-28 19:15 +0100", "2026-03-28", "19:15"),
            ("Sun 2026-03-29 21:15 +0200", "2026-03-28", "nag/19:15"),
        ],
        id="1d2h: a calendar day, then two hours",
    ),
    pytest.param(
        {"timezone": BERLIN, "at": "01:30", "nag_after": "2h"},
        ("2026-03-29 00:00", "2026-03-29 12:00"),
        [
            ("Sun 2026-03-29 01:30 +0100", "2026-03-29", "01:30"),
            ("Sun 2026-03-29 04:30 +0200", "2026-03-29", "nag/01:30"),
        ],
        id="hours are elapsed time: 2h after 01:30 on spring forward is 04:30",
    ),
    pytest.param(
        {"timezone": BERLIN, "at": "01:30", "nag_after": "2h"},
        ("2026-10-25 00:00", "2026-10-25 12:00"),
        [
            ("Sun 2026-10-25 01:30 +0200", "2026-10-25", "01:30"),
            ("Sun 2026-10-25 02:30 +0100", "2026-10-25", "nag/01:30"),
        ],
        id="and on fall back, the second 02:30",
    ),
    pytest.param(
        {"timezone": BERLIN, "every": "week", "on": "mon", "at": "02:30", "remind_before": "1d"},
        ("2026-03-28 00:00", "2026-03-31 00:00"),
        [
            ("Sun 2026-03-29 03:00 +0200", "2026-03-30", "before/02:30"),
            ("Mon 2026-03-30 02:30 +0200", "2026-03-30", "02:30"),
        ],
        id="a day-based heads-up in the gap comes at the first minute after it",
    ),
    pytest.param(
        {"timezone": BERLIN, "every": "week", "on": "sat", "at": "02:30", "nag_after": "1d"},
        ("2026-10-24 00:00", "2026-10-26 00:00"),
        [
            ("Sat 2026-10-24 02:30 +0200", "2026-10-24", "02:30"),
            ("Sun 2026-10-25 02:30 +0200", "2026-10-24", "nag/02:30"),
        ],
        id="a day-based nag on a repeated time comes at the first pass",
    ),
    pytest.param(
        {"timezone": LORD_HOWE, "every": "week", "on": "mon", "at": "02:15", "remind_before": "1d"},
        ("2026-10-03 00:00", "2026-10-06 00:00"),
        [
            ("Sun 2026-10-04 02:30 +1100", "2026-10-05", "before/02:15"),
            ("Mon 2026-10-05 02:15 +1100", "2026-10-05", "02:15"),
        ],
        id="Lord Howe's half-hour gap",
    ),
    pytest.param(
        {"timezone": LORD_HOWE, "every": "week", "on": "sat", "at": "01:45", "nag_after": "1d"},
        ("2026-04-04 00:00", "2026-04-06 00:00"),
        [
            ("Sat 2026-04-04 01:45 +1100", "2026-04-04", "01:45"),
            ("Sun 2026-04-05 01:45 +1100", "2026-04-04", "nag/01:45"),
        ],
        id="Lord Howe's repeated half hour",
    ),
]


@pytest.mark.parametrize(("table", "window", "expected"), CALENDAR)
def test_days_and_weeks_are_calendar_days(
    table: dict[str, Any], window: tuple[str, str], expected: list[tuple[str, str, str]]
) -> None:
    assert plan(table, *window) == expected


# --- 4. an `at` before day_starts_at lies inside its ritual day ----------------------------------

NIGHT = [
    pytest.param(
        {"timezone": BERLIN, "day_starts_at": "03:00", "at": ["20:30", "01:15"]},
        ("2026-03-02 12:00", "2026-03-03 23:00"),
        [
            ("Mon 2026-03-02 20:30 +0100", "2026-03-02", "20:30"),
            ("Tue 2026-03-03 01:15 +0100", "2026-03-02", "25:15"),  # Monday's, in the night after it
            ("Tue 2026-03-03 20:30 +0100", "2026-03-03", "20:30"),
        ],
        id="day D's 01:15 fires on D+1, labelled D",
    ),
    pytest.param(
        {"timezone": BERLIN, "day_starts_at": "03:00", "every": "week", "on": "fri", "at": "01:15"},
        ("2026-03-02 00:00", "2026-03-16 00:00"),
        [
            ("Sat 2026-03-07 01:15 +0100", "2026-03-06", "25:15"),
            ("Sat 2026-03-14 01:15 +0100", "2026-03-13", "25:15"),
        ],
        id="weekly on fri: the night after Friday",
    ),
    pytest.param(
        {
            "timezone": BERLIN,
            "day_starts_at": "03:00",
            "at": "01:15",
            "nag_after": "30m",
            "remind_before": "1d",
        },
        ("2026-03-02 00:00", "2026-03-03 03:00"),
        [
            ("Mon 2026-03-02 01:15 +0100", "2026-03-01", "25:15"),
            ("Mon 2026-03-02 01:15 +0100", "2026-03-02", "before/25:15"),
            ("Mon 2026-03-02 01:45 +0100", "2026-03-01", "nag/25:15"),
            ("Tue 2026-03-03 01:15 +0100", "2026-03-02", "25:15"),
            ("Tue 2026-03-03 01:15 +0100", "2026-03-03", "before/25:15"),
            ("Tue 2026-03-03 01:45 +0100", "2026-03-02", "nag/25:15"),
        ],
        id="its heads-up and nag share its day",
    ),
    pytest.param(
        {"timezone": BERLIN, "day_starts_at": "03:00", "cron": "15 1 * * *", "start": "2026-03-03"},
        ("2026-03-02 00:00", "2026-03-05 00:00"),
        [("Wed 2026-03-04 01:15 +0100", "2026-03-03", "cron/25:15")],
        id="cron keeps its calendar days; a time before the day starts counts for the day before",
    ),
]


@pytest.mark.parametrize(("table", "window", "expected"), NIGHT)
def test_a_time_before_the_day_starts_lies_in_its_ritual_day(
    table: dict[str, Any], window: tuple[str, str], expected: list[tuple[str, str, str]]
) -> None:
    assert plan(table, *window) == expected


def test_a_done_tapped_in_reply_to_a_night_nudge_counts_for_its_day(world: World) -> None:
    stored = world.add(timezone=BERLIN, day_starts_at="03:00", at="01:15", nag_after="30m")
    world.run_until(stored, local(BERLIN, "2026-03-03 01:20").astimezone(UTC))
    night = [o for o in world.occurrences(stored) if o.slot == "25:15"]
    assert [o.day for o in night] == [date(2026, 3, 2)]
    assert ritual_date(stored.ritual.cadence, night[0].due_at) == night[0].day
    done = world.service.record_done("talk").completion
    assert done.day == date(2026, 3, 2)
    world.run_until(stored, local(BERLIN, "2026-03-03 02:00").astimezone(UTC))
    nag = next(o for o in world.occurrences(stored) if o.slot == "nag/25:15" and o.day == date(2026, 3, 2))
    assert nag.status is OccurrenceStatus.SUPPRESSED


# --- an upgrade across nudges recorded by the planning before ----------------------------------------


def record_the_old_way(world: World, stored: StoredRitual, *old: tuple[str, str, str, str]) -> None:
    """Occurrences as the planning before recorded them: (day, slot, kind, local due time), sent."""
    for day, slot, kind, due in old:
        world.store.claim_occurrence(
            stored.id,
            day=date.fromisoformat(day),
            slot=slot,
            kind=OccurrenceKind(kind),
            due_at=local(BERLIN, due).astimezone(UTC),
            status=OccurrenceStatus.SENT,
            now=world.clock.now(),
        )


def test_an_upgrade_never_resends_a_night_nudge_recorded_under_its_calendar_day(world: World) -> None:
    """Before, the 01:15 nudge on calendar day X was keyed (X, "01:15"), its 1d heads-up
    (X+1, "before/01:15"); now they are ritual day X-1's "25:15" and day X's "before/25:15"."""
    stored = world.add(
        timezone=BERLIN, day_starts_at="03:00", at="01:15", nag_after="30m", remind_before="1d"
    )
    record_the_old_way(
        world,
        stored,
        ("2026-03-28", "01:15", "due", "2026-03-28 01:15"),
        ("2026-03-29", "before/01:15", "before", "2026-03-28 01:15"),
    )
    world.clock.set(local(BERLIN, "2026-03-28 01:20").astimezone(UTC))  # the new code starts
    world.run_until(stored, local(BERLIN, "2026-03-30 03:00").astimezone(UTC))
    new = sorted(Nudge(o.due_at, o.day, o.slot, NudgeKind.DUE) for o in world.occurrences(stored)[2:])
    assert shown(BERLIN, new) == [
        ("Sat 2026-03-28 01:45 +0100", "2026-03-27", "nag/25:15"),  # owed once, not sent before
        ("Sun 2026-03-29 01:15 +0100", "2026-03-28", "25:15"),
        ("Sun 2026-03-29 01:15 +0100", "2026-03-29", "before/25:15"),
        ("Sun 2026-03-29 01:45 +0100", "2026-03-28", "nag/25:15"),
        ("Mon 2026-03-30 01:15 +0200", "2026-03-29", "25:15"),
        ("Mon 2026-03-30 01:15 +0200", "2026-03-30", "before/25:15"),
        ("Mon 2026-03-30 01:45 +0200", "2026-03-29", "nag/25:15"),
    ]
    assert len(world.outbox.sent) == 7, "nothing at 01:15 on the 28th, sent before the upgrade"
    assert all(decision is Decision.SEND for *_, decision in world.outbox.sent)


def test_an_upgrade_never_resends_a_heads_up_that_moved_to_the_wall_clock(world: World) -> None:
    """Before, 1d before Sunday 19:15 across spring forward was 24 hours: Saturday 18:15."""
    stored = world.add(timezone=BERLIN, every="week", on="sun", at="19:15", remind_before="1d")
    record_the_old_way(world, stored, ("2026-03-29", "before/19:15", "before", "2026-03-28 18:15"))
    world.clock.set(local(BERLIN, "2026-03-28 18:20").astimezone(UTC))
    world.run_until(stored, local(BERLIN, "2026-03-30 12:00").astimezone(UTC))
    assert [(name, day.isoformat(), slot) for name, day, slot, _ in world.outbox.sent] == [
        ("talk", "2026-03-29", "19:15")  # and not the heads-up again at Saturday 19:15
    ]


# --- properties ---------------------------------------------------------------------------------


@cache
def transitions(zone: str) -> tuple[datetime, ...]:
    """The instants (UTC) at which the zone's offset changed, 2010-2028, to aim windows at."""
    tz = ZoneInfo(zone)
    found: list[datetime] = []
    low = datetime(2010, 1, 1, tzinfo=UTC)
    while low.year < 2028:
        high = low + timedelta(days=1)
        if low.astimezone(tz).utcoffset() != high.astimezone(tz).utcoffset():
            a, b = low, high
            while b - a > timedelta(minutes=1):
                middle = a + (b - a) / 2
                if middle.astimezone(tz).utcoffset() == a.astimezone(tz).utcoffset():
                    a = middle
                else:
                    b = middle
            found.append(b.replace(second=0, microsecond=0))
        low = high
    return tuple(found)


NEAR_CHANGES = ["00:00", "00:15", "00:30", "01:00", "01:15", "01:45", "02:00", "02:15", "02:30", "03:00"]
CLOCKS = [*NEAR_CHANGES, "07:00", "19:15", "21:30", "23:00", "23:15", "23:30", "23:59"]
clocks = st.sampled_from(CLOCKS)
durations = st.one_of(
    st.none(),
    st.integers(1, 12 * 60).map(lambda minutes: f"{minutes}m"),
    st.sampled_from(["1d", "2d", "1w", "1d2h", "1d30m"]),
)


@st.composite
def rituals(draw: st.DrawFn) -> Ritual:
    zone = draw(st.sampled_from(ZONES))
    table: dict[str, Any] = {
        "timezone": zone,
        "day_starts_at": draw(st.sampled_from(["00:00", "01:30", "03:00"])),
        "catch_up_grace": draw(st.sampled_from(["1h", "2h", "10h"])),
    }
    if draw(st.booleans()):
        table["cron"] = draw(st.sampled_from(["15 0,1,2 * * *", "30 23 * * 6,0", "0,30 1-3 * * *"]))
    else:
        table["at"] = draw(st.lists(clocks, min_size=1, max_size=3, unique=True))
        every = draw(st.sampled_from(["day", "week"]))
        table["every"] = every
        if every == "week" or draw(st.booleans()):
            days = draw(
                st.lists(st.sampled_from(["mon", "fri", "sat", "sun"]), min_size=1, max_size=2, unique=True)
            )
            table["on"] = days
    for key in ("remind_before", "nag_after"):
        if (value := draw(durations)) is not None:
            table[key] = value
    if draw(st.booleans()):
        start, end = draw(st.lists(clocks, min_size=2, max_size=2, unique=True))
        table["quiet_hours"] = f"{start}-{end}"
    return ritual(**table)


@st.composite
def windows(draw: st.DrawFn, zone: str) -> tuple[datetime, datetime]:
    """A window of up to two weeks around one of the zone's clock changes."""
    change = draw(st.sampled_from(transitions(zone)))
    start = change - timedelta(minutes=draw(st.integers(0, 7 * 24 * 60)))
    return start, start + timedelta(minutes=draw(st.integers(1, 14 * 24 * 60)))


@st.composite
def cases(draw: st.DrawFn) -> tuple[Ritual, list[Nudge], datetime, datetime]:
    talk = draw(rituals())
    after, until = draw(windows(talk.cadence.timezone))
    return talk, list(planning.nudges(talk, after, until)), after, until


def meant(nudge: Nudge) -> datetime:
    return nudge.intended or nudge.due


@settings(max_examples=300, deadline=None)
@given(cases())
def test_nudges_are_strictly_ordered_and_each_key_comes_once(
    case: tuple[Ritual, list[Nudge], datetime, datetime],
) -> None:
    _, nudges, after, until = case
    assert all(after < n.due <= until for n in nudges)
    order = [(n.due, meant(n), n.slot, n.day) for n in nudges]
    assert all(a < b for a, b in pairwise(order)), "strictly increasing"
    assert len({(n.day, n.slot) for n in nudges}) == len(nudges)


@settings(max_examples=300, deadline=None)
@given(cases())
def test_quiet_hours_only_delay_and_never_reorder(
    case: tuple[Ritual, list[Nudge], datetime, datetime],
) -> None:
    talk, nudges, _, _ = case
    assert all(n.due >= meant(n) for n in nudges)
    assert [meant(n) for n in nudges] == sorted(meant(n) for n in nudges), "out of the order meant"
    quiet = talk.reminders.quiet_hours
    tz = talk.cadence.zone
    for n in nudges:
        if n.intended is not None:  # held: released when the quiet hours end, or after their gap
            assert quiet is not None
            local = n.due.astimezone(tz)
            assert local.time() == quiet[1] or any(
                not _exists(tz, local.date() - timedelta(days=back), quiet[1]) for back in (0, 1)
            )


def _exists(tz: ZoneInfo, day: date, wall: time) -> bool:
    """Whether the wall clock reads ``wall`` on ``day`` (not in a gap)."""
    return local_instant(tz, day, wall).astimezone(tz).replace(tzinfo=None) == datetime.combine(day, wall)


def _slot_wall(slot: str) -> tuple[time, int]:
    """A slot's wall-clock time and how many days after its ritual day it lies: "nag/25:15" is (01:15, 1)."""
    hours, minutes = map(int, slot.rpartition("/")[2].split(":"))
    return time(hours % 24, minutes), hours // 24


@settings(max_examples=300, deadline=None)
@given(cases())
def test_a_day_or_week_heads_up_or_nag_keeps_the_wall_clock_time(
    case: tuple[Ritual, list[Nudge], datetime, datetime],
) -> None:
    talk, nudges, _, _ = case
    reminders, tz = talk.reminders, talk.cadence.zone
    for n in nudges:
        offset = {NudgeKind.BEFORE: reminders.remind_before, NudgeKind.NAG: reminders.nag_after}.get(n.kind)
        if offset is None or offset.days == 0 or offset % timedelta(days=1):
            continue  # minutes and hours elapse; tested by example
        wall, later = _slot_wall(n.slot)
        sign = -1 if n.kind is NudgeKind.BEFORE else 1
        day = n.day + timedelta(days=later) + sign * offset
        assert meant(n) == local_instant(tz, day, wall)
        if _exists(tz, day, wall):
            assert meant(n).astimezone(tz).time() == wall
            assert meant(n).astimezone(tz).date() == day


@settings(max_examples=300, deadline=None)
@given(cases())
def test_a_due_nudge_lies_in_the_ritual_day_it_is_labelled(
    case: tuple[Ritual, list[Nudge], datetime, datetime],
) -> None:
    """So a Done tapped in reply counts for the day the nudge was for. Not asserted where the
    clock skips the nudge's time or the day's start (then the plan's label stands)."""
    talk, nudges, _, _ = case
    cadence, tz = talk.cadence, talk.cadence.zone
    for n in nudges:
        if n.kind is not NudgeKind.DUE or n.intended is not None:
            continue
        wall, later = _slot_wall(n.slot)
        local = n.due.astimezone(tz)
        if not _exists(tz, n.day + timedelta(days=later), wall):
            continue  # its time fell in a gap
        if not _exists(tz, local.date(), cadence.day_starts_at) or any(
            abs(n.due - day_start) < timedelta(hours=2)
            for day_start in _passes_of(tz, local.date(), cadence.day_starts_at)
        ):
            continue
        assert ritual_date(cadence, n.due) == n.day


def _passes_of(tz: ZoneInfo, day: date, wall: time) -> list[datetime]:
    naive = datetime.combine(day, wall)
    return [naive.replace(tzinfo=tz, fold=fold).astimezone(UTC) for fold in (0, 1)]


@settings(max_examples=200, deadline=None)
@given(cases(), st.integers(1, 14 * 24 * 60))
def test_next_lists_what_the_daemon_sends_on_time(
    case: tuple[Ritual, list[Nudge], datetime, datetime], cut_minutes: int
) -> None:
    """Listed ahead (sendable) and decided at their time (firing), window by window: the same."""
    talk, nudges, after, until = case
    listed = list(planning.sendable(talk, after, until))
    grace = talk.reminders.catch_up_grace
    decided = [
        n
        for n in nudges
        for verdict in firing.decide([n], now=n.due, grace=grace, on_time=ON_TIME, kept=never, paused=never)
        if verdict.decision is Decision.SEND
    ]
    assert listed == decided
    assert all(firing.held_for(n) <= grace for n in listed)
    cut = min(after + timedelta(minutes=cut_minutes), until)
    assert [*planning.sendable(talk, after, cut), *planning.sendable(talk, cut, until)] == listed


def test_keys_give_a_night_nudge_its_old_key_too() -> None:
    due = datetime(2026, 3, 3, 0, 15, tzinfo=UTC)
    assert planning.keys(Nudge(due, date(2026, 3, 2), "nag/cron/25:15", NudgeKind.NAG)) == (
        (date(2026, 3, 2), "nag/cron/25:15"),
        (date(2026, 3, 3), "nag/cron/01:15"),
    )
    assert planning.keys(Nudge(due, date(2026, 3, 2), "20:30", NudgeKind.DUE)) == (
        (date(2026, 3, 2), "20:30"),
    )
    assert planning.keys(Nudge(due, date(2026, 3, 2), "digest", NudgeKind.DUE)) == (
        (date(2026, 3, 2), "digest"),
    )


# --- the README's other promises ------------------------------------------------------------------


def test_next_on_the_cli_lists_a_heads_up_on_the_wall_clock_across_dst(tmp_path: Path) -> None:
    """README, "The daemon": New York, 6 March 2026, a Sunday 19:15 ritual with a 1d heads-up."""
    cli = RitualCli(tmp_path, FakeClock(local(NEW_YORK, "2026-03-06 12:00")))
    cli.config.mkdir(parents=True)
    (cli.config / "rituals.toml").write_text(
        '[[ritual]]\nname = "sunday"\ntimezone = "America/New_York"\nevery = "week"\non = "sun"\n'
        'at = "19:15"\nremind_before = "1d"\n',
        encoding="utf-8",
    )
    listed = [(item["local"], item["day"], item["slot"]) for item in cli.json("next", "--days", "3")]
    assert listed == [
        ("2026-03-07T19:15:00-05:00", "2026-03-08", "before/19:15"),
        ("2026-03-08T19:15:00-04:00", "2026-03-08", "19:15"),
    ]
    assert "366" in cli("next", "--days", "367", code=2).stderr


def test_24h_is_1d() -> None:
    table = {"timezone": BERLIN, "every": "week", "on": "sun", "at": "19:15"}
    assert ritual(**table, remind_before="24h") == ritual(**table, remind_before="1d")


def test_with_interval_every_on_day_of_the_period_is_nudged_until_one_completion_keeps_it(
    world: World,
) -> None:
    world.add(timezone=BERLIN, every="week", interval=2, on=["tue", "thu"], at="07:00", start="2026-03-02")
    assert [(day.isoformat(), slot) for day, slot, _ in listed(world, 14)] == [
        ("2026-03-03", "07:00"),
        ("2026-03-05", "07:00"),
        ("2026-03-10", "07:00"),
        ("2026-03-12", "07:00"),
    ]
    world.service.record_done("talk")  # Monday: the fortnight 2 to 15 March is kept
    assert listed(world, 15) == [
        (date(2026, 3, 17), "07:00", local(BERLIN, "2026-03-17 07:00").astimezone(UTC))
    ]


def test_a_weekly_ritual_without_on_is_nudged_daily_until_its_week_is_kept(world: World) -> None:
    world.add(timezone=BERLIN, every="week", at="19:00")
    assert [day.isoformat() for day, _, _ in listed(world, 7)] == [
        "2026-03-02",
        "2026-03-03",
        "2026-03-04",
        "2026-03-05",
        "2026-03-06",
        "2026-03-07",
        "2026-03-08",
    ]
    world.service.record_done("talk")
    assert [day.isoformat() for day, _, _ in listed(world, 8)] == ["2026-03-09"]


def test_on_does_not_filter_an_rrule() -> None:
    table = {"timezone": BERLIN, "on": "weekdays", "rrule": "FREQ=WEEKLY;BYDAY=SA;BYHOUR=9;BYMINUTE=0"}
    assert plan(table, "2026-03-02 00:00", "2026-03-09 00:00") == [
        ("Sat 2026-03-07 09:00 +0100", "2026-03-07", "rrule/09:00")
    ]


def test_an_rrule_counts_from_the_start_or_else_from_2001() -> None:
    counted = {"timezone": BERLIN, "rrule": "FREQ=DAILY;COUNT=2;BYHOUR=9;BYMINUTE=0"}
    assert plan(counted | {"start": "2026-03-03"}, "2026-03-01 00:00", "2026-03-10 00:00") == [
        ("Tue 2026-03-03 09:00 +0100", "2026-03-03", "rrule/09:00"),
        ("Wed 2026-03-04 09:00 +0100", "2026-03-04", "rrule/09:00"),
    ]
    assert plan(counted, "2026-03-01 00:00", "2026-03-10 00:00") == []  # its two were in January 2001
    assert plan(counted, "2001-01-01 00:00", "2001-01-10 00:00") == [
        ("Mon 2001-01-01 09:00 +0100", "2001-01-01", "rrule/09:00"),
        ("Tue 2001-01-02 09:00 +0100", "2001-01-02", "rrule/09:00"),
    ]
