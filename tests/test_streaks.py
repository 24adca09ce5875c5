"""The streak contract (DESIGN.md, "Streak rules"): period statuses, streaks, strength, freezes.

Statuses are written one letter per period, oldest first:
K kept, M missed, O open (today's, not kept yet), . rest (no due day),
S / P / F excused by a skip / a pause / a freeze token.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field, replace
from datetime import date, time, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.domain.cadence import Cadence, Every, Period, is_due_day, parse_due_days, period_of
from scheduler.domain.definitions import CompleteWhen
from scheduler.domain.streaks import (
    Done,
    Excuse,
    History,
    PausedSpan,
    PeriodOutcome,
    PeriodStatus,
    StreakSummary,
    outcomes,
    summarize,
)

LETTERS = {
    PeriodStatus.KEPT: "K",
    PeriodStatus.MISSED: "M",
    PeriodStatus.OPEN: "O",
    PeriodStatus.REST: ".",
}
EXCUSE_LETTERS = {Excuse.SKIP: "S", Excuse.PAUSE: "P", Excuse.FREEZE: "F"}


def letters(listed: list[PeriodOutcome]) -> str:
    return "".join(
        EXCUSE_LETTERS[o.excuse] if o.status is PeriodStatus.EXCUSED and o.excuse else LETTERS[o.status]
        for o in listed
    )


def cadence(every: str = "day", on: str = "", **fields: Any) -> Cadence:
    """A cadence the way a ritual file says it: ``cadence("week", "fri", times=2)``."""
    kind = Every(every)
    words = [word.strip() for word in on.split(",") if word.strip()]
    return Cadence(every=kind, on=parse_due_days(kind, words), **fields)


def d(text: str) -> date:
    return date.fromisoformat(text)


def span(first: str, last: str) -> list[date]:
    """Every day from ``first`` to ``last``, inclusive."""
    start, stop = d(first), d(last)
    return [start + timedelta(days=n) for n in range((stop - start).days + 1)]


def history(
    cad: Cadence | None = None,
    start: str = "2025-03-01",
    done: list[date] | None = None,
    **fields: Any,
) -> History:
    return History(
        versions=((d(start), cad or cadence()),),
        start=d(start),
        completions=tuple(Done(day) for day in done or []),
        **fields,
    )


@dataclass(frozen=True)
class Case:
    history: History
    today: str
    statuses: str
    current: int
    longest: int
    at_risk: bool
    more: dict[str, Any] = field(default_factory=dict)  # further StreakSummary fields to check


CASES = [
    pytest.param(
        Case(
            history(done=[*span("2025-03-01", "2025-03-02"), *span("2025-03-04", "2025-03-06")]),
            "2025-03-07",
            "KKMKKKO",
            current=3,
            longest=3,
            at_risk=True,
            more={"completion_rate": 5 / 6, "kept": 5, "missed": 1, "periods_until_break": 0},
        ),
        id="daily: one miss breaks, today open and at risk",
    ),
    pytest.param(
        Case(
            history(done=[d("2025-03-01")]),
            "2025-03-03",
            "KMO",
            current=0,
            longest=1,
            at_risk=False,
            more={"periods_until_break": 1, "completion_rate": 0.5},
        ),
        id="daily: no streak to lose, so today is not at risk",
    ),
    pytest.param(
        Case(
            history(
                cadence(on="weekdays"),
                start="2025-03-03",
                done=[*span("2025-03-03", "2025-03-08"), *span("2025-03-10", "2025-03-11")],
            ),
            "2025-03-12",
            "KKKKK..KKO",
            current=7,
            longest=7,
            at_risk=True,
            more={"completion_rate": 1.0, "missed": 0, "excused": 0},
        ),
        id="weekdays-only daily: weekends rest, even with a completion on saturday",
    ),
    pytest.param(
        Case(
            history(
                cadence("week", times=2),
                start="2025-03-03",
                done=[d(f"2025-03-{day:02}") for day in (3, 9, 12, 17, 18, 23, 24)],
            ),
            "2025-03-26",
            "KMKO",
            current=1,
            longest=1,
            at_risk=True,
            more={"completion_rate": 2 / 3, "period": Every.WEEK},
        ),
        id="weekly times=2: one of two is a miss",
    ),
    pytest.param(
        Case(
            history(
                cadence("month", "first sat"),
                start="2025-01-01",
                done=[d("2025-01-04"), d("2025-02-15"), d("2025-04-05")],
            ),
            "2025-04-10",
            "KKMK",
            current=1,
            longest=2,
            at_risk=False,
            more={"completion_rate": 2 / 3, "kept": 3, "periods_until_break": 1, "period": Every.MONTH},
        ),
        id="monthly first sat: any day of the month counts, april already kept",
    ),
    pytest.param(
        Case(
            history(
                cadence("month", "fifth fri"), start="2025-01-01", done=[d("2025-01-31"), d("2025-05-30")]
            ),
            "2025-06-02",
            "K...K.",
            current=2,
            longest=2,
            at_risk=False,
            more={"missed": 0, "kept": 2},
        ),
        id="monthly fifth fri: months without one rest",
    ),
    pytest.param(
        Case(
            history(
                cadence("week", interval=2, anchor=d("2025-03-03")),
                start="2025-03-05",
                done=[d("2025-03-10"), d("2025-04-01")],
            ),
            "2025-04-16",
            "KMKO",
            current=1,
            longest=1,
            at_risk=True,
        ),
        id="every 2 weeks from an anchor monday",
    ),
    pytest.param(
        Case(
            # A talk finished at 00:30 on 03-05 is ritual day 03-04 (the caller maps it).
            history(
                cadence(day_starts_at=time(3, 0)), start="2025-03-03", done=span("2025-03-03", "2025-03-04")
            ),
            "2025-03-05",
            "KKO",
            current=2,
            longest=2,
            at_risk=True,
        ),
        id="day starts at 03:00: a done for the evening before counts for it",
    ),
    pytest.param(
        Case(
            history(
                cadence("week", timezone="Europe/Berlin"),
                start="2025-03-24",
                done=[d("2025-03-30"), d("2025-04-01")],
            ),
            "2025-04-09",
            "KKO",
            current=2,
            longest=2,
            at_risk=True,
        ),
        id="weekly across the berlin spring-forward sunday",
    ),
    pytest.param(
        Case(
            history(
                done=[*span("2025-03-01", "2025-03-03"), *span("2025-03-05", "2025-03-07")],
                skips=(d("2025-03-04"),),
            ),
            "2025-03-08",
            "KKKSKKKO",
            current=6,
            longest=6,
            at_risk=True,
            more={"excused": 1, "completion_rate": 1.0},
        ),
        id="skip inside a run: neither adds nor breaks",
    ),
    pytest.param(
        Case(
            history(done=span("2025-03-01", "2025-03-02"), skips=(d("2025-03-02"), d("2025-03-03"))),
            "2025-03-03",
            "KKS",
            current=2,
            longest=2,
            at_risk=False,
            more={"kept": 2, "excused": 1, "periods_until_break": 1},
        ),
        id="skip: a kept period stays kept, a skipped today is not at risk",
    ),
    pytest.param(
        Case(
            history(
                cadence("month", "15"),
                start="2024-12-01",
                done=[d("2024-12-15"), d("2025-03-15")],
                pauses=(PausedSpan(d("2025-01-10"), d("2025-02-20")),),
            ),
            "2025-04-20",
            "KPPKO",
            current=2,
            longest=2,
            at_risk=True,
            more={"excused": 2, "completion_rate": 1.0},
        ),
        id="monthly on the 15th: a pause from january into february excuses both",
    ),
    pytest.param(
        Case(
            history(
                cadence("month"),
                start="2024-12-01",
                done=[d("2024-12-15"), d("2025-03-15")],
                pauses=(PausedSpan(d("2025-01-20"), d("2025-02-28")),),
            ),
            "2025-04-20",
            "KMPKO",
            current=1,
            longest=1,
            at_risk=True,
        ),
        id="monthly, every day due: a pause must cover all of them",
    ),
    pytest.param(
        Case(
            history(done=span("2025-03-01", "2025-03-04"), pauses=(PausedSpan(d("2025-03-05")),)),
            "2025-03-08",
            "KKKKPPPP",
            current=4,
            longest=4,
            at_risk=False,
        ),
        id="open-ended pause excuses today too",
    ),
    pytest.param(
        Case(
            history(
                done=[d(f"2025-03-{n:02}") for n in (1, 2, 4, 6, 8, 9)],
                freezes_per_month=2,
            ),
            "2025-03-10",
            "KKFKFKMKKO",
            current=2,
            longest=4,
            at_risk=True,
            more={"freezes_used": 2, "excused": 2, "missed": 1, "periods_until_break": 0},
        ),
        id="freeze budget runs out: the third miss in march breaks",
    ),
    pytest.param(
        Case(
            history(
                start="2025-02-25",
                done=[d(f"2025-{day}") for day in ("02-25", "02-28", "03-01", "03-03")],
                freezes_per_month=1,
            ),
            "2025-03-04",
            "KFMKKFKO",
            current=3,
            longest=3,
            at_risk=True,
            more={"freezes_used": 2, "periods_until_break": 0},
        ),
        id="freeze budget: each month brings new tokens",
    ),
    pytest.param(
        Case(
            history(done=span("2025-03-01", "2025-03-02"), freezes_per_month=1),
            "2025-03-03",
            "KKO",
            current=2,
            longest=2,
            at_risk=True,
            more={"freezes_used": 0, "periods_until_break": 1},
        ),
        id="freeze budget: at risk with a token left can miss one more",
    ),
    pytest.param(
        Case(
            history(
                start="2025-03-01",
                done=[d(f"2025-{day}") for day in ("03-05", "03-01", "03-03", "03-02", "03-04", "02-28")],
            ),
            "2025-03-06",
            "KKKKKO",
            current=5,
            longest=5,
            at_risk=True,
            more={"last_completion": d("2025-03-05"), "kept": 5},
        ),
        id="back-filled completions count, those before the start do not",
    ),
    pytest.param(
        Case(
            history(cadence("week", "fri"), start="2025-03-08", done=[d("2025-03-14")]),
            "2025-03-19",
            ".KO",
            current=1,
            longest=1,
            at_risk=True,
        ),
        id="weekly fri starting on a saturday: the first week has no due day left, it rests",
    ),
    pytest.param(
        Case(
            history(cadence("week", "fri"), start="2025-03-03", done=[d("2025-03-07")], end=d("2025-03-12")),
            "2025-03-20",
            "K.",
            current=1,
            longest=1,
            at_risk=False,
            more={"missed": 0},
        ),
        id="weekly fri ending on a wednesday: the last week has no due day left, it rests",
    ),
    pytest.param(
        Case(
            history(start="2025-03-01", done=span("2025-03-01", "2025-03-05"), end=d("2025-03-05")),
            "2025-03-10",
            "KKKKK",
            current=5,
            longest=5,
            at_risk=False,
            more={"completion_rate": 1.0},
        ),
        id="an ended ritual lists nothing after its end",
    ),
    pytest.param(
        Case(
            history(start="2025-03-10", done=[d("2025-03-09")]),
            "2025-03-05",
            "",
            current=0,
            longest=0,
            at_risk=False,
            more={
                "completion_rate": None,
                "strength": 0.0,
                "last_completion": None,
                "periods_until_break": 1,
            },
        ),
        id="today before the start: no periods",
    ),
]


@pytest.mark.parametrize("case", CASES)
def test_statuses_and_summary(case: Case) -> None:
    today = d(case.today)
    summary = summarize(case.history, today)
    assert letters(outcomes(case.history, today)) == case.statuses
    got = {"current": summary.current_streak, "longest": summary.longest_streak, "at_risk": summary.at_risk}
    assert got == {"current": case.current, "longest": case.longest, "at_risk": case.at_risk}
    assert {name: getattr(summary, name) for name in case.more} == case.more


def test_acceptance_scenario() -> None:
    """Daily from 30 days ago; done on -20..-15 and -10..-1; a skip on -14."""
    today = d("2025-06-30")

    def ago(n: int) -> date:
        return today - timedelta(days=n)

    done = [ago(n) for n in range(1, 11)] + [ago(n) for n in range(15, 21)]
    scenario = History(
        versions=((ago(30), cadence()),),
        start=ago(30),
        completions=tuple(Done(day) for day in done),
        skips=(ago(14),),
    )
    assert letters(outcomes(scenario, today)) == "M" * 10 + "K" * 6 + "S" + "MMM" + "K" * 10 + "O"
    before = summarize(scenario, today)
    assert (before.current_streak, before.longest_streak, before.at_risk) == (10, 10, True)

    after = summarize(replace(scenario, completions=(*scenario.completions, Done(today))), today)
    assert (after.current_streak, after.longest_streak, after.at_risk) == (11, 11, False)


def test_each_period_counts_its_own_completions_per_person() -> None:
    week = history(cadence("week", times=2), start="2025-03-03", done=[d("2025-03-03"), d("2025-03-04")])
    week = replace(week, completions=(*week.completions, Done(d("2025-03-05"), "ana")))
    first = outcomes(week, d("2025-03-10"))[0]
    assert (first.period, first.done, first.target) == (Period(d("2025-03-03"), d("2025-03-10")), 3, 2)
    assert first.by_person == {"": 2, "ana": 1}


@pytest.mark.parametrize(
    ("who", "statuses", "done"),
    [
        pytest.param(("ana", "ben"), "KO", 1, id="both did it: kept"),
        pytest.param(("ana", "carl"), "MO", 0, id="ben missing (carl is not listed): not kept"),
        pytest.param(("ana", "ana"), "MO", 0, id="ana twice does not stand in for ben"),
    ],
)
def test_complete_when_both(who: tuple[str, str], statuses: str, done: int) -> None:
    couple = History(
        versions=((d("2025-03-01"), cadence()),),
        start=d("2025-03-01"),
        completions=tuple(Done(d("2025-03-01"), person) for person in who),
        people=("ana", "ben"),
        complete_when=CompleteWhen.BOTH,
    )
    listed = outcomes(couple, d("2025-03-02"))
    assert letters(listed) == statuses
    assert listed[0].done == done
    either = replace(couple, complete_when=CompleteWhen.EITHER)
    assert letters(outcomes(either, d("2025-03-02"))) == "KO"


def test_cadence_change_keeps_old_statuses() -> None:
    """Daily until 03-16, weekdays from 03-17: old weekends stay missed, new ones rest."""
    done = [
        *span("2025-03-01", "2025-03-07"),
        *span("2025-03-10", "2025-03-21"),
        *span("2025-03-24", "2025-03-25"),
    ]
    changed = History(
        versions=((d("2025-03-01"), cadence()), (d("2025-03-17"), cadence(on="weekdays"))),
        start=d("2025-03-01"),
        completions=tuple(Done(day) for day in done),
    )
    today = d("2025-03-26")
    assert letters(outcomes(changed, today)) == "K" * 7 + "MM" + "K" * 12 + "..KKO"
    summary = summarize(changed, today)
    assert (summary.current_streak, summary.longest_streak, summary.period) == (14, 14, Every.DAY)

    daily_only = replace(changed, versions=changed.versions[:1])
    old_days = d("2025-03-16")
    assert outcomes(changed, old_days) == outcomes(daily_only, old_days)
    weekdays_all_along = replace(changed, versions=((d("2025-03-01"), cadence(on="weekdays")),))
    assert letters(outcomes(weekdays_all_along, today))[:9] == "..KKKKK.."


def test_cadence_change_clips_the_old_period() -> None:
    """Weekly, then daily from thursday 03-13: the week of 03-10 is judged over mon..wed only."""
    change = History(
        versions=((d("2025-03-03"), cadence("week")), (d("2025-03-13"), cadence())),
        start=d("2025-03-03"),
        completions=tuple(Done(day) for day in (d("2025-03-05"), d("2025-03-11"), d("2025-03-13"))),
    )
    listed = outcomes(change, d("2025-03-15"))
    assert [o.period for o in listed[:3]] == [
        Period(d("2025-03-03"), d("2025-03-10")),
        Period(d("2025-03-10"), d("2025-03-13")),
        Period(d("2025-03-13"), d("2025-03-14")),
    ]
    assert letters(listed) == "KKKMO"


def test_cadence_change_waits_for_the_new_cadences_first_period() -> None:
    """Monthly from 03-10 judges from april 1st; daily judges march to its end."""
    change = History(
        versions=((d("2025-03-01"), cadence()), (d("2025-03-10"), cadence("month"))),
        start=d("2025-03-01"),
    )
    listed = outcomes(change, d("2025-04-05"))
    assert len(listed) == 32
    assert listed[-2].period == Period(d("2025-03-31"), d("2025-04-01"))
    assert listed[-1].period == Period(d("2025-04-01"), d("2025-05-01"))
    assert summarize(change, d("2025-04-05")).period is Every.MONTH


def test_a_clipped_month_whose_due_day_comes_after_the_change_rests() -> None:
    """Monthly on the 15th, then daily from 03-10: march's month is judged over 03-01..03-09 only."""
    change = History(
        versions=((d("2025-01-01"), cadence("month", "15")), (d("2025-03-10"), cadence())),
        start=d("2025-01-01"),
        completions=(Done(d("2025-01-15")), Done(d("2025-02-03")), Done(d("2025-03-10"))),
    )
    listed = outcomes(change, d("2025-03-11"))
    assert listed[2].period == Period(d("2025-03-01"), d("2025-03-10"))
    assert letters(listed) == "KK.KO"


