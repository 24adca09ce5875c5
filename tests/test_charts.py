"""``ritual report --chart``: the rolling kept share, the file formats, and what a missing extra says."""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from datetime import date, timedelta
from pathlib import Path

import pytest

from scheduler.adapters.charts import INSTALL_HINT, ChartsUnavailableError, write_chart
from scheduler.domain.cadence import Cadence, Every
from scheduler.domain.definitions import Dimension, Ritual
from scheduler.domain.reminders import Reminders
from scheduler.domain.report import RitualInput
from scheduler.domain.streaks import Done, History
from scheduler.domain.trends import ChartData, chart_data

START, TODAY = date(2026, 3, 1), date(2026, 3, 11)


def item(name: str, dimension: Dimension, every: Every, done: list[date], today: date = TODAY) -> RitualInput:
    cadence = Cadence(every=every)
    ritual = Ritual(
        name=name, title=name.title(), cadence=cadence, reminders=Reminders(), dimension=dimension
    )
    history = History(versions=((START, cadence),), start=START, completions=tuple(Done(day) for day in done))
    return RitualInput(ritual, history, today)


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


TALK = item("talk", Dimension.EMOTIONAL, Every.DAY, [day for day in days(START, TODAY) if day.day != 5])
DATE_NIGHT = item("date night", Dimension.EXPERIENTIAL, Every.WEEK, [date(2026, 3, 6)])


def sample() -> ChartData:
    return chart_data([TALK, DATE_NIGHT], date(2026, 2, 25), date(2026, 3, 15))


def test_rolling_kept_share() -> None:
    data = sample()
    assert data.days == tuple(days(date(2026, 2, 25), TODAY))  # nothing to sample after the newest today
    talk = dict(zip(data.days, data.series[0].kept_share, strict=True))
    assert talk[date(2026, 2, 28)] is None  # before the start
    assert talk[date(2026, 3, 1)] == 1.0
    assert talk[date(2026, 3, 5)] == 0.8
    assert talk[date(2026, 3, 10)] == 0.9
    assert talk[TODAY] == 0.9  # today is still running: only closed days count
    weekly = dict(zip(data.days, data.series[1].kept_share, strict=True))
    # The week of 23 Feb holds the start (Sunday 1 March) and closed missed; 2 March's week was kept.
    assert weekly[date(2026, 3, 1)] == 0.0
    assert weekly[date(2026, 3, 8)] == 0.5
    assert weekly[TODAY] == 0.5
    assert [entry.completions for entry in data.balance] == [10, 0, 0, 1, 0]


def test_long_windows_are_sampled_weekly() -> None:
    data = chart_data([TALK], date(2025, 9, 1), TODAY)
    assert data.days[1] - data.days[0] == timedelta(days=7)
    assert data.days[-1] == TODAY


def test_png(tmp_path: Path) -> None:
    path = write_chart(sample(), tmp_path / "report.png")
    assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_svg_is_xml_and_the_same_every_time(tmp_path: Path) -> None:
    first = write_chart(sample(), tmp_path / "one.svg").read_bytes()
    second = write_chart(sample(), tmp_path / "two.SVG").read_bytes()
    assert first == second
    root = ET.fromstring(first)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert b"<dc:date>" not in first


def test_empty_report_still_draws(tmp_path: Path) -> None:
    data = chart_data([], date(2026, 3, 2), date(2026, 3, 8))
    assert data.series == ()
    assert write_chart(data, tmp_path / "empty.svg").stat().st_size > 0


@pytest.mark.parametrize("name", ["x.pdf", "chart", "chart.png.txt"])
def test_only_png_and_svg(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match=rf"^chart file must end in \.png or \.svg: '{name}'$"):
        write_chart(sample(), tmp_path / name)
    assert not (tmp_path / name).exists()


def test_missing_matplotlib_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ChartsUnavailableError) as caught:
        write_chart(sample(), tmp_path / "x.png")
    assert str(caught.value) == f"charts need matplotlib: {INSTALL_HINT}"
    assert INSTALL_HINT == "pip install 'ritual-scheduler[charts]'"
