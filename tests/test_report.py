"""Reports: the streaks row, a window's counts and balance, CSV/JSON shapes, windows and the digest.

The week used throughout is Monday 2026-03-02 .. Sunday 2026-03-08; most cases look at it
on Thursday 2026-03-05, so Monday..Wednesday are closed and Thursday is open.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.adapters.encoding import CSV_HEADER, JsonObject, report_csv, report_json, streak_json
from scheduler.app.views import StreakView
from scheduler.domain.cadence import Cadence, Every, parse_due_days
from scheduler.domain.definitions import CONNECTION_DIMENSIONS, CompleteWhen, Dimension, Ritual
from scheduler.domain.reminders import Reminders
from scheduler.domain.report import (
    DIGEST_MAX_RITUALS,
    RitualInput,
    balance_verdict,
    build_report,
    digest_text,
    digest_title,
    month_window,
    report_text,
    since_window,
    week_window,
)
from scheduler.domain.streaks import Done, History, PausedSpan, summarize


def streak_row(item: RitualInput) -> JsonObject:
    """The object `ritual streaks --json` prints for one ritual."""
    return streak_json(StreakView(item.ritual, summarize(item.history, item.today)))


def d(text: str) -> date:
    return date.fromisoformat(text)


def march(*days: int) -> list[date]:
    return [date(2026, 3, day) for day in days]


MONDAY, SUNDAY, THURSDAY = d("2026-03-02"), d("2026-03-08"), d("2026-03-05")


def item(
    name: str,
    dimension: str = "other",
    *,
    every: str = "day",
    on: str = "",
    done: list[date] | None = None,
    by: list[str] | None = None,
    start: date = MONDAY,
    today: date = THURSDAY,
    skips: list[date] | None = None,
    pauses: list[PausedSpan] | None = None,
    people: tuple[str, ...] = (),
    complete_when: str = "either",
    end: date | None = None,
    **cadence: Any,
) -> RitualInput:
    """A ritual the way a ritual file says it, with what people recorded; ``by`` pairs with ``done``."""
    kind = Every(every)
    words = [word.strip() for word in on.split(",") if word.strip()]
    cad = Cadence(every=kind, on=parse_due_days(kind, words), **cadence)
    when = CompleteWhen(complete_when)
    ritual = Ritual(
        name=name,
        title=name.replace("-", " ").capitalize(),
        cadence=cad,
        reminders=Reminders(),
        dimension=Dimension(dimension),
        people=people,
        complete_when=when,
        start=start,
        end=end,
    )
    names = by or [""] * len(done or [])
    history = History(
        versions=((start, cad),),
        start=start,
        completions=tuple(Done(day, who) for day, who in zip(done or [], names, strict=True)),
        skips=tuple(skips or []),
        pauses=tuple(pauses or []),
        end=end,
        people=people,
        complete_when=when,
    )
    return RitualInput(ritual, history, today)


# --- ritual streaks --json ------------------------------------------------------------------------

STREAK_KEYS = {
    "name",
    "title",
    "dimension",
    "period",
    "current_streak",
    "longest_streak",
    "completion_rate",
    "strength",
    "at_risk",
    "periods_until_break",
    "last_completion",
    "kept",
    "missed",
    "excused",
    "freezes_used",
}


def test_streak_row_for_the_issue_scenario() -> None:
    """Daily from 30 days ago, back-filled -10..-1 and -20..-15, day -14 skipped: 10 now, 10 longest."""
    today = d("2026-03-31")
    back = [today - timedelta(days=n) for n in [*range(1, 11), *range(15, 21)]]
    row = streak_row(
        item(
            "tech-free-talk",
            "emotional",
            done=back,
            start=today - timedelta(days=30),
            today=today,
            skips=[today - timedelta(days=14)],
        )
    )
    assert set(row) == STREAK_KEYS
    assert row["current_streak"] == 10
    assert row["longest_streak"] == 10
    assert row["period"] == "day"
    assert row["dimension"] == "emotional"
    assert row["at_risk"] is True
    assert row["last_completion"] == "2026-03-30"
    assert row["excused"] == 1
    # 16 kept of 29 closed judged days (30 closed days, one excused): rounded to three places.
    assert row["completion_rate"] == round(16 / 29, 3)
    assert row["strength"] == round(row["strength"], 3)
    json.dumps(row)  # plain JSON values only


def test_streak_row_before_any_closed_period_has_no_rate() -> None:
    row = streak_row(item("hug", start=THURSDAY))
    assert row["completion_rate"] is None
    assert row["last_completion"] is None
    assert row["current_streak"] == 0


# --- one ritual in a window -----------------------------------------------------------------------


@dataclass(frozen=True)
class CountCase:
    item: RitualInput
    window: tuple[date, date]
    counts: tuple[int, int, int, int, int]  # kept, missed, excused, open, rest
    completions: int
    rate: float | None
    by_person: dict[str, int] = field(default_factory=dict)
    statuses: str = ""  # one letter per listed period: K M E O .


LETTER = {"kept": "K", "missed": "M", "excused": "E", "open": "O", "rest": "."}

COUNT_CASES = [
    pytest.param(
        CountCase(
            item("talk", done=march(2), skips=march(3)),
            (MONDAY, SUNDAY),
            (1, 1, 1, 1, 0),
            completions=1,
            rate=0.5,
            statuses="KEMO",
        ),
        id="daily week on thursday: kept, skipped, missed, today open; no future days",
    ),
    pytest.param(
        CountCase(
            item("talk", on="weekdays", done=march(2, 3, 4, 5, 6, 7), today=d("2026-03-09")),
            (MONDAY, SUNDAY),
            (5, 0, 0, 0, 2),
            completions=6,
            rate=1.0,
            statuses="KKKKK..",
        ),
        id="weekdays-only: the weekend rests, a saturday completion still counts as done",
    ),
    pytest.param(
        CountCase(
            item(
                "date-night",
                every="week",
                on="fri",
                start=d("2026-02-01"),
                today=d("2026-03-20"),
                done=[d("2026-02-27"), d("2026-03-06")],
            ),
            month_window(d("2026-03-20")),
            (2, 1, 0, 1, 0),
            completions=1,
            rate=2 / 3,
            statuses="KKMO",
        ),
        id="weekly in a month: the week holding march 1st counts whole, its friday was in february",
    ),
    pytest.param(
        CountCase(
            item(
                "talk",
                people=("alex", "sam"),
                complete_when="both",
                done=march(2, 2, 3, 3),
                by=["alex", "sam", "alex", "alex"],
            ),
            (MONDAY, SUNDAY),
            (1, 2, 0, 1, 0),
            completions=1,
            rate=1 / 3,
            by_person={"alex": 3, "sam": 1},
            statuses="KMMO",
        ),
        id="both: sam missing on tuesday, alex twice is still one; two taps on monday are one",
    ),
    pytest.param(
        CountCase(
            item("talk", people=("alex", "sam"), done=march(2, 3), by=["alex", ""]),
            (MONDAY, SUNDAY),
            (2, 1, 0, 1, 0),
            completions=2,
            rate=2 / 3,
            by_person={"alex": 1, "sam": 0, "unnamed": 1},
        ),
        id="either, shared: who did what lists sam with 0 and an unnamed completion",
    ),
    pytest.param(
        CountCase(
            item("journal", "self", done=march(2, 3), by=["", "kim"]),
            (MONDAY, SUNDAY),
            (2, 1, 0, 1, 0),
            completions=2,
            rate=2 / 3,
            by_person={"kim": 1},
        ),
        id="solo: an unnamed completion is not a person",
    ),
    pytest.param(
        CountCase(
            item("old", start=d("2026-02-01"), end=d("2026-02-20"), done=march(2)),
            (MONDAY, SUNDAY),
            (0, 0, 0, 0, 0),
            completions=0,
            rate=None,
        ),
        id="ended before the window: no periods, a later completion counts for nothing",
    ),
    pytest.param(
        CountCase(
            item("talk", start=d("2026-02-20"), done=[d("2026-02-28"), d("2026-03-01"), *march(2)]),
            (MONDAY, SUNDAY),
            (1, 2, 0, 1, 0),
            completions=1,
            rate=1 / 3,
        ),
        id="completions before the window are not the window's",
    ),
    pytest.param(
        CountCase(
            item("talk", done=march(2, 3, 4), pauses=[PausedSpan(d("2026-03-03"), d("2026-03-04"))]),
            (d("2026-03-03"), d("2026-03-03")),
            (1, 0, 0, 0, 0),
            completions=1,
            rate=1.0,
        ),
        id="a one-day window; kept beats paused",
    ),
]


@pytest.mark.parametrize("case", COUNT_CASES)
def test_ritual_counts_in_a_window(case: CountCase) -> None:
    report = build_report([case.item], *case.window)
    (ritual,) = report.rituals
    assert (ritual.kept, ritual.missed, ritual.excused, ritual.open, ritual.rest) == case.counts
    assert ritual.completions == case.completions
    assert ritual.completion_rate == (None if case.rate is None else pytest.approx(case.rate))
    assert dict(ritual.by_person) == case.by_person
    assert len(ritual.periods) == sum(case.counts)
    if case.statuses:
        assert "".join(LETTER[str(o.status)] for o in ritual.periods) == case.statuses


def test_a_window_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(ValueError, match="the report window ends '2026-03-01' before it starts '2026-03-02'"):
        build_report([], MONDAY, d("2026-03-01"))


# --- balance --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BalanceCase:
    items: list[RitualInput]
    neglected: set[str]
    verdict: str
    shares: dict[str, float] = field(default_factory=dict)


BALANCE_CASES = [
    pytest.param(
        BalanceCase(
            [item("talk", "emotional", done=march(2, 3, 4)), item("hug", "physical", done=march(2))],
            {"intellectual", "experiential", "spiritual"},
            "emotional got most of your time; intellectual, experiential and spiritual have no ritual",
            {"emotional": 0.75, "physical": 0.25},
        ),
        id="one dimension leads; dimensions without a ritual are neglected",
    ),
    pytest.param(
        BalanceCase(
            [
                item("talk", "emotional", done=march(2, 3)),
                item("hug", "physical", done=march(2, 3)),
                item("read", "intellectual"),
            ],
            {"intellectual", "experiential", "spiritual"},
            "emotional and physical shared your time; intellectual was neglected; "
            "experiential and spiritual have no ritual",
            {"emotional": 0.5, "physical": 0.5, "intellectual": 0.0},
        ),
        id="a ritual missed with no completion is neglected",
    ),
    pytest.param(
        BalanceCase(
            [
                item("talk", "emotional", done=march(2)),
                item("hug", "physical", done=march(2)),
                item("read", "intellectual", done=march(2)),
                item("walk", "experiential", done=march(2)),
                item("gratitude", "spiritual", pauses=[PausedSpan(MONDAY, None)]),
            ],
            set(),
            "your time was spread across emotional, physical, intellectual and experiential; "
            "spiritual rested (excused or paused)",
            {"emotional": 0.25, "spiritual": 0.0},
        ),
        id="paused all week is a season, not neglect",
    ),
    pytest.param(
        BalanceCase(
            [
                item("talk", "emotional", done=march(2, 3)),
                item("hug", "physical", done=march(2)),
                item("read", "intellectual", done=march(2)),
                item("new", "experiential", every="month"),
                item("journal", "self", done=march(2, 3, 4, 5)),
                item("chores", "other", done=march(2, 3, 4, 5)),
            ],
            {"spiritual"},
            "emotional and physical got most of your time; too early to tell for experiential; "
            "spiritual has no ritual",
            {"emotional": 0.5, "physical": 0.25, "intellectual": 0.25, "experiential": 0.0},
        ),
        id="a monthly ritual still open is not neglect; self and other stay out of the shares",
    ),
    pytest.param(
        BalanceCase(
            [item("talk", "emotional"), item("journal", "self", done=march(2))],
            {"emotional", "physical", "intellectual", "experiential", "spiritual"},
            "nothing was recorded in this window yet; emotional was neglected; "
            "physical, intellectual, experiential and spiritual have no ritual",
        ),
        id="nothing done in the connection dimensions (a self ritual does not count)",
    ),
    pytest.param(
        BalanceCase(
            [item("talk", "emotional", done=march(2, 3, 4))],
            {"physical", "intellectual", "experiential", "spiritual"},
            "emotional got all of your time; "
            "physical, intellectual, experiential and spiritual have no ritual",
            {"emotional": 1.0},
        ),
        id="one dimension only",
    ),
    pytest.param(
        BalanceCase(
            [
                item("talk", "emotional", start=SUNDAY, today=SUNDAY, done=[SUNDAY]),
                item("hug", "physical", start=SUNDAY, today=SUNDAY),
                item("read", "intellectual", start=SUNDAY, today=SUNDAY),
                item("walk", "experiential", start=SUNDAY, today=SUNDAY, done=[SUNDAY]),
                item("gratitude", "spiritual", start=SUNDAY, today=SUNDAY),
            ],
            set(),
            "emotional and experiential shared your time; "
            "too early to tell for physical, intellectual and spiritual",
            {"physical": 0.0, "emotional": 0.5},
        ),
        id="the first day: nothing is left out yet, and nothing is said to be kept up",
    ),
    pytest.param(
        BalanceCase(
            [],
            {"emotional", "physical", "intellectual", "experiential", "spiritual"},
            "no rituals ran in this window yet",
        ),
        id="no rituals at all",
    ),
]


@pytest.mark.parametrize("case", BALANCE_CASES)
def test_balance(case: BalanceCase) -> None:
    report = build_report(case.items, MONDAY, SUNDAY)
    assert [entry.dimension for entry in report.balance] == list(CONNECTION_DIMENSIONS)
    assert {str(e.dimension) for e in report.balance if e.neglected} == case.neglected
    assert report.verdict == case.verdict
    shares = {str(e.dimension): e.share for e in report.balance}
    for dimension, share in case.shares.items():
        assert shares[dimension] == pytest.approx(share)


def test_self_and_other_are_reported_beside_the_balance() -> None:
    items = [
        item("talk", "emotional", done=march(2)),
        item("journal", "self", done=march(2, 3, 4)),
        item("chores", "other", done=march(2, 3)),
    ]
    report = build_report(items, MONDAY, SUNDAY)
    outside = {str(e.dimension): (e.rituals, e.kept, e.missed, e.completions) for e in report.outside}
    assert outside == {"self": (1, 3, 0, 3), "other": (1, 2, 1, 2)}
    assert sum(e.completions for e in report.balance) == 1


def test_the_gentle_verdict_does_not_say_neglected() -> None:
    items = [item("talk", "emotional", done=march(2)), item("read", "intellectual")]
    report = build_report(items, MONDAY, SUNDAY)
    assert balance_verdict(report.balance, gentle=True) == (
        "emotional got all of your time; intellectual could use a little time; "
        "physical, experiential and spiritual have no ritual yet"
    )


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(list(Dimension)), st.sets(st.integers(2, 5))),
        max_size=6,
    )
)
def test_balance_invariants(specs: list[tuple[Dimension, set[int]]]) -> None:
    """Shares sum to 1 (or all 0); period counts add up; a self ritual never moves the balance."""
    items = [item(f"r{n}", str(dim), done=march(*sorted(days))) for n, (dim, days) in enumerate(specs)]
    report = build_report(items, MONDAY, SUNDAY)
    total = sum(e.share for e in report.balance)
    assert total == pytest.approx(1.0) or total == 0.0
    for ritual in report.rituals:
        assert ritual.kept + ritual.missed + ritual.excused + ritual.open + ritual.rest == len(ritual.periods)
    with_self = build_report([*items, item("journal", "self", done=march(2, 3))], MONDAY, SUNDAY)
    assert with_self.balance == report.balance
    assert with_self.verdict == report.verdict


# --- output shapes --------------------------------------------------------------------------------


def sample_report() -> Any:
    items = [
        item(
            "talk",
            "emotional",
            people=("alex", "sam"),
            complete_when="both",
            done=march(2, 2, 3),
            by=["alex", "sam", "alex"],
            skips=march(4),
        ),
        item("journal", "self", done=march(3)),
    ]
    return build_report(items, MONDAY, SUNDAY)


def test_csv_has_the_header_then_one_row_per_ritual_period() -> None:
    rows = list(csv.reader(io.StringIO(report_csv(sample_report()))))
    assert tuple(rows[0]) == CSV_HEADER
    assert rows[1:] == [
        ["talk", "emotional", "2026-03-02", "2026-03-02", "kept", "1", "1", "", "alex=1;sam=1"],
        ["talk", "emotional", "2026-03-03", "2026-03-03", "missed", "0", "1", "", "alex=1;sam=0"],
        ["talk", "emotional", "2026-03-04", "2026-03-04", "excused", "0", "1", "skip", "alex=0;sam=0"],
        ["talk", "emotional", "2026-03-05", "2026-03-05", "open", "0", "1", "", "alex=0;sam=0"],
        ["journal", "self", "2026-03-02", "2026-03-02", "missed", "0", "1", "", ""],
        ["journal", "self", "2026-03-03", "2026-03-03", "kept", "1", "1", "", ""],
        ["journal", "self", "2026-03-04", "2026-03-04", "missed", "0", "1", "", ""],
        ["journal", "self", "2026-03-05", "2026-03-05", "open", "0", "1", "", ""],
    ]


def test_csv_period_end_is_the_last_day_of_the_period() -> None:
    weekly = item("date-night", every="week", on="fri", start=d("2026-02-23"), today=SUNDAY)
    rows = list(csv.reader(io.StringIO(report_csv(build_report([weekly], MONDAY, SUNDAY)))))
    assert rows[1][2:5] == ["2026-03-02", "2026-03-08", "open"]


def test_json_shape() -> None:
    body = report_json(sample_report())
    json.dumps(body)
    assert set(body) == {"first", "last", "rituals", "balance"}
    assert (body["first"], body["last"]) == ("2026-03-02", "2026-03-08")
    talk = body["rituals"][0]
    assert set(talk) == {
        "name",
        "title",
        "dimension",
        "period",
        "kept",
        "missed",
        "excused",
        "open",
        "rest",
        "completions",
        "completion_rate",
        "by_person",
        "periods",
    }
    assert talk["by_person"] == {"alex": 2, "sam": 1}
    assert talk["completion_rate"] == 0.5
    assert talk["periods"][2] == {
        "key": "2026-03-04",
        "start": "2026-03-04",
        "end": "2026-03-04",
        "status": "excused",
        "done": 0,
        "target": 1,
        "excuse": "skip",
        "by_person": {"alex": 0, "sam": 0},
    }
    balance = body["balance"]
    assert set(balance) == {"dimensions", "outside", "verdict"}
    assert [e["dimension"] for e in balance["dimensions"]] == [str(x) for x in CONNECTION_DIMENSIONS]
    assert set(balance["dimensions"][0]) == {
        "dimension",
        "rituals",
        "kept",
        "missed",
        "completions",
        "share",
        "neglected",
    }
    assert balance["dimensions"][0]["share"] == 1.0
    assert [e["dimension"] for e in balance["outside"]] == ["self", "other"]
    assert set(balance["outside"][0]) == {"dimension", "rituals", "kept", "missed", "completions"}


def test_text_report() -> None:
    assert report_text(sample_report()) == (
        "Report 2026-03-02 to 2026-03-08\n"
        "\n"
        "talk (emotional, day): kept 1, missed 1, excused 1, open 1; rate 50%; by alex 2, sam 1\n"
        "journal (self, day): kept 1, missed 2, excused 0, open 1; rate 33%\n"
        "\n"
        "Balance (completions, share):\n"
        "  emotional       1  100%\n"
        "  physical        0    0%  no ritual\n"
        "  intellectual    0    0%  no ritual\n"
        "  experiential    0    0%  no ritual\n"
        "  spiritual       0    0%  no ritual\n"
        "  self            1  (not in the balance)\n"
        "  other           0  (not in the balance)\n"
        "\n"
        "Emotional got all of your time; physical, intellectual, experiential and spiritual have no ritual.\n"
    )


# --- windows --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("today", "first", "last"),
    [
        pytest.param("2026-03-02", "2026-03-02", "2026-03-08", id="monday starts its week"),
        pytest.param("2026-03-08", "2026-03-02", "2026-03-08", id="sunday ends it"),
        pytest.param("2026-03-05", "2026-03-02", "2026-03-08", id="midweek"),
        pytest.param("2027-01-01", "2026-12-28", "2027-01-03", id="across the new year"),
    ],
)
def test_week_window(today: str, first: str, last: str) -> None:
    assert week_window(d(today)) == (d(first), d(last))


@pytest.mark.parametrize(
    ("today", "first", "last"),
    [
        pytest.param("2028-02-10", "2028-02-01", "2028-02-29", id="leap february"),
        pytest.param("2026-02-28", "2026-02-01", "2026-02-28", id="short february, last day"),
        pytest.param("2026-12-01", "2026-12-01", "2026-12-31", id="december, first day"),
        pytest.param("2026-01-31", "2026-01-01", "2026-01-31", id="31-day month"),
    ],
)
def test_month_window(today: str, first: str, last: str) -> None:
    assert month_window(d(today)) == (d(first), d(last))


def test_since_runs_to_today_and_not_from_the_future() -> None:
    assert since_window(d("2026-01-15"), THURSDAY) == (d("2026-01-15"), THURSDAY)
    with pytest.raises(ValueError, match=r"^'2026-03-06' is after today \(2026-03-05\)$"):
        since_window(d("2026-03-06"), THURSDAY)


# --- the weekly digest ----------------------------------------------------------------------------


def household(today: date = SUNDAY) -> list[RitualInput]:
    start = d("2026-02-01")
    return [
        item(
            "tech-free-talk",
            "emotional",
            start=start,
            today=today,
            done=[start + timedelta(days=n) for n in range(35)],
        ),
        item(
            "date-night",
            "experiential",
            every="week",
            on="fri",
            start=start,
            today=today,
            done=[d("2026-02-06"), d("2026-02-13"), d("2026-02-20"), d("2026-02-27")],
        ),
        item("journal", "self", start=start, today=today, done=march(2, 4, 6), skips=march(3)),
    ]


def test_digest_title() -> None:
    assert digest_title(SUNDAY) == "Your week of rituals: Mon 2 Mar - Sun 8 Mar 2026"
    assert digest_title(d("2027-01-02")) == "Your week of rituals: Sun 27 Dec - Sat 2 Jan 2027"


def test_digest_content() -> None:
    text = digest_text(household(), SUNDAY)
    lines = text.splitlines()
    assert lines[0] == "Here is how the last seven days went."
    assert "- Tech free talk: kept 6 of 6 days, 35 days in a row" in lines  # today (sunday) still open
    assert "- Date night: this week is still open, 4 weeks in a row" in lines
    assert "- Journal: kept 3 of 5 days, 1 excused" in lines
    assert "Longest streak right now: Tech free talk, 35 days in a row." in lines
    assert (
        "Still open, if the day allows: Tech free talk (35 days so far), Date night (4 weeks so far)."
        in lines
    )
    # Date night's only week in the window is still open: not neglected.
    assert (
        "Balance: emotional got all of your time; too early to tell for experiential; "
        "physical, intellectual and spiritual have no ritual yet." in lines
    )
    assert "neglect" not in text


def test_digest_longest_streak_is_measured_in_days() -> None:
    """Six weeks in a row outlast thirty-five days."""
    fridays = [d("2026-01-30") + timedelta(days=7 * n) for n in range(6)]
    weekly = item(
        "date-night", "experiential", every="week", start=d("2026-01-26"), today=SUNDAY, done=fridays
    )
    text = digest_text([household()[0], weekly], SUNDAY)
    assert "Longest streak right now: Date night, 6 weeks in a row." in text


def test_digest_is_deterministic_and_short() -> None:
    many = [
        item(f"r{n}", str(CONNECTION_DIMENSIONS[n % 5]), done=march(*range(1 + n % 3, 6)), today=SUNDAY)
        for n in range(30)
    ]
    first, second = digest_text(many, SUNDAY), digest_text(many, SUNDAY)
    assert first == second
    lines = first.splitlines()
    assert len(lines) < 25
    assert f"- and {30 - DIGEST_MAX_RITUALS} more" in lines


def test_digest_without_rituals_or_streaks() -> None:
    assert "ritual add" in digest_text([], SUNDAY)
    quiet = digest_text([item("talk", "emotional", today=SUNDAY)], SUNDAY)
    assert "No streak is running right now" in quiet
    assert "Still open" not in quiet
    assert "emotional could use a little time" in quiet