@pytest.mark.parametrize(
    ("old", "new", "today"),
    [
        pytest.param(cadence(), cadence("week", times=2), "2025-03-03", id="daily, weekly from today"),
        pytest.param(cadence("week", times=2), cadence(), "2025-03-03", id="weekly, daily from today"),
        pytest.param(cadence("month", "first sat"), cadence(), "2025-03-01", id="monthly, daily from today"),
    ],
)
def test_a_version_that_starts_today_leaves_the_closed_periods_alone(
    old: Cadence, new: Cadence, today: str
) -> None:
    """Its first period is the open one, so strength and counts are the old version's alone."""
    done = [day for day in span("2025-01-06", "2025-03-03") if day < d(today) and day.toordinal() % 3]
    one = history(old, start="2025-01-06", done=done)
    two = replace(one, versions=(*one.versions, (d(today), new)))
    assert len(outcomes(two, d(today))) == len(outcomes(one, d(today)))
    before, after = summarize(one, d(today)), summarize(two, d(today))
    assert (after.strength, after.kept, after.missed, after.longest_streak) == (
        before.strength,
        before.kept,
        before.missed,
        before.longest_streak,
    )
    assert 0 < after.strength < 1


def test_a_clipped_period_decays_by_its_own_length() -> None:
    """Weekly, then daily from thursday 03-13: the week of 03-10 spans 3 days, so it decays by m ** 3."""
    change = History(
        versions=((d("2025-03-03"), cadence("week")), (d("2025-03-13"), cadence())),
        start=d("2025-03-03"),
        completions=(Done(d("2025-03-05")), Done(d("2025-03-11"))),
    )
    m = 0.5 ** ((1 / 7) ** 0.5 / 13)
    first_week = 1 - m**7
    assert summarize(change, d("2025-03-13")).strength == pytest.approx(first_week * m**3 + (1 - m**3))


