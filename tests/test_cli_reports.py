"""`ritual streaks`, `report`, `digest`, `export` and `import` end to end through the CLI."""

from __future__ import annotations

import csv
import io
import json
import os
import stat
from datetime import timedelta
from pathlib import Path

import pytest
from icalendar import Calendar

from tests.conftest import NOW, RitualCli, rows, snapshot

TODAY = NOW.date()  # 2026-11-24 in Berlin too (11:00 UTC)


def day(offset: int) -> str:
    return (TODAY + timedelta(days=offset)).isoformat()


@pytest.fixture
def scenario(installed: RitualCli) -> RitualCli:
    """Issue 3's acceptance case: daily from 30 days ago, back-filled runs, one skip."""
    installed("add", "bonding", "--every", "day", "--at", "20:00", "--start", day(-30))
    for offset in [*range(-10, 0), *range(-20, -14)]:
        installed("done", "bonding", "--date", day(offset))
    installed("skip", "bonding", "--date", day(-14))
    return installed


def test_streaks_json_reports_the_acceptance_numbers(scenario: RitualCli) -> None:
    (row,) = scenario.json("streaks", "bonding")
    assert {k: row[k] for k in ("name", "period", "current_streak", "longest_streak", "at_risk")} == {
        "name": "bonding",
        "period": "day",
        "current_streak": 10,
        "longest_streak": 10,
        "at_risk": True,
    }
    assert {"completion_rate", "strength"} <= row.keys()
    scenario("done", "bonding")
    (row,) = scenario.json("streaks", "bonding")
    assert (row["current_streak"], row["longest_streak"], row["at_risk"]) == (11, 11, False)


def test_streaks_lists_every_ritual_and_show_carries_the_streak(scenario: RitualCli) -> None:
    names = [r["name"] for r in scenario.json("streaks")]
    assert "bonding" in names
    assert "tech-free-talk" in names
    assert scenario.json("show", "bonding")["streak"]["current_streak"] == 10
    assert "streak: 10 days (longest 10)" in scenario("show", "bonding").stdout


def test_heatmap_prints_a_plain_calendar_when_piped(scenario: RitualCli) -> None:
    out = scenario("streaks", "bonding", "--heatmap").stdout
    lines = out.splitlines()
    assert lines[0].startswith("bonding (daily)")
    assert [line.split()[0] for line in lines[2:9]] == ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    assert out.count("#") >= 16 + 1  # sixteen kept days, plus the legend's
    assert "legend:" in out


def test_report_json_has_periods_and_balance(scenario: RitualCli) -> None:
    report = scenario.json("report", "--since", day(-20))
    assert (report["first"], report["last"]) == (day(-20), day(0))
    bonding = next(r for r in report["rituals"] if r["name"] == "bonding")
    assert (bonding["kept"], bonding["excused"], bonding["open"]) == (16, 1, 1)
    dimensions = [d["dimension"] for d in report["balance"]["dimensions"]]
    assert dimensions == ["emotional", "physical", "intellectual", "experiential", "spiritual"]
    assert report["balance"]["verdict"]


def test_report_csv_is_one_row_per_ritual_and_period(scenario: RitualCli) -> None:
    out = scenario("report", "--week", "--csv").stdout
    table = list(csv.DictReader(io.StringIO(out)))
    assert table
    assert set(table[0]) == {
        "ritual", "dimension", "period_start", "period_end", "status", "done", "target", "excuse", "by",
    }  # fmt: skip
    statuses = {r["period_start"]: r["status"] for r in table if r["ritual"] == "bonding"}
    assert statuses[day(-1)] == "kept"
    assert statuses[day(0)] == "open"


@pytest.mark.parametrize("name", ["chart.png", "chart.svg"])
def test_a_chart_is_its_owners_alone_whatever_the_umask(
    scenario: RitualCli, tmp_path: Path, name: str
) -> None:
    """Issue 15, item 8: under umask 022 a chart came out 0644, where exports are 0600."""
    chart = tmp_path / name
    chart.write_bytes(b"an older chart")
    chart.chmod(0o644)
    previous = os.umask(0o022)
    try:
        scenario("report", "--chart", str(chart))
    finally:
        os.umask(previous)
    assert stat.S_IMODE(chart.stat().st_mode) == 0o600
    assert chart.read_bytes() != b"an older chart"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary left


def test_a_chart_that_cannot_be_written_is_one_line(scenario: RitualCli, tmp_path: Path) -> None:
    result = scenario("report", "--chart", str(tmp_path / "missing" / "chart.png"), code=1)
    assert result.stderr.strip().endswith(f"chart.png: no such folder '{tmp_path / 'missing'}'")
    assert len(result.stderr.strip().splitlines()) == 1


