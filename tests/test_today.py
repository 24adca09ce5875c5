"""Where a ritual stands today, and whether a period is kept: the domain rules the page and the
daemon share (domain/today.py, domain/history.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from scheduler.domain.cadence import Cadence, CadenceVersion, Every, parse_due_days
from scheduler.domain.definitions import ritual_from_table
from scheduler.domain.history import history_of, keeps_period
from scheduler.domain.streaks import PeriodStatus
from scheduler.domain.today import Section, standing

FRIDAY = date(2026, 11, 27)
MONDAY = date(2026, 11, 23)


def both(**extra: object) -> dict[str, object]:
    return {"name": "walk", "every": "week", "people": ["alex", "sam"], "complete_when": "both", **extra}


@pytest.mark.parametrize(
    ("table", "marks", "kept"),
    [
        pytest.param(both(), [(FRIDAY, "alex")], False, id="both-one-of-two"),
        pytest.param(both(), [(MONDAY, "alex"), (FRIDAY, "sam")], True, id="both-each-on-another-day"),
        pytest.param(both(), [(FRIDAY, "alex"), (FRIDAY, "alex")], False, id="both-the-same-one-twice"),
        pytest.param(both(complete_when="either"), [(FRIDAY, "sam")], True, id="either-one"),
        pytest.param(
            {"name": "hug", "every": "week", "times": 2}, [(FRIDAY, "")], False, id="one-of-two-times"
        ),
        pytest.param({"name": "hug", "every": "week"}, [(date(2026, 11, 22), "")], False, id="last-week"),
    ],
)
def test_a_period_is_kept_as_the_streak_contract_says(
    table: dict[str, object], marks: list[tuple[date, str]], kept: bool
) -> None:
    ritual = ritual_from_table(table)
    assert keeps_period(ritual, [], marks, FRIDAY) is kept
    history = history_of(ritual, MONDAY, [], marks, [], [])
    assert standing(history, FRIDAY).kept is kept


def test_a_ritual_stands_in_today_this_week_or_later_by_its_next_due_day() -> None:
    def section(on: str, every: str = "week") -> Section:
        ritual = ritual_from_table({"name": "x", "every": every, "on": on})
        return standing(history_of(ritual, MONDAY, [], [], [], []), FRIDAY).section

    assert section("fri") is Section.TODAY
    assert section("sun") is Section.WEEK
    assert section("last", every="month") is Section.WEEK  # the 30th, three days on
    assert section("15", every="month") is Section.LATER


def test_standing_uses_the_cadence_in_force_today() -> None:
    weekly = Cadence(every=Every.WEEK, on=parse_due_days(Every.WEEK, ["mon"]))
    daily = Cadence(every=Every.DAY)
    ritual = ritual_from_table({"name": "stretch", "every": "day"})
    noted = datetime(2026, 11, 23, tzinfo=UTC)
    versions = [CadenceVersion(MONDAY, weekly, noted), CadenceVersion(FRIDAY, daily, noted)]
    history = history_of(ritual, MONDAY, versions, [(FRIDAY, "")], [], [])
    now = standing(history, FRIDAY)
    assert now.section is Section.TODAY
    assert now.period is not None and now.period.status is PeriodStatus.KEPT
    assert now.summary.period is Every.DAY


def test_a_weekday_ritual_seen_at_the_weekend_is_next_due_on_monday() -> None:
    saturday, sunday, next_monday = date(2026, 11, 28), date(2026, 11, 29), date(2026, 11, 30)
    ritual = ritual_from_table({"name": "stretch", "every": "day", "on": "weekdays"})
    history = history_of(ritual, MONDAY, [], [], [], [])
    for day in (saturday, sunday):
        now = standing(history, day)
        assert (now.next_due, now.following, now.section) == (next_monday, next_monday, Section.WEEK)
    friday = standing(history, FRIDAY)  # due today; after it, Monday (two rest days on)
    assert (friday.next_due, friday.following) == (FRIDAY, next_monday)