ON_WORDS = {
    Every.DAY: ["", "weekdays", "sat", "mon, thu"],
    Every.WEEK: ["", "fri", "mon, wed, sun"],
    Every.MONTH: ["", "first sat", "fifth fri", "15", "31", "last", "sat", "second tue, 1"],
}


@st.composite
def one_cadence_histories(draw: st.DrawFn) -> tuple[History, date]:
    """Any cadence (months and their rules too), an optional end, skips and pauses; no freezes."""
    every = draw(st.sampled_from(list(Every)))
    words = [w.strip() for w in draw(st.sampled_from(ON_WORDS[every])).split(",") if w.strip()]
    cad = Cadence(
        every=every,
        interval=draw(st.integers(1, 2)),
        times=draw(st.integers(1, 2)),
        on=parse_due_days(every, words),
        anchor=BASE,
    )
    start = BASE + timedelta(days=draw(st.integers(0, 40)))
    days = st.integers(-5, 150).map(lambda n: start + timedelta(days=n))
    hist = History(
        versions=((start, cad),),
        start=start,
        completions=tuple(map(Done, draw(st.lists(days, max_size=120)))),
        skips=tuple(draw(st.lists(days, max_size=3))),
        pauses=tuple(
            PausedSpan(day, day + timedelta(days=draw(st.integers(0, 20))))
            for day in draw(st.lists(days, max_size=1))
        ),
        end=draw(st.none() | days.filter(lambda day: day >= start)),
    )
    return hist, start + timedelta(days=draw(st.integers(0, 150)))


