"""Cadence: parsing ``on`` words, calendar periods, due days, ritual days and DST-safe instants."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.domain.cadence import (
    Cadence,
    DayOfMonth,
    DueDay,
    Every,
    NthWeekday,
    Period,
    Weekday,
    day_start,
    due_days,
    is_due_day,
    local_instant,
    parse_due_days,
    period_of,
    periods,
    ritual_date,
)

MON, TUE, WED, THU, FRI, SAT, SUN = range(7)
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def d(text: str) -> date:
    return date.fromisoformat(text)


def monthly(*words: str, interval: int = 1) -> Cadence:
    return Cadence(every=Every.MONTH, interval=interval, on=parse_due_days(Every.MONTH, words))


def due_in_month(cadence: Cadence, month: str) -> list[str]:
    """The due days of the (interval 1) monthly period holding the first of ``month`` (YYYY-MM)."""
    period = period_of(cadence, d(f"{month}-01"))
    return [day.isoformat() for day in due_days(cadence, period)]


# --- parse_due_days and the canonical spelling -----------------------------------------------


@pytest.mark.parametrize(
    ("every", "words", "expected"),
    [
        pytest.param(Every.DAY, [], (), id="nothing listed"),
        pytest.param(Every.WEEK, ["fri"], (Weekday(FRI),), id="short weekday"),
        pytest.param(Every.WEEK, ["  Friday "], (Weekday(FRI),), id="full name, case and spaces ignored"),
        pytest.param(Every.DAY, ["weekdays"], tuple(Weekday(w) for w in range(5)), id="weekdays"),
        pytest.param(
            Every.DAY, ["weekends", "wed"], (Weekday(WED), Weekday(SAT), Weekday(SUN)), id="weekend"
        ),
        pytest.param(Every.DAY, ["sun", "mon"], (Weekday(MON), Weekday(SUN)), id="sorted in week order"),
        pytest.param(Every.MONTH, ["first sat"], (NthWeekday(1, SAT),), id="first sat"),
        pytest.param(Every.MONTH, ["2nd TUE"], (NthWeekday(2, TUE),), id="2nd tue"),
        pytest.param(Every.MONTH, ["last  friday"], (NthWeekday(-1, FRI),), id="last friday"),
        pytest.param(Every.MONTH, ["15"], (DayOfMonth(15),), id="day number"),
        pytest.param(Every.MONTH, ["last"], (DayOfMonth(-1),), id="last day"),
        pytest.param(Every.MONTH, ["mon"], (Weekday(MON),), id="every monday of a month"),
        pytest.param(
            Every.MONTH,
            ["last", "last fri", "first sat", "15", "1", "sun"],
            (
                Weekday(SUN),
                DayOfMonth(1),
                DayOfMonth(15),
                NthWeekday(1, SAT),
                NthWeekday(-1, FRI),
                DayOfMonth(-1),
            ),
            id="month rules sorted: weekdays, numbers, nth weekdays, last",
        ),
    ],
)
def test_parse_due_days(every: Every, words: list[str], expected: tuple[DueDay, ...]) -> None:
    assert parse_due_days(every, words) == expected


@pytest.mark.parametrize(
    ("every", "words", "message"),
    [
        pytest.param(Every.WEEK, ["fryday"], "unknown weekday 'fryday'", id="misspelt weekday"),
        pytest.param(Every.MONTH, ["first fryday"], "unknown weekday 'fryday'", id="misspelt nth weekday"),
        pytest.param(Every.DAY, ["xyz"], "unknown day 'xyz'", id="nonsense"),
        pytest.param(Every.MONTH, ["next sat"], "unknown day 'next sat'", id="unknown ordinal"),
        pytest.param(
            Every.DAY,
            ["15"],
            "'15' is a day of the month; only a monthly ritual can use it",
            id="day number on a daily ritual",
        ),
        pytest.param(
            Every.WEEK,
            ["last"],
            "'last' is a day of the month; only a monthly ritual can use it",
            id="last day on a weekly ritual",
        ),
        pytest.param(Every.WEEK, ["first sat"], "'first sat' needs a monthly ritual", id="nth on weekly"),
        pytest.param(Every.MONTH, ["32"], "day of month must be 1..31, not '32'", id="day 32"),
        pytest.param(Every.MONTH, ["0"], "day of month must be 1..31, not '0'", id="day 0"),
        pytest.param(Every.WEEK, ["fri", "friday"], "'fri' is listed twice", id="same weekday twice"),
        pytest.param(Every.DAY, ["weekdays", "mon"], "'mon' is listed twice", id="weekday inside weekdays"),
        pytest.param(Every.MONTH, ["1st sat", "first sat"], "'first sat' is listed twice", id="nth twice"),
    ],
)
def test_parse_due_days_rejects(every: Every, words: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=f"^{message}$"):
        parse_due_days(every, words)


@pytest.mark.parametrize(
    ("due", "text"),
    [
        (Weekday(MON), "mon"),
        (NthWeekday(1, SAT), "first sat"),
        (NthWeekday(2, TUE), "second tue"),
        (NthWeekday(3, WED), "third wed"),
        (NthWeekday(4, THU), "fourth thu"),
        (NthWeekday(5, FRI), "fifth fri"),
        (NthWeekday(-1, FRI), "last fri"),
        (DayOfMonth(15), "15"),
        (DayOfMonth(-1), "last"),
    ],
    ids=lambda value: str(value) if isinstance(value, str) else "",
)
def test_due_day_spelling_parses_back(due: DueDay, text: str) -> None:
    assert str(due) == text
    assert parse_due_days(Every.MONTH, [text]) == (due,)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("interval", 0, "interval must be at least 1, not '0'"),
        ("times", 0, "times must be at least 1, not '0'"),
        ("week_starts", 7, r"week_starts must be 0 \(monday\)..6 \(sunday\), not '7'"),
    ],
)
def test_cadence_rejects_values_periods_cannot_use(field: str, value: int, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{message}$"):
        Cadence(**{field: value})  # type: ignore[arg-type]


# --- due days ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("words", "month", "expected"),
    [
        pytest.param(["first sat"], "2026-08", ["2026-08-01"], id="first sat on the 1st"),
        pytest.param(["first sat"], "2026-09", ["2026-09-05"], id="first sat"),
        pytest.param(["second tue"], "2026-09", ["2026-09-08"], id="second tue"),
        pytest.param(["last fri"], "2026-07", ["2026-07-31"], id="last fri on the last day"),
        pytest.param(["last fri"], "2026-02", ["2026-02-27"], id="last fri in february"),
        pytest.param(["last fri"], "2026-12", ["2026-12-25"], id="last fri a week before month end"),
        pytest.param(["fifth fri"], "2026-05", ["2026-05-29"], id="fifth fri in a month with five"),
        pytest.param(["fifth fri"], "2026-06", [], id="no fifth fri in a month with four"),
        pytest.param(["15"], "2026-06", ["2026-06-15"], id="the 15th"),
        pytest.param(["31"], "2026-04", ["2026-04-30"], id="31st in a 30-day month"),
        pytest.param(["31"], "2026-02", ["2026-02-28"], id="31st in february"),
        pytest.param(["31"], "2028-02", ["2028-02-29"], id="31st in a leap february"),
        pytest.param(["30"], "2027-02", ["2027-02-28"], id="30th in february"),
        pytest.param(["30"], "2024-02", ["2024-02-29"], id="30th in a leap february"),
        pytest.param(["30", "31", "last"], "2026-02", ["2026-02-28"], id="clamped days counted once"),
        pytest.param(["last"], "2026-04", ["2026-04-30"], id="last day"),
        pytest.param(["last"], "2028-02", ["2028-02-29"], id="last day of leap february"),
        pytest.param(
            ["1", "last sun"],
            "2026-03",
            ["2026-03-01", "2026-03-29"],
            id="two rules, sorted",
        ),
    ],
)
def test_monthly_due_days(words: list[str], month: str, expected: list[str]) -> None:
    cadence = monthly(*words)
    assert due_in_month(cadence, month) == expected
    month_days = due_days(Cadence(), period_of(cadence, d(f"{month}-01")))
    assert [day.isoformat() for day in month_days if is_due_day(cadence, day)] == expected


def test_monthly_interval_two_judges_each_month_in_the_period() -> None:
    cadence = monthly("fifth fri", "31", interval=2)  # anchored at January 2001: Jan+Feb, Mar+Apr, ...
    period = period_of(cadence, d("2026-05-10"))
    assert period == Period(d("2026-05-01"), d("2026-07-01"))
    assert [day.isoformat() for day in due_days(cadence, period)] == [
        "2026-05-29",
        "2026-05-31",
        "2026-06-30",
    ]


@pytest.mark.parametrize(
    ("cadence", "period", "expected"),
    [
        pytest.param(
            Cadence(every=Every.DAY, on=parse_due_days(Every.DAY, ["weekdays"])),
            Period(d("2026-06-05"), d("2026-06-06")),
            ["2026-06-05"],
            id="weekdays-only daily: friday is due",
        ),
        pytest.param(
            Cadence(every=Every.DAY, on=parse_due_days(Every.DAY, ["weekdays"])),
            Period(d("2026-06-06"), d("2026-06-07")),
            [],
            id="weekdays-only daily: saturday is not",
        ),
        pytest.param(
            Cadence(every=Every.DAY),
            Period(d("2026-06-06"), d("2026-06-07")),
            ["2026-06-06"],
            id="plain daily: every day",
        ),
        pytest.param(
            Cadence(every=Every.WEEK, on=(Weekday(FRI),)),
            Period(d("2026-06-01"), d("2026-06-08")),
            ["2026-06-05"],
            id="weekly fri",
        ),
        pytest.param(
            Cadence(every=Every.WEEK),
            Period(d("2026-06-01"), d("2026-06-08")),
            [f"2026-06-0{n}" for n in range(1, 8)],
            id="weekly without on: every day of the week",
        ),
    ],
)
def test_due_days(cadence: Cadence, period: Period, expected: list[str]) -> None:
    assert period_of(cadence, period.start) == period
    assert [day.isoformat() for day in due_days(cadence, period)] == expected


@pytest.mark.parametrize(
    ("day", "due"),
    [
        ("2026-06-05", True),  # friday
        ("2026-06-06", False),  # saturday
        ("2026-06-07", False),  # sunday
        ("2026-06-08", True),  # monday
    ],
)
def test_is_due_day_weekdays_only(day: str, due: bool) -> None:
    cadence = Cadence(on=parse_due_days(Every.DAY, ["weekdays"]))
    assert is_due_day(cadence, d(day)) is due


# --- periods ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cadence", "day", "expected"),
    [
        pytest.param(Cadence(every=Every.DAY), "2026-06-06", ("2026-06-06", "2026-06-07"), id="a day"),
        pytest.param(Cadence(every=Every.WEEK), "2026-06-07", ("2026-06-01", "2026-06-08"), id="week"),
        pytest.param(
            Cadence(every=Every.WEEK, week_starts=SUN),
            "2026-06-07",
            ("2026-06-07", "2026-06-14"),
            id="week from sunday: sunday opens a week",
        ),
        pytest.param(
            Cadence(every=Every.WEEK, week_starts=SUN),
            "2026-06-06",
            ("2026-05-31", "2026-06-07"),
            id="week from sunday: saturday closes one",
        ),
        pytest.param(Cadence(every=Every.MONTH), "2026-02-14", ("2026-02-01", "2026-03-01"), id="a month"),
        pytest.param(
            Cadence(every=Every.MONTH, interval=3),
            "2026-06-30",
            ("2026-04-01", "2026-07-01"),
            id="every 3 months from january 2001: quarters",
        ),
        pytest.param(
            Cadence(every=Every.MONTH, interval=3, anchor=d("2026-02-20")),
            "2026-01-31",
            ("2025-11-01", "2026-02-01"),
            id="every 3 months anchored in february, before the anchor",
        ),
        pytest.param(
            Cadence(every=Every.DAY, interval=3, anchor=d("2026-06-10")),
            "2026-06-09",
            ("2026-06-07", "2026-06-10"),
            id="every 3 days, the day before the anchor",
        ),
        pytest.param(
            Cadence(every=Every.WEEK, interval=2),
            "2001-01-14",
            ("2001-01-01", "2001-01-15"),
            id="every 2 weeks without anchor: from monday 2001-01-01",
        ),
    ],
)
def test_period_of(cadence: Cadence, day: str, expected: tuple[str, str]) -> None:
    period = period_of(cadence, d(day))
    assert (period.start.isoformat(), period.end.isoformat()) == expected


def test_every_two_weeks_tiles_from_the_start_date_both_ways() -> None:
    # Started on a wednesday: the fortnight runs from that week's monday.
    cadence = Cadence(every=Every.WEEK, interval=2, anchor=d("2026-06-10"), on=(Weekday(FRI),))
    found = list(periods(cadence, d("2026-05-20"), d("2026-07-06")))
    assert [(p.start.isoformat(), p.end.isoformat()) for p in found] == [
        ("2026-05-11", "2026-05-25"),
        ("2026-05-25", "2026-06-08"),
        ("2026-06-08", "2026-06-22"),
        ("2026-06-22", "2026-07-06"),
        ("2026-07-06", "2026-07-20"),
    ]
    assert [due_days(cadence, p) for p in found[2:4]] == [
        (d("2026-06-12"), d("2026-06-19")),
        (d("2026-06-26"), d("2026-07-03")),
    ]


def test_periods_of_an_empty_range() -> None:
    assert list(periods(Cadence(), d("2026-06-02"), d("2026-06-01"))) == []


def test_periods_week_starting_sunday() -> None:
    cadence = Cadence(every=Every.WEEK, week_starts=SUN)
    found = list(periods(cadence, d("2026-06-06"), d("2026-06-07")))
    assert found == [Period(d("2026-05-31"), d("2026-06-07")), Period(d("2026-06-07"), d("2026-06-14"))]


# --- ritual days and instants -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        pytest.param("2026-06-06T00:30", "2026-06-05", id="00:30 counts for the evening before"),
        pytest.param("2026-06-06T02:59", "2026-06-05", id="02:59 still the day before"),
        pytest.param("2026-06-06T03:00", "2026-06-06", id="03:00 opens the day"),
        pytest.param("2026-06-06T23:59", "2026-06-06", id="late evening"),
        pytest.param("2026-01-01T01:00", "2025-12-31", id="across a year"),
    ],
)
def test_ritual_date_with_day_starting_at_three(local: str, expected: str) -> None:
    cadence = Cadence(timezone="Europe/Berlin", day_starts_at=time(3, 0))
    instant = datetime.fromisoformat(local).replace(tzinfo=BERLIN).astimezone(UTC)
    assert ritual_date(cadence, instant) == d(expected)
    assert day_start(cadence, d("2026-06-06")) == datetime(2026, 6, 6, 1, 0, tzinfo=UTC)


def test_ritual_date_in_the_repeated_hour_agrees_with_day_start() -> None:
    # New York repeats 01:00-02:00 on 2026-11-01; a day starting at 01:30 begins at the first 01:30 (EDT).
    cadence = Cadence(timezone="America/New_York", day_starts_at=time(1, 30))
    start = day_start(cadence, d("2026-11-01"))
    assert start == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    assert ritual_date(cadence, start - timedelta(minutes=1)) == d("2026-10-31")
    assert ritual_date(cadence, start) == d("2026-11-01")
    second_1_15 = datetime(2026, 11, 1, 6, 15, tzinfo=UTC)  # 01:15 EST, after the first 01:30
    assert ritual_date(cadence, second_1_15) == d("2026-11-01")


def test_ritual_date_rejects_naive_times() -> None:
    with pytest.raises(ValueError, match=r"^time '2026-06-06T12:00:00' has no time zone$"):
        ritual_date(Cadence(), datetime(2026, 6, 6, 12, 0))


@pytest.mark.parametrize(
    ("zone", "day", "at", "utc", "local"),
    [
        pytest.param(BERLIN, "2026-03-29", "02:30", "01:00", "03:00+02:00", id="berlin spring gap -> 03:00"),
        pytest.param(BERLIN, "2026-03-29", "03:30", "01:30", "03:30+02:00", id="berlin after the gap"),
        pytest.param(BERLIN, "2026-03-29", "01:59", "00:59", "01:59+01:00", id="berlin before the gap"),
        pytest.param(BERLIN, "2026-10-25", "02:30", "00:30", "02:30+02:00", id="berlin fall-back: first"),
        pytest.param(NEW_YORK, "2026-03-08", "02:30", "07:00", "03:00-04:00", id="new york spring gap"),
        pytest.param(NEW_YORK, "2026-11-01", "01:30", "05:30", "01:30-04:00", id="new york 01:30: EDT"),
        pytest.param(NEW_YORK, "2026-11-01", "02:30", "07:30", "02:30-05:00", id="new york after fall-back"),
        pytest.param(NEW_YORK, "2026-06-06", "20:30", "00:30", "20:30-04:00", id="new york summer evening"),
    ],
)
def test_local_instant_across_dst(zone: ZoneInfo, day: str, at: str, utc: str, local: str) -> None:
    instant = local_instant(zone, d(day), time.fromisoformat(at))
    assert instant.tzinfo is UTC
    assert instant.strftime("%H:%M") == utc
    assert instant.astimezone(zone).isoformat(timespec="minutes").split("T")[1] == local


def test_local_instant_after_a_whole_day_skipped() -> None:
    # Samoa skipped 2011-12-30 entirely; any time that day lands on the first minute of the 31st.
    instant = local_instant(ZoneInfo("Pacific/Apia"), d("2011-12-30"), time(12, 0))
    assert instant.astimezone(ZoneInfo("Pacific/Apia")).isoformat() == "2011-12-31T00:00:00+14:00"


def test_local_instant_rounds_a_gap_that_ends_mid_minute_up() -> None:
    # Amsterdam went from +00:19:32 to +00:20 in 1937 (summer: +01:19:32 -> +01:20): 28 seconds vanished.
    amsterdam = ZoneInfo("Europe/Amsterdam")
    instant = local_instant(amsterdam, d("1937-07-01"), time(0, 0, 10))
    assert instant.astimezone(amsterdam).isoformat() == "1937-07-01T00:01:00+01:20"


# --- properties -------------------------------------------------------------------------------

ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Pacific/Chatham", "Asia/Kolkata"]
DAYS = st.dates(min_value=date(1980, 1, 1), max_value=date(2060, 12, 31))
TIMES = st.times().map(lambda t: t.replace(microsecond=0))
WEEKDAY_RULES = st.builds(Weekday, st.integers(0, 6))
MONTH_RULES = st.one_of(
    WEEKDAY_RULES,
    st.builds(NthWeekday, st.sampled_from([1, 2, 3, 4, 5, -1]), st.integers(0, 6)),
    st.builds(DayOfMonth, st.sampled_from([*range(1, 32), -1])),
)


@st.composite
def cadences(draw: st.DrawFn) -> Cadence:
    every = draw(st.sampled_from(Every))
    rules = MONTH_RULES if every is Every.MONTH else WEEKDAY_RULES
    return Cadence(
        every=every,
        interval=draw(st.integers(1, 4)),
        on=tuple(draw(st.frozensets(rules, max_size=3))),
        timezone=draw(st.sampled_from(ZONES)),
        day_starts_at=draw(TIMES),
        week_starts=draw(st.integers(0, 6)),
        anchor=draw(st.none() | DAYS),
    )


@settings(max_examples=200)
@given(cadences(), DAYS)
def test_period_of_contains_the_day_and_is_stable(cadence: Cadence, day: date) -> None:
    period = period_of(cadence, day)
    assert day in period
    assert period_of(cadence, period.start) == period
    assert period_of(cadence, period.end - timedelta(days=1)) == period


@settings(max_examples=100)
@given(cadences(), DAYS, st.integers(0, 200))
def test_periods_tile_without_gaps_or_overlaps(cadence: Cadence, first: date, span: int) -> None:
    last = first + timedelta(days=span)
    found = list(periods(cadence, first, last))
    assert first in found[0]
    assert last in found[-1]
    for earlier, later in itertools.pairwise(found):
        assert earlier.start < earlier.end == later.start


@settings(max_examples=200)
@given(cadences(), DAYS)
def test_due_days_are_inside_sorted_and_agree_with_is_due_day(cadence: Cadence, day: date) -> None:
    period = period_of(cadence, day)
    due = due_days(cadence, period)
    assert all(day in period for day in due)
    assert list(due) == sorted(set(due))
    for offset in range((period.end - period.start).days):
        each = period.start + timedelta(days=offset)
        assert is_due_day(cadence, each) is (each in due)


@settings(max_examples=200)
@given(cadences(), st.datetimes(min_value=datetime(1980, 1, 1), max_value=datetime(2060, 1, 1)))
def test_ritual_date_agrees_with_day_start(cadence: Cadence, naive_utc: datetime) -> None:
    instant = naive_utc.replace(tzinfo=UTC)
    day = ritual_date(cadence, instant)
    assert day_start(cadence, day) <= instant < day_start(cadence, day + timedelta(days=1))


@settings(max_examples=200)
@given(st.sampled_from(ZONES), DAYS, TIMES)
def test_local_instant_keeps_valid_wall_times(zone_name: str, day: date, at: time) -> None:
    zone = ZoneInfo(zone_name)
    instant = local_instant(zone, day, at)
    local = instant.astimezone(zone)
    wall = datetime.combine(day, at)
    if local.replace(tzinfo=None) != wall:  # only a time skipped by a gap may move, and only forward
        assert local.replace(tzinfo=None) > wall
        assert (instant - timedelta(minutes=1)).astimezone(zone).replace(tzinfo=None) < wall


# --- each kind of period carries its own facts ------------------------------------------------------


@pytest.mark.parametrize("every", list(Every))
def test_every_kind_of_period_carries_its_facts_and_its_arithmetic(every: Every) -> None:
    """A new kind is a member, its facts and a case in period_of (all in cadence.py); this test
    then checks it like the others, and mypy's assert_never names any match that misses it."""
    kind = every.kind
    assert kind.unit == every.value
    assert kind.plural.startswith(kind.unit) and kind.this.endswith(("today", kind.unit))
    assert kind.adverb and kind.per.endswith(kind.unit) and kind.average_days >= 1
    day = date(2026, 11, 24)
    period = period_of(Cadence(every=every), day)
    assert day in period
    length = (period.end - period.start).days
    if kind.fixed_days is not None:
        assert length == kind.fixed_days
    else:
        assert abs(length - kind.average_days) < 3