def test_report_chart_writes_a_picture(scenario: RitualCli, tmp_path: Path) -> None:
    chart = tmp_path / "chart.svg"
    scenario("report", "--month", "--chart", str(chart))
    assert chart.read_text(encoding="utf-8").lstrip().startswith("<?xml")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["report", "--since", "2099-01-01"], "--since: '2099-01-01' is after today"),
        (["report", "--since", "soon"], "--since: not a date: 'soon'"),
        (["report", "--chart", "x.pdf"], "--chart: chart file must end in .png or .svg"),
        (["report", "--json", "--csv"], "--json and --csv: give one of them"),
        (["report", "--week", "--since", "2026-11-01"], "--week and --since: give one of them"),
        (["report", "--week", "--month"], "--week and --month: give one of them"),
        (["report", "--month", "--week", "--since", "2026-11-01"], "--week, --month and --since: give one"),
    ],
)
def test_report_refuses_bad_options(installed: RitualCli, args: list[str], message: str) -> None:
    assert message in installed(*args, code=2).stderr


def test_digest_is_short_and_names_the_streak(scenario: RitualCli) -> None:
    out = scenario("digest").stdout
    assert out.startswith("Your week of rituals")
    assert "10 days in a row" in out
    assert len(out.splitlines()) < 30


def test_export_import_round_trips_into_a_new_installation(scenario: RitualCli, tmp_path: Path) -> None:
    backup = tmp_path / "backup.json"
    scenario("export", "--output", str(backup))
    other = RitualCli(tmp_path / "other", scenario.clock)
    other("import", str(backup))
    assert other("export").stdout == backup.read_text(encoding="utf-8")
    assert "added 0 rituals, 0 completions" in other("import", str(backup)).stdout
    (row,) = other.json("streaks", "bonding")
    assert row["current_streak"] == 10


def test_export_csv_round_trips_too(scenario: RitualCli, tmp_path: Path) -> None:
    backup = tmp_path / "backup.csv"
    backup.write_text(scenario("export", "--format", "csv").stdout, encoding="utf-8")
    other = RitualCli(tmp_path / "other", scenario.clock)
    other("import", str(backup))
    assert other("export", "--format", "csv").stdout == backup.read_text(encoding="utf-8")


def test_import_dry_run_and_a_broken_file_change_nothing(scenario: RitualCli, tmp_path: Path) -> None:
    backup = tmp_path / "backup.json"
    scenario("export", "--output", str(backup))
    other = RitualCli(tmp_path / "other", scenario.clock)
    other("init")
    before = snapshot(other.database)
    dry_run = other("import", str(backup), "--dry-run").stdout
    assert "would add 1 ritual, 16 completions, 1 skip, 0 pauses" in dry_run
    assert snapshot(other.database) == before
    document = json.loads(backup.read_text(encoding="utf-8"))
    document["completions"][3]["day"] = "2026-13-01"
    backup.write_text(json.dumps(document), encoding="utf-8")
    result = other("import", str(backup), code=1)
    assert result.stderr.strip().endswith("completions[3].day: not a date: '2026-13-01'")
    assert snapshot(other.database) == before


def test_export_ics_holds_upcoming_due_nudges(installed: RitualCli) -> None:
    feed = Calendar.from_ical(installed("export", "--format", "ics", "--days", "2").stdout_bytes)
    events = [e for e in feed.walk("VEVENT") if str(e["UID"]).startswith("tech-free-talk/")]
    assert [str(e["UID"]) for e in events] == [
        "tech-free-talk/2026-11-24/20:30@ritual-scheduler",
        "tech-free-talk/2026-11-25/20:30@ritual-scheduler",
    ]
    assert events[0]["DTSTART"].params["TZID"] == "Europe/Berlin"


def test_import_loop_checkmarks(installed: RitualCli, tmp_path: Path) -> None:
    loop = tmp_path / "Checkmarks.csv"
    loop.write_text(
        "Date,Morning Walk,Read,\n2026-11-23,2,0,\n2026-11-22,2,2,\n2026-11-21,3,-1,\n", encoding="utf-8"
    )
    installed("import", "--loop", str(loop))
    walk = installed.json("show", "morning-walk")
    assert [c["day"] for c in walk["completions"]] == ["2026-11-22", "2026-11-23"]
    assert [s["day"] for s in walk["skips"]] == ["2026-11-21"]
    assert rows(installed.database, "select count(*) from completion where source = 'import'") == [(3,)]