def paused(hist: History, day: date) -> bool:
    return any(p.start <= day <= (p.until or date.max) for p in hist.pauses)


@settings(deadline=None)
@given(one_cadence_histories())
def test_each_status_follows_the_rule_day_by_day(case: tuple[History, date]) -> None:
    """An oracle that looks at every day of every period, checking the bulk judgement's shortcuts."""
    hist, today = case
    cad = hist.versions[0][1]
    last = hist.end or date.max
    for o in outcomes(hist, today):
        days = [o.period.start + timedelta(days=n) for n in range((o.period.end - o.period.start).days)]
        mine = [day for day in days if hist.start <= day]
        due = [day for day in mine if day <= last and is_due_day(cad, day)]
        done = sum(day in mine for day, _by in hist.completions)
        if not due:
            expected = "."
        elif done >= cad.times:
            expected = "K"
        elif any(day in mine for day in hist.skips):
            expected = "S"
        elif hist.pauses and all(paused(hist, day) for day in due):
            expected = "P"
        else:
            expected = "O" if today < o.period.end else "M"
        assert (letters([o]), o.done) == (expected, done), o.period


def test_dst_week_has_seven_days() -> None:
    berlin = history(cadence("week", timezone="Europe/Berlin"), start="2025-10-20")
    lengths = [(o.period.end - o.period.start).days for o in outcomes(berlin, d("2025-11-05"))]
    assert lengths == [7, 7, 7]


