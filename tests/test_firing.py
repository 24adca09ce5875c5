"""Firing: what the daemon sends and records for overdue nudges, downtime and quiet hours included."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.domain.cadence import Cadence
from scheduler.domain.firing import (
    DEFAULT_MAX_LOOKBACK,
    Decision,
    Verdict,
    decide,
    next_wakeup,
    overdue_window,
)
from scheduler.domain.reminders import Nudge, NudgeKind, Reminders, planned_nudges

BERLIN = ZoneInfo("Europe/Berlin")
DAILY = Cadence(timezone="Europe/Berlin")
GRACE = timedelta(hours=2)
ON_TIME = timedelta(seconds=60)

SEND, LATE, MISSED, SUPPRESSED, PAUSED = (
    Decision.SEND,
    Decision.LATE,
    Decision.MISSED,
    Decision.SUPPRESSED,
    Decision.PAUSED,
)


def local(text: str) -> datetime:
    """An aware time from a Berlin wall time, e.g. ``local("2026-03-02 09:20")``."""
    return datetime.fromisoformat(text).replace(tzinfo=BERLIN)


def at(*times: str, **rules: object) -> Reminders:
    return Reminders(at=tuple(time.fromisoformat(text) for text in times), **rules)  # type: ignore[arg-type]


def fire(
    reminders: Reminders,
    *,
    last: str | None,
    now: str,
    kept: Sequence[str] = (),
    paused: Sequence[str] = (),
) -> list[tuple[str, str, Decision, str]]:
    """What the daemon does at ``now``: window, planned nudges, verdicts, as readable rows."""
    now_at = local(now)
    after, until = overdue_window(None if last is None else local(last), now_at, lookback=GRACE)
    verdicts = decide(
        list(planned_nudges(DAILY, reminders, after, until)),
        now=now_at,
        grace=GRACE,
        on_time=ON_TIME,
        kept=lambda nudge: nudge.day.isoformat() in kept,
        paused=lambda day: day.isoformat() in paused,
    )
    return [
        (v.nudge.due.astimezone(BERLIN).strftime("%a %H:%M"), v.nudge.slot, v.decision, v.note)
        for v in verdicts
    ]


# --- the downtime cases of the issue: a 09:00 daily ritual, grace 2h -------------------------------
# 2026-03-02 is a Monday; the last recorded nudge is Sunday's 09:00 unless a case says otherwise.

NINE = at("09:00")
SUNDAY = "2026-03-01 09:00"

DOWNTIME = [
    pytest.param(
        NINE,
        SUNDAY,
        "2026-03-02 09:00:30",
        [("Mon 09:00", "09:00", SEND, "sent on time")],
        id="the timer fires 30 s late: on time",
    ),
    pytest.param(
        NINE,
        SUNDAY,
        "2026-03-02 09:01",
        [("Mon 09:00", "09:00", SEND, "sent on time")],
        id="exactly on_time late: still on time",
    ),
    pytest.param(
        NINE,
        SUNDAY,
        "2026-03-02 09:01:01",
        [("Mon 09:00", "09:00", LATE, "sent 1 min late")],
        id="a second past on_time: late",
    ),
    pytest.param(
        NINE,
        SUNDAY,
        "2026-03-02 09:20",
        [("Mon 09:00", "09:00", LATE, "sent 20 min late")],
        id="stopped 08:55, started 09:20: one late nudge",
    ),
    pytest.param(
        NINE,
        SUNDAY,
        "2026-03-02 11:00",
        [("Mon 09:00", "09:00", LATE, "sent 2 h late")],
        id="started exactly at the end of the grace: still sent",
    ),
    pytest.param(
        NINE,
        SUNDAY,
        "2026-03-02 11:30",
        [("Mon 09:00", "09:00", MISSED, "missed: 2 h 30 min late, past its 2 h grace")],
        id="stopped 08:55, started 11:30: missed, nothing sent",
    ),
    pytest.param(
        NINE,
        "2026-02-26 09:00",
        "2026-03-02 09:45",
        [
            ("Fri 09:00", "09:00", MISSED, "missed: 3 d 45 min late, past its 2 h grace"),
            ("Sat 09:00", "09:00", MISSED, "missed: 2 d 45 min late, past its 2 h grace"),
            ("Sun 09:00", "09:00", MISSED, "missed: 1 d 45 min late, past its 2 h grace"),
            ("Mon 09:00", "09:00", LATE, "sent 45 min late"),
        ],
        id="three days down, started within the grace of the newest: one catch-up",
    ),
    pytest.param(
        NINE,
        "2026-02-26 09:00",
        "2026-03-02 11:30",
        [
            ("Fri 09:00", "09:00", MISSED, "missed: 3 d 2 h 30 min late, past its 2 h grace"),
            ("Sat 09:00", "09:00", MISSED, "missed: 2 d 2 h 30 min late, past its 2 h grace"),
            ("Sun 09:00", "09:00", MISSED, "missed: 1 d 2 h 30 min late, past its 2 h grace"),
            ("Mon 09:00", "09:00", MISSED, "missed: 2 h 30 min late, past its 2 h grace"),
        ],
        id="three days down, started past every grace: nothing sent",
    ),
    pytest.param(
        at("09:00", "10:00"),
        "2026-03-01 10:00",
        "2026-03-02 10:30",
        [
            ("Mon 09:00", "09:00", MISSED, "missed: superseded by '2026-03-02 10:00'"),
            ("Mon 10:00", "10:00", LATE, "sent 30 min late"),
        ],
        id="two nudges within the grace: only the newest is sent",
    ),
    pytest.param(
        NINE,
        None,
        "2026-03-02 09:20",
        [("Mon 09:00", "09:00", LATE, "sent 20 min late")],
        id="first start ever, within the grace: the late nudge goes out",
    ),
    pytest.param(
        NINE,
        None,
        "2026-03-02 11:30",
        [],
        id="first start ever, past the grace: nothing is dug up",
    ),
]


@pytest.mark.parametrize(("reminders", "last", "now", "expected"), DOWNTIME)
def test_downtime(reminders: Reminders, last: str | None, now: str, expected: list[tuple[str, ...]]) -> None:
    assert fire(reminders, last=last, now=now) == expected


# --- kept periods and paused days ------------------------------------------------------------------

KEPT_AND_PAUSED = [
    pytest.param(
        "2026-03-02 09:20",
        ["2026-03-02"],
        [],
        [("Mon 09:00", "09:00", SUPPRESSED, "not sent: period already kept")],
        id="period kept during the downtime: suppressed",
    ),
    pytest.param(
        "2026-03-02 09:00:10",
        ["2026-03-02"],
        [],
        [("Mon 09:00", "09:00", SUPPRESSED, "not sent: period already kept")],
        id="period kept before the due time: suppressed on time too",
    ),
    pytest.param(
        "2026-03-02 09:00:10",
        [],
        ["2026-03-02"],
        [("Mon 09:00", "09:00", PAUSED, "not sent: ritual paused")],
        id="paused day: recorded paused",
    ),
    pytest.param(
        "2026-03-02 09:00:10",
        ["2026-03-02"],
        ["2026-03-02"],
        [("Mon 09:00", "09:00", PAUSED, "not sent: ritual paused")],
        id="paused wins over kept",
    ),
]


@pytest.mark.parametrize(("now", "kept", "paused", "expected"), KEPT_AND_PAUSED)
def test_kept_and_paused(
    now: str, kept: list[str], paused: list[str], expected: list[tuple[str, ...]]
) -> None:
    assert fire(NINE, last=SUNDAY, now=now, kept=kept, paused=paused) == expected


def test_a_long_downtime_with_a_paused_day_and_a_kept_one_owes_no_catch_up() -> None:
    assert fire(
        NINE, last="2026-02-26 09:00", now="2026-03-02 09:30", kept=["2026-03-02"], paused=["2026-02-28"]
    ) == [
        ("Fri 09:00", "09:00", MISSED, "missed: 3 d 30 min late, past its 2 h grace"),
        ("Sat 09:00", "09:00", PAUSED, "not sent: ritual paused"),
        ("Sun 09:00", "09:00", MISSED, "missed: 1 d 30 min late, past its 2 h grace"),
        ("Mon 09:00", "09:00", SUPPRESSED, "not sent: period already kept"),
    ]


# --- kinds: heads-up and nag -----------------------------------------------------------------------

HEADS_UP = timedelta(hours=1)
NAG = timedelta(minutes=30)

KINDS = [
    pytest.param(
        at("09:00", remind_before=HEADS_UP),
        "2026-03-02 08:00:20",
        [("Mon 08:00", "before/09:00", SEND, "sent on time")],
        id="a heads-up on time",
    ),
    pytest.param(
        at("09:00", remind_before=HEADS_UP),
        "2026-03-02 08:20",
        [("Mon 08:00", "before/09:00", MISSED, "missed: a heads-up 20 min late is not worth sending")],
        id="a heads-up overdue: missed, even within the grace",
    ),
    pytest.param(
        at("09:00", nag_after=NAG),
        "2026-03-02 09:45",
        [
            ("Mon 09:00", "09:00", MISSED, "missed: superseded by '2026-03-02 nag/09:00'"),
            ("Mon 09:30", "nag/09:00", LATE, "sent 15 min late"),
        ],
        id="due and nag both overdue: the nag is the one catch-up",
    ),
    pytest.param(
        at("09:00", nag_after=NAG),
        "2026-03-02 09:30:20",
        [
            ("Mon 09:00", "09:00", MISSED, "missed: superseded by '2026-03-02 nag/09:00'"),
            ("Mon 09:30", "nag/09:00", SEND, "sent on time"),
        ],
        id="a nag on time makes the late due nudge redundant",
    ),
    pytest.param(
        at("09:00", remind_before=HEADS_UP, nag_after=NAG),
        "2026-03-02 09:40",
        [
            ("Mon 08:00", "before/09:00", MISSED, "missed: a heads-up 1 h 40 min late is not worth sending"),
            ("Mon 09:00", "09:00", MISSED, "missed: superseded by '2026-03-02 nag/09:00'"),
            ("Mon 09:30", "nag/09:00", LATE, "sent 10 min late"),
        ],
        id="mixed kinds in one call: one catch-up, a stale heads-up missed",
    ),
    pytest.param(
        at("09:00", remind_before=timedelta(hours=23), nag_after=NAG),
        "2026-03-02 10:00:30",
        [
            ("Mon 09:00", "09:00", MISSED, "missed: superseded by '2026-03-02 nag/09:00'"),
            ("Mon 09:30", "nag/09:00", LATE, "sent 30 min late"),
            ("Mon 10:00", "before/09:00", SEND, "sent on time"),
        ],
        id="tomorrow's heads-up on time does not stop today's catch-up",
    ),
]


@pytest.mark.parametrize(("reminders", "now", "expected"), KINDS)
def test_kinds(reminders: Reminders, now: str, expected: list[tuple[str, ...]]) -> None:
    assert fire(reminders, last="2026-03-01 12:00", now=now) == expected


# --- quiet hours: the grace counts from the time the nudge was meant for -----------------------------

QUIET = (time(22, 0), time(9, 0))

QUIET_HOURS = [
    pytest.param(
        "06:00",
        "2026-03-02 09:00:20",
        [("Mon 09:00", "06:00", MISSED, "missed: quiet hours held it 3 h, past its 2 h grace")],
        id="held 3 h with a 2 h grace: missed when the quiet hours end",
    ),
    pytest.param(
        "08:00",
        "2026-03-02 09:00:20",
        [("Mon 09:00", "08:00", SEND, "sent on time (quiet hours held it 1 h)")],
        id="held 1 h: sent when the quiet hours end",
    ),
    pytest.param(
        "07:00",
        "2026-03-02 09:00:30",
        [("Mon 09:00", "07:00", SEND, "sent on time (quiet hours held it 2 h)")],
        id="held exactly the grace, the timer 30 s late: still on time, as `ritual next` said",
    ),
    pytest.param(
        "08:00",
        "2026-03-02 09:30",
        [("Mon 09:00", "08:00", LATE, "sent 30 min late (quiet hours held it 1 h)")],
        id="held 1 h, then the daemon was down 30 min: late",
    ),
    pytest.param(
        "08:00",
        "2026-03-02 10:30",
        [("Mon 09:00", "08:00", MISSED, "missed: 2 h 30 min late, past its 2 h grace")],
        id="held 1 h, then down 90 min: past the grace from 08:00",
    ),
]


@pytest.mark.parametrize(("wall", "now", "expected"), QUIET_HOURS)
def test_quiet_hours(wall: str, now: str, expected: list[tuple[str, ...]]) -> None:
    assert fire(at(wall, quiet_hours=QUIET), last=SUNDAY, now=now) == expected


# --- decide: contract -------------------------------------------------------------------------------

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def nudge(minutes_ago: float, slot: str = "09:00", kind: NudgeKind = NudgeKind.DUE) -> Nudge:
    return Nudge(NOW - timedelta(minutes=minutes_ago), date(2026, 3, 2), slot, kind)


def never(_: object) -> bool:
    return False


def test_verdicts_come_in_due_order_whatever_the_input_order() -> None:
    nudges = [nudge(5, "a"), nudge(200, "b"), nudge(0, "c", NudgeKind.BEFORE), nudge(30, "d")]
    verdicts = decide(nudges, now=NOW, grace=GRACE, on_time=ON_TIME, kept=never, paused=never)
    assert [(v.nudge.slot, v.decision) for v in verdicts] == [
        ("b", MISSED),
        ("d", MISSED),
        ("a", LATE),
        ("c", SEND),
    ]


def test_no_nudges_no_verdicts() -> None:
    assert decide([], now=NOW, grace=GRACE, on_time=ON_TIME, kept=never, paused=never) == []


def test_only_sending_decisions_send() -> None:
    assert [decision for decision in Decision if decision.sends] == [SEND, LATE]


@pytest.mark.parametrize(
    ("nudges", "now", "grace", "on_time", "message"),
    [
        pytest.param(
            [nudge(-1)],
            NOW,
            GRACE,
            ON_TIME,
            "nudge '2026-03-02 09:00' is not due until '2026-03-02T08:01:00+00:00'",
            id="a nudge from the future",
        ),
        pytest.param(
            [],
            NOW.replace(tzinfo=None),
            GRACE,
            ON_TIME,
            "now must be time-zone aware, not '2026-03-02T08:00:00'",
            id="naive now",
        ),
        pytest.param(
            [], NOW, -GRACE, ON_TIME, "grace cannot be negative: '-1 day, 22:00:00'", id="negative grace"
        ),
        pytest.param(
            [], NOW, GRACE, -ON_TIME, "on_time cannot be negative: '-1 day, 23:59:00'", id="negative on_time"
        ),
    ],
)
def test_decide_refuses(
    nudges: list[Nudge], now: datetime, grace: timedelta, on_time: timedelta, message: str
) -> None:
    with pytest.raises(ValueError) as error:
        decide(nudges, now=now, grace=grace, on_time=on_time, kept=never, paused=never)
    assert str(error.value) == message


# --- overdue_window and next_wakeup -----------------------------------------------------------------

WINDOWS = [
    pytest.param(None, {}, (NOW - GRACE, NOW), id="no history: back as far as the grace"),
    pytest.param(
        NOW - timedelta(days=3), {}, (NOW - timedelta(days=3), NOW), id="history: from the last record"
    ),
    pytest.param(
        NOW - timedelta(days=400), {}, (NOW - DEFAULT_MAX_LOOKBACK, NOW), id="a year down: a week at most"
    ),
    pytest.param(
        NOW - timedelta(days=3),
        {"max_lookback": timedelta(days=1)},
        (NOW - timedelta(days=1), NOW),
        id="max_lookback is the caller's to set",
    ),
    pytest.param(
        None,
        {"lookback": timedelta(days=30)},
        (NOW - DEFAULT_MAX_LOOKBACK, NOW),
        id="a long lookback is capped",
    ),
    pytest.param(NOW + timedelta(hours=1), {}, (NOW, NOW), id="last record ahead (clock went back): empty"),
    pytest.param(NOW, {}, (NOW, NOW), id="last record just now: empty"),
]


@pytest.mark.parametrize(("last", "options", "expected"), WINDOWS)
def test_overdue_window(
    last: datetime | None, options: dict[str, timedelta], expected: tuple[datetime, datetime]
) -> None:
    assert overdue_window(last, NOW, **{"lookback": GRACE, **options}) == expected


def test_overdue_window_refuses_naive_times() -> None:
    with pytest.raises(ValueError, match=r"^last_recorded must be time-zone aware"):
        overdue_window(datetime(2026, 3, 1), NOW, lookback=GRACE)


@pytest.mark.parametrize(
    ("dues_in_minutes", "expected"),
    [
        pytest.param([30, 5, 90], 5, id="unordered: the earliest"),
        pytest.param([-10, 0, 20], 20, id="only strictly after"),
        pytest.param([-10, 0], None, id="nothing ahead"),
        pytest.param([], None, id="no nudges"),
    ],
)
def test_next_wakeup(dues_in_minutes: list[int], expected: int | None) -> None:
    nudges = [nudge(-minutes) for minutes in dues_in_minutes]
    wanted = None if expected is None else NOW + timedelta(minutes=expected)
    assert next_wakeup(nudges, NOW) == wanted


def test_next_wakeup_over_several_rituals_planned_ahead() -> None:
    now = local("2026-03-02 09:00")
    horizon = now + timedelta(days=2)
    talk = planned_nudges(DAILY, at("20:30"), now, horizon)
    walk = planned_nudges(DAILY, at("07:00", "12:15", quiet_hours=(time(12), time(13))), now, horizon)
    assert next_wakeup([*talk, *walk], now) == local("2026-03-02 13:00")


# --- properties -------------------------------------------------------------------------------------

SLOTS = ("07:00", "09:00", "nag/09:00", "before/09:00", "21:30")


@st.composite
def overdue_nudges(draw: st.DrawFn) -> Nudge:
    late = timedelta(seconds=draw(st.integers(0, 3 * 24 * 3600)))
    held = draw(st.none() | st.integers(1, 6 * 60).map(lambda minutes: timedelta(minutes=minutes)))
    due = NOW - late
    return Nudge(
        due=due,
        day=date(2026, 3, 2) - timedelta(days=draw(st.integers(0, 3))),
        slot=draw(st.sampled_from(SLOTS)),
        kind=draw(st.sampled_from(NudgeKind)),
        intended=None if held is None else due - held,
    )


calls = st.fixed_dictionaries(
    {
        "nudges": st.lists(overdue_nudges(), max_size=12),
        "grace": st.integers(0, 6 * 60).map(lambda minutes: timedelta(minutes=minutes)),
        "on_time": st.integers(0, 300).map(lambda seconds: timedelta(seconds=seconds)),
        "kept_slots": st.sets(st.sampled_from(SLOTS), max_size=2),
        "paused_days": st.sets(st.integers(0, 3), max_size=2),
    }
)


def run(call: dict[str, object]) -> list[Verdict]:
    kept_slots = call["kept_slots"]
    paused_days = call["paused_days"]
    assert isinstance(kept_slots, set) and isinstance(paused_days, set)
    nudges = call["nudges"]
    grace, on_time = call["grace"], call["on_time"]
    assert isinstance(nudges, list) and isinstance(grace, timedelta) and isinstance(on_time, timedelta)
    return decide(
        nudges,
        now=NOW,
        grace=grace,
        on_time=on_time,
        kept=lambda n: n.slot in kept_slots,
        paused=lambda day: (date(2026, 3, 2) - day).days in paused_days,
    )


def meant_for(n: Nudge) -> datetime:
    return min(n.due, n.intended or n.due)


@settings(max_examples=200, deadline=None)
@given(calls)
def test_every_nudge_gets_exactly_one_verdict_in_due_order(call: dict[str, object]) -> None:
    verdicts = run(call)
    nudges = call["nudges"]
    assert isinstance(nudges, list)
    assert sorted(map(id, (v.nudge for v in verdicts))) == sorted(map(id, nudges))
    assert [v.nudge for v in verdicts] == sorted(nudges)


@settings(max_examples=200, deadline=None)
@given(calls)
def test_sending_stays_within_the_limits(call: dict[str, object]) -> None:
    verdicts = run(call)
    grace, on_time = call["grace"], call["on_time"]
    assert isinstance(grace, timedelta) and isinstance(on_time, timedelta)
    assert sum(v.decision is LATE for v in verdicts) <= 1
    for v in verdicts:
        if v.decision.sends:
            # Quiet hours never hold a sent nudge past its grace, and it goes out within it.
            assert v.nudge.due - meant_for(v.nudge) <= grace
            assert NOW - v.nudge.due <= grace
        if v.decision is SEND:
            assert NOW - v.nudge.due <= on_time
        if v.decision is LATE:
            assert NOW - meant_for(v.nudge) <= grace
            assert v.nudge.kind is not NudgeKind.BEFORE
            assert NOW - v.nudge.due > on_time


@settings(max_examples=200, deadline=None)
@given(calls)
def test_the_catch_up_is_the_newest_reminder_owed(call: dict[str, object]) -> None:
    verdicts = run(call)
    grace = call["grace"]
    assert isinstance(grace, timedelta)
    late = [v.nudge for v in verdicts if v.decision is LATE]
    owed = [
        v.nudge
        for v in verdicts
        if v.decision in (LATE, MISSED, SEND)
        and v.nudge.kind is not NudgeKind.BEFORE
        and NOW - meant_for(v.nudge) <= grace
    ]
    if late:
        assert late[0] == max(owed)
        assert not any(v.decision is SEND and v.nudge.kind is not NudgeKind.BEFORE for v in verdicts)
    elif owed:  # something was owed and nothing went out late: a reminder went out on time instead
        assert any(v.decision is SEND and v.nudge.kind is not NudgeKind.BEFORE for v in verdicts)
