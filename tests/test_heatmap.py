"""The terminal heatmap: which status each cell shows, and the plain and coloured calendars."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pytest
from rich.console import Console
from rich.text import Text

from scheduler.cli.heatmap import PLAIN_CHARS, render_heatmap
from scheduler.domain.cadence import Cadence, Every, parse_due_days
from scheduler.domain.heatmap import Cell, heatmap_cells
from scheduler.domain.streaks import Done, History


def d(text: str) -> date:
    return date.fromisoformat(text)


def history(
    every: str = "day",
    on: str = "",
    start: str = "2026-03-04",
    done: tuple[str, ...] = (),
    skips: tuple[date, ...] = (),
) -> History:
    kind = Every(every)
    cadence = Cadence(every=kind, on=parse_due_days(kind, [on] if on else []))
    return History(
        versions=((d(start), cadence),),
        start=d(start),
        completions=tuple(Done(d(day)) for day in done),
        skips=skips,
    )


def chars(cells: list[Cell]) -> str:
    return "".join(PLAIN_CHARS[cell.status] for cell in cells)


# Three weeks, Monday 2 March to Sunday 22 March 2026; the ritual starts on Wednesday the 4th.
THREE_WEEKS = history(
    done=(
        "2026-03-04",
        "2026-03-05",
        "2026-03-07",
        "2026-03-08",
        *(f"2026-03-{day:02}" for day in range(9, 14)),
        "2026-03-16",
        "2026-03-17",
        "2026-03-19",
        "2026-03-21",
    ),
    skips=(d("2026-03-14"),),
)
TODAY = d("2026-03-22")


@pytest.mark.parametrize(
    ("hist", "today", "days", "expected"),
    [
        pytest.param(
            THREE_WEEKS, TODAY, 21, "  ##x#######-x##x#x#o", id="daily: before start, kept, skip, open"
        ),
        pytest.param(
            history(on="weekdays", start="2026-03-02", done=("2026-03-02", "2026-03-03")),
            d("2026-03-09"),
            8,
            "##xxx..o",
            id="weekdays-only: the weekend rests",
        ),
        pytest.param(
            history("week", "fri", start="2026-02-02", done=("2026-02-06", "2026-02-20")),
            d("2026-03-04"),
            35,
            " #x#xo",
            id="weekly: one cell per week, the first before the start",
        ),
        pytest.param(
            history("month", start="2025-06-10", done=("2025-06-11", "2025-08-01", "2026-03-01")),
            d("2026-03-04"),
            365,
            "  #x#xxxxxx#",
            id="monthly: twelve cells at most, months before the start blank",
        ),
    ],
)
def test_cell_statuses(hist: History, today: date, days: int, expected: str) -> None:
    cells = heatmap_cells(hist, today, days)
    assert chars(cells) == expected


def test_daily_cells_are_one_per_day_ending_today() -> None:
    cells = heatmap_cells(THREE_WEEKS, TODAY, 21)
    assert [cell.day for cell in cells] == [d("2026-03-02") + timedelta(days=n) for n in range(21)]
    assert cells[2] == Cell(d("2026-03-04"), cells[2].status, 1)


def test_weekly_cells_cover_a_year_in_at_most_53_weeks() -> None:
    cells = heatmap_cells(history("week", start="2020-01-01"), d("2026-03-04"))
    assert len(cells) == 53
    assert cells[-1].day == d("2026-03-02")
    assert [cell.day for cell in cells] == [
        d("2026-03-02") - timedelta(days=7 * n) for n in range(52, -1, -1)
    ]


def test_a_heatmap_needs_a_day() -> None:
    with pytest.raises(ValueError, match="a heatmap needs at least one day, not '0'"):
        heatmap_cells(THREE_WEEKS, TODAY, 0)


def test_plain_three_weeks_exactly() -> None:
    text = render_heatmap("talk", heatmap_cells(THREE_WEEKS, TODAY, 21), Every.DAY, color=False)
    assert text == (
        "talk (daily), 2026-03-02 to 2026-03-22\n"
        "    Mar\n"
        "Mon  ##\n"
        "Tue  ##\n"
        "Wed ##x\n"
        "Thu ###\n"
        "Fri x#x\n"
        "Sat #-#\n"
        "Sun #xo\n"
        "legend: # kept  x missed  - excused  o open  . rest  (blank) before start\n"
    )


def test_plain_weekly_and_monthly_rows() -> None:
    weekly = history("week", "fri", start="2026-02-02", done=("2026-02-06", "2026-02-20"))
    text = render_heatmap("date-night", heatmap_cells(weekly, d("2026-03-04"), 35), Every.WEEK, color=False)
    assert text.splitlines()[:3] == [
        "date-night (weekly), 2026-01-26 to 2026-03-02",
        "     Feb Mar",
        "     #x#xo",
    ]
    monthly = history("month", start="2025-06-10", done=("2025-06-11", "2025-08-01", "2026-03-01"))
    text = render_heatmap("new", heatmap_cells(monthly, d("2026-03-04")), Every.MONTH, color=False)
    assert text.splitlines()[1:3] == [
        "    Apr May Jun Jul Aug Sep Oct Nov Dec Jan Feb Mar",
        "            #   x   #   x   x   x   x   x   x   #",
    ]


def test_year_long_month_labels_sit_over_the_week_of_the_first() -> None:
    today = d("2026-03-08")
    cells = heatmap_cells(history(start="2025-01-01"), today)
    lines = str(render_heatmap("talk", cells, Every.DAY, color=False)).splitlines()
    assert len(lines) == 1 + 1 + 7 + 1
    origin = cells[0].day - timedelta(days=cells[0].day.weekday())
    for first, label in [(d("2025-04-01"), "Apr"), (d("2025-12-01"), "Dec"), (d("2026-03-01"), "Mar")]:
        column = (first - origin).days // 7
        assert lines[1][4 + column : 4 + column + 3] == label
    assert all(len(line) <= 4 + 53 for line in lines[2:9])


def test_colour_is_a_rich_text_with_the_same_grid() -> None:
    rendered = render_heatmap("talk", heatmap_cells(THREE_WEEKS, TODAY, 21), Every.DAY, color=True)
    assert isinstance(rendered, Text)
    out = io.StringIO()
    Console(file=out, width=120, color_system="truecolor", force_terminal=True).print(rendered)
    assert "\x1b[" in out.getvalue()
    plain = rendered.plain.splitlines()
    assert plain[0] == "talk (daily), 2026-03-02 to 2026-03-22"
    assert plain[4].rstrip() == "Wed ■ ■ ■"
    assert plain[7].rstrip() == "Sat ■ ■ ■"
    assert "kept" in plain[-1] and "before start" in plain[-1]


def test_nothing_to_show() -> None:
    assert render_heatmap("talk", [], Every.DAY, color=False) == "talk: nothing to show yet\n"