def test_no_versions_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least one cadence version"):
        summarize(History(versions=(), start=d("2025-03-01")), d("2025-03-02"))


def daily_strength(kept_days: int, **fields: Any) -> float:
    start = d("2025-03-01")
    kept = [start + timedelta(days=n) for n in range(kept_days)]
    return summarize(history(done=kept, **fields), kept[-1] + timedelta(days=1)).strength


def test_strength_half_life() -> None:
    assert daily_strength(13) == pytest.approx(0.5)


def test_strength_of_empty_history() -> None:
    assert summarize(history(), d("2025-03-01")).strength == 0.0
    assert summarize(history(), d("2025-03-20")).strength == 0.0


@pytest.mark.parametrize(
    "excused",
    [
        pytest.param({"skips": tuple(span("2025-03-14", "2025-03-18"))}, id="skips"),
        pytest.param({"pauses": (PausedSpan(d("2025-03-14"), d("2025-03-18")),)}, id="pause"),
        pytest.param({"freezes_per_month": 5}, id="freezes"),
    ],
)
def test_strength_ignores_excused_periods(excused: dict[str, Any]) -> None:
    first13 = span("2025-03-01", "2025-03-13")
    quiet = summarize(history(done=first13, **excused), d("2025-03-19"))
    assert quiet.excused == 5
    assert quiet.strength == pytest.approx(0.5)
    assert summarize(history(done=first13), d("2025-03-19")).strength < 0.5


def test_strength_of_a_partial_week() -> None:
    """Half of a times=2 week: value 0.5 with f = 2/7 per day over 7 days."""
    one = history(cadence("week", times=2), start="2025-03-03", done=[d("2025-03-04")])
    decay = (0.5 ** ((2 / 7) ** 0.5 / 13)) ** 7
    assert summarize(one, d("2025-03-10")).strength == pytest.approx(0.5 * (1 - decay))


def test_strength_ignores_rest_days() -> None:
    weekdays = history(cadence(on="weekdays"), start="2025-03-03", done=span("2025-03-03", "2025-03-07"))
    assert summarize(weekdays, d("2025-03-08")).strength == pytest.approx(
        summarize(weekdays, d("2025-03-10")).strength
    )


def loop_daily_score(checked: list[bool]) -> float:
    """Loop Habit Tracker's score of a daily habit, one day at a time, the last day included."""
    multiplier = 0.5 ** (1 / 13)
    score = 0.0
    for value in checked:
        score = score * multiplier + (1.0 if value else 0.0) * (1 - multiplier)
    return score


def test_strength_counts_today_once_it_is_kept() -> None:
    """Loop's own case: thirteen checks in a row, today's the last, is a strength of one half."""
    kept = span("2025-03-01", "2025-03-13")
    assert summarize(history(done=kept), d("2025-03-13")).strength == pytest.approx(0.5)


def test_an_open_today_neither_raises_nor_lowers_strength() -> None:
    kept = span("2025-03-01", "2025-03-12")
    yesterday = summarize(history(done=kept), d("2025-03-12")).strength
    assert summarize(history(done=kept), d("2025-03-13")).strength == pytest.approx(yesterday)
    twice = history(cadence(times=2), done=[*kept, *kept])
    partly = replace(twice, completions=(*twice.completions, Done(d("2025-03-13"))))  # today: one of two
    assert summarize(partly, d("2025-03-13")).strength == pytest.approx(
        summarize(twice, d("2025-03-12")).strength
    )


def test_strength_counts_this_week_once_it_is_kept() -> None:
    weekly = cadence("week")
    m7 = (0.5 ** ((1 / 7) ** 0.5 / 13)) ** 7
    done = [d("2025-03-04"), d("2025-03-12")]  # kept the week of 03-03, and this week by Wednesday
    assert summarize(
        history(weekly, start="2025-03-03", done=done), d("2025-03-12")
    ).strength == pytest.approx((1 - m7) * m7 + (1 - m7))
    open_week = summarize(history(weekly, start="2025-03-03", done=done[:1]), d("2025-03-12"))
    assert open_week.strength == pytest.approx(1 - m7)


def test_strength_counts_a_period_not_how_its_completions_fall_in_it() -> None:
    """Calendar periods, not Loop's sliding window: three on a Monday count like three spread out."""
    week = cadence("week", times=3)
    monday = history(week, start="2025-03-03", done=[d("2025-03-03")] * 3)
    spread = history(week, start="2025-03-03", done=[d("2025-03-03"), d("2025-03-05"), d("2025-03-09")])
    assert summarize(monday, d("2025-03-12")).strength == summarize(spread, d("2025-03-12")).strength > 0


@settings(max_examples=100, deadline=None)
@given(st.lists(st.booleans(), min_size=1, max_size=80))
def test_a_daily_strength_is_loops_score(checked: list[bool]) -> None:
    """Daily, it is Loop's score of today when today is kept, and of yesterday while today is open."""
    start = d("2025-03-01")
    done = [start + timedelta(days=n) for n, value in enumerate(checked) if value]
    today = start + timedelta(days=len(checked) - 1)
    counted = checked if checked[-1] else checked[:-1]
    assert summarize(history(done=done), today).strength == pytest.approx(loop_daily_score(counted))


# Properties over random daily and weekly rituals.

BASE = date(2024, 1, 1)


@st.composite
def cadences(draw: st.DrawFn) -> Cadence:
    every = draw(st.sampled_from([Every.DAY, Every.WEEK]))
    weekdays = draw(st.lists(st.sampled_from(["mon", "tue", "wed", "thu", "fri", "sat", "sun"]), unique=True))
    return Cadence(
        every=every,
        interval=draw(st.integers(1, 2)) if every is Every.WEEK else 1,
        times=draw(st.integers(1, 2)),
        on=parse_due_days(every, weekdays),
        anchor=BASE,
    )


@st.composite
def histories(draw: st.DrawFn) -> tuple[History, date]:
    start = BASE + timedelta(days=draw(st.integers(0, 60)))
    versions = [(start, draw(cadences()))]
    if draw(st.booleans()):
        versions.append((start + timedelta(days=draw(st.integers(1, 60))), draw(cadences())))
    offsets = st.integers(-5, 100)
    people = draw(st.sampled_from([(), ("ana", "ben")]))
    completions = draw(
        st.lists(
            st.builds(
                Done, offsets.map(lambda n: start + timedelta(days=n)), st.sampled_from(["", "ana", "ben"])
            )
        )
    )
    pauses = draw(
        st.lists(
            st.builds(
                lambda begin, length: PausedSpan(
                    begin, None if length is None else begin + timedelta(days=length)
                ),
                offsets.map(lambda n: start + timedelta(days=n)),
                st.none() | st.integers(0, 20),
            ),
            max_size=2,
        )
    )
    hist = History(
        versions=tuple(versions),
        start=start,
        completions=tuple(completions),
        skips=tuple(draw(st.lists(offsets.map(lambda n: start + timedelta(days=n)), max_size=5))),
        pauses=tuple(pauses),
        people=people,
        complete_when=draw(st.sampled_from(CompleteWhen)),
        freezes_per_month=draw(st.integers(0, 2)),
    )
    return hist, start + timedelta(days=draw(st.integers(0, 100)))


@settings(deadline=None)
@given(histories(), st.integers(0, 160).map(lambda n: BASE + timedelta(days=n)))
def test_a_skip_never_lowers_the_streak(case: tuple[History, date], skip: date) -> None:
    hist, today = case
    skipped = replace(hist, skips=(*hist.skips, skip))
    assert summarize(skipped, today).current_streak >= summarize(hist, today).current_streak


@settings(deadline=None)
@given(
    histories(),
    st.integers(0, 160).map(lambda n: BASE + timedelta(days=n)),
    st.sampled_from(["", "ana", "ben"]),
)
def test_a_completion_never_lowers_streaks(case: tuple[History, date], day: date, by: str) -> None:
    hist, today = case
    before = summarize(hist, today)
    after = summarize(replace(hist, completions=(*hist.completions, Done(day, by))), today)
    assert after.current_streak >= before.current_streak
    assert after.longest_streak >= before.longest_streak


@settings(deadline=None)
@given(histories())
def test_longest_is_at_least_current(case: tuple[History, date]) -> None:
    summary: StreakSummary = summarize(*case)
    assert summary.longest_streak >= summary.current_streak
    assert summary.kept >= summary.current_streak


@settings(deadline=None)
@given(histories())
def test_periods_tile_from_the_start_to_today(case: tuple[History, date]) -> None:
    hist, today = case
    listed = outcomes(hist, today)
    assert listed[0].period.start == period_of(hist.versions[0][1], hist.start).start
    assert today in listed[-1].period
    for older, newer in itertools.pairwise(listed):
        assert older.period.start < older.period.end == newer.period.start
    statuses = [o.status for o in listed]
    assert PeriodStatus.OPEN not in statuses[:-1]
    if len(hist.versions) == 1:  # unclipped: each period is the cadence's own calendar period
        assert all(period_of(hist.versions[0][1], o.period.start) == o.period for o in listed)


@settings(deadline=None)
@given(histories())
def test_summary_agrees_with_outcomes(case: tuple[History, date]) -> None:
    hist, today = case
    listed, summary = outcomes(hist, today), summarize(hist, today)
    statuses = [o.status for o in listed]
    counts = (summary.kept, summary.missed, summary.excused)
    assert counts == tuple(
        statuses.count(s) for s in (PeriodStatus.KEPT, PeriodStatus.MISSED, PeriodStatus.EXCUSED)
    )
    assert summary.freezes_used == sum(1 for o in listed if o.excuse is Excuse.FREEZE)
    assert 0.0 <= summary.strength <= 1.0


@settings(deadline=None)
@given(histories(), st.randoms(use_true_random=False))
def test_order_of_records_does_not_matter(case: tuple[History, date], rnd: random.Random) -> None:
    hist, today = case
    completions, skips, pauses = list(hist.completions), list(hist.skips), list(hist.pauses)
    rnd.shuffle(completions)
    rnd.shuffle(skips)
    rnd.shuffle(pauses)
    shuffled = replace(hist, completions=tuple(completions), skips=tuple(skips), pauses=tuple(pauses))
    assert outcomes(shuffled, today) == outcomes(hist, today)
    assert summarize(shuffled, today) == summarize(hist, today)


def test_a_back_filled_completion_mends_a_missed_day() -> None:
    gap = history(done=[d("2025-03-01"), d("2025-03-02"), d("2025-03-04")])
    today = d("2025-03-05")
    assert (letters(outcomes(gap, today)), summarize(gap, today).current_streak) == ("KKMKO", 1)
    mended = replace(gap, completions=(*gap.completions, Done(d("2025-03-03"))))  # recorded last
    assert (letters(outcomes(mended, today)), summarize(mended, today).current_streak) == ("KKKKO", 4)


@given(histories())
def test_the_summary_with_the_newest_period_is_summarize_and_the_last_outcome(
    case: tuple[History, date],
) -> None:
    """The today page judges once; it must agree with the two calls it replaces."""
    from scheduler.domain.streaks import summarize_with_newest

    history, today = case
    judged = outcomes(history, today)
    assert summarize_with_newest(history, today) == (
        summarize(history, today),
        judged[-1] if judged else None,
    )


@given(one_cadence_histories())
def test_the_newest_period_agrees_for_any_cadence(case: tuple[History, date]) -> None:
    from scheduler.domain.streaks import summarize_with_newest

    history, today = case
    judged = outcomes(history, today)
    assert summarize_with_newest(history, today)[1] == (judged[-1] if judged else None)
