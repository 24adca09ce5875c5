"""Loop Habit Tracker files that real people have (issue 18), built here in Loop's documented layout.

No file of Loop's is copied into the project: the helpers below write what Loop's CSV exporter
and its backup write (see ``scheduler.app.exchange.loop``'s docstring): Habits.csv, properly
quoted; a ``NNN Name/Checkmarks.csv`` per habit with its notes; the top-level Checkmarks.csv
with the names unquoted; and the backup, a SQLite database with ``Habits`` and ``Repetitions``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import sqlite3
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from scheduler.app.exchange import ImportFileError, load_loop, loop_snapshot
from tests.conftest import RitualCli, rows, snapshot

TODAY = date(2026, 11, 24)


@dataclass
class Habit:
    """One of Loop's habits and its days: day -> (value as Loop writes it, note)."""

    name: str
    days: dict[date, tuple[str, str]] = field(default_factory=dict)
    numerical: bool = False
    target: float = 0.0
    at_most: bool = False
    unit: str = ""
    archived: bool = False
    question: str = ""
    numerator: int = 1
    denominator: int = 1


def csv_text(rows_: list[list[str]]) -> str:
    """Rows as Loop's CSV writer writes them: quoted only where a field needs it."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows_)
    return out.getvalue()


def sanitized(name: str) -> str:
    """The folder name Loop gives a habit: its name without what is not a letter, digit, space, ._-."""
    return re.sub(r"[^ a-zA-Z0-9._-]+", "", name)[:100]


def export_files(habits: list[Habit]) -> dict[str, str]:
    """Every file of Loop's CSV export of these habits, by its path inside the export."""
    header = [
        "Position", "Name", "Type", "Question", "Description", "FrequencyNumerator",
        "FrequencyDenominator", "Color", "Unit", "Target Type", "Target Value", "Archived?",
    ]  # fmt: skip
    listed = [header]
    files: dict[str, str] = {}
    for position, habit in enumerate(habits, start=1):
        numerical = ["NUMERICAL" if habit.numerical else "YES_NO"]
        target = (
            ["AT_MOST" if habit.at_most else "AT_LEAST", str(habit.target)] if habit.numerical else ["", ""]
        )
        listed.append(
            [f"{position:03d}", habit.name, *numerical, habit.question, "", str(habit.numerator),
             str(habit.denominator), "#00897B", habit.unit if habit.numerical else "", *target,
             "true" if habit.archived else "false"]
        )  # fmt: skip
        folder = f"{position:03d} {sanitized(habit.name)}".strip()
        days = sorted(habit.days.items(), reverse=True)  # newest first
        files[f"{folder}/Checkmarks.csv"] = csv_text(
            [["Date", "Value", "Notes"], *([d.isoformat(), v, n] for d, (v, n) in days)]
        )
        files[f"{folder}/Scores.csv"] = "Date,Score\n"
    files["Habits.csv"] = csv_text(listed)
    every = sorted({day for habit in habits for day in habit.days}, reverse=True)
    table = "Date," + "".join(f"{habit.name}," for habit in habits) + "\n"  # unquoted, as Loop writes it
    for day in every:
        table += day.isoformat() + "," + "".join(f"{h.days.get(day, ('UNKNOWN', ''))[0]}," for h in habits)
        table += "\n"
    files["Checkmarks.csv"] = table
    files["Scores.csv"] = "Date," + "".join(f"{habit.name}," for habit in habits) + "\n"
    return files


def write_zip(path: Path, habits: list[Habit]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in export_files(habits).items():
            archive.writestr(name, text)
    return path


def write_folder(path: Path, habits: list[Habit]) -> Path:
    for name, text in export_files(habits).items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text, encoding="utf-8")
    return path


LOOP_SCHEMA = """
create table Habits (
    id integer primary key autoincrement, archived integer, color integer, description text,
    freq_den integer, freq_num integer, highlight integer, name text, position integer,
    reminder_hour integer, reminder_min integer, reminder_days integer not null default 127,
    type integer not null default 0, target_type integer not null default 0,
    target_value real not null default 0, unit text not null default "", question text, uuid text);
create table Repetitions (
    id integer primary key autoincrement, habit integer not null references habits(id),
    timestamp integer not null, value integer not null, notes text);
create unique index idx_repetitions_habit_timestamp on Repetitions(habit, timestamp);
create table Events (
    id integer primary key autoincrement, timestamp integer, message text, server_id integer);
pragma user_version = 25;
"""
NAMES = {"YES_MANUAL": 2, "YES_AUTO": 1, "NO": 0, "UNKNOWN": -1, "SKIP": 3}


def write_backup(path: Path, habits: list[Habit]) -> Path:
    """Loop's backup database: its habits (positions from 0) and their repetitions, a day being
    the milliseconds of its midnight UTC; numerical values are amounts times 1000."""
    with sqlite3.connect(path) as db:
        db.executescript(LOOP_SCHEMA)
        for position, habit in enumerate(habits):
            cursor = db.execute(
                "insert into Habits (archived, color, description, freq_den, freq_num, highlight, name,"
                " position, type, target_type, target_value, unit, question, uuid)"
                " values (?, 8, '', ?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    int(habit.archived), habit.denominator, habit.numerator, habit.name, position,
                    int(habit.numerical), int(habit.at_most), habit.target, habit.unit, habit.question,
                    f"{position:032x}",
                ),
            )  # fmt: skip
            for day, (value, note) in habit.days.items():
                stamp = int(datetime.combine(day, datetime.min.time(), tzinfo=UTC).timestamp() * 1000)
                number = NAMES[value] if value in NAMES else int(value)
                db.execute(
                    "insert into Repetitions (habit, timestamp, value, notes) values (?, ?, ?, ?)",
                    (cursor.lastrowid, stamp, number, note or None),
                )
    db.close()
    return path


def day(offset: int) -> date:
    return TODAY + timedelta(days=offset)


def household() -> list[Habit]:
    """What replaying real exports found: twins, a comma, notes, a target, an archived habit."""
    return [
        Habit("Vegan", {day(-3): ("YES_MANUAL", ""), day(-2): ("YES_MANUAL", "lentil soup")}),
        Habit("Read, write", {day(-3): ("YES_MANUAL", "a page, then another"), day(-2): ("NO", "too tired")}),
        Habit("Vegan", {day(-2): ("YES_MANUAL", ""), day(-1): ("SKIP", "at grandma's")}),
        Habit(
            "Run",
            {day(-3): ("500", "half a mile, rain"), day(-2): ("2000", ""), day(-1): ("2500", "")},
            numerical=True,
            target=2.0,
            unit="miles",
        ),
        Habit(
            "Coffee", {day(-3): ("1000", ""), day(-2): ("3000", "")}, numerical=True, target=2.0, at_most=True
        ),
        Habit("Old habit", {day(-30): ("YES_MANUAL", ""), day(-29): ("SKIP", "")}, archived=True),
    ]


FORMATS = ["zip", "folder", "habits-csv", "backup-db"]


def written(fmt: str, tmp_path: Path, habits: list[Habit]) -> Path:
    if fmt == "zip":
        return write_zip(tmp_path / "Loop Habits CSV 2026-11-24.zip", habits)
    if fmt == "backup-db":
        return write_backup(tmp_path / "Loop Habits Backup 2026-11-24 101500.db", habits)
    folder = write_folder(tmp_path / "Loop Habits CSV 2026-11-24", habits)
    return folder / "Habits.csv" if fmt == "habits-csv" else folder


def days_of(found: object, name: str, kind: str = "completions") -> list[tuple[date, str]]:
    entries = getattr(found, kind)
    return sorted((e.day, getattr(e, "note", getattr(e, "reason", ""))) for e in entries if e.ritual == name)


@pytest.mark.parametrize("fmt", FORMATS)
def test_what_real_households_have_comes_in_whole(fmt: str, tmp_path: Path) -> None:
    found = loop_snapshot(load_loop(written(fmt, tmp_path, household())), (), "Europe/Lisbon")

    names = [r.name for r in found.rituals]
    assert names == ["vegan", "read-write", "vegan-2", "run", "coffee", "old-habit"]  # twins apart
    assert [r.table["title"] for r in found.rituals][:3] == ["Vegan", "Read, write", "Vegan"]
    assert days_of(found, "vegan") == [(day(-3), ""), (day(-2), "lentil soup")]
    assert days_of(found, "vegan-2") == [(day(-2), "")]
    assert days_of(found, "vegan-2", "skips") == [(day(-1), "at grandma's")]  # the skip's note
    assert days_of(found, "read-write") == [(day(-3), "a page, then another")]  # a done day's note
    assert days_of(found, "run") == [(day(-2), ""), (day(-1), "")]  # 0.5 of 2.0 miles is not done
    assert days_of(found, "coffee") == [(day(-3), "")]  # at most 2 cups: 1 is, 3 is not
    assert days_of(found, "old-habit", "skips") == [(day(-29), "skipped in Loop")]
    assert [r.removed for r in found.rituals] == [False] * 5 + [True]
    assert {r.table["timezone"] for r in found.rituals} == {"Europe/Lisbon"}
    assert dict(found.labels)["vegan-2"] == "Loop habit 'Vegan' (#3)"
    kept = [c.note for c in found.completions] + [s.reason for s in found.skips]
    assert "too tired" not in kept  # a note on a day neither done nor skipped has nowhere to go


def test_the_top_level_checkmarks_file_is_put_together_by_habits_csv(tmp_path: Path) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    files = export_files(household()[:2])
    assert files["Checkmarks.csv"].startswith("Date,Vegan,Read, write,\n")  # as Loop writes it
    for name in ("Habits.csv", "Checkmarks.csv"):  # an older export: no habit folders
        (folder / name).write_text(files[name], encoding="utf-8")

    found = loop_snapshot(load_loop(folder / "Checkmarks.csv"), (), "UTC")

    assert [r.name for r in found.rituals] == ["vegan", "read-write"]
    assert days_of(found, "read-write") == [(day(-3), "")]


def test_the_top_level_checkmarks_file_alone_says_what_to_import_instead(tmp_path: Path) -> None:
    table = tmp_path / "Checkmarks.csv"
    table.write_text(export_files(household()[:2])["Checkmarks.csv"], encoding="utf-8")

    with pytest.raises(ImportFileError) as raised:
        load_loop(table)

    assert str(raised.value) == (
        f"{table}:2: expected a date and 3 values, found 2; a comma in a habit name? "
        "Import the whole export (its ZIP or folder)"
    )


def test_twins_in_the_top_level_file_alone_are_two_habits(tmp_path: Path) -> None:
    table = tmp_path / "Checkmarks.csv"
    table.write_text("Date,Vegan,Vegan,\n2026-11-23,YES_MANUAL,NO,\n", encoding="utf-8")

    found = loop_snapshot(load_loop(table), (), "UTC")

    assert [r.name for r in found.rituals] == ["vegan", "vegan-2"]
    assert days_of(found, "vegan") == [(day(-1), "")] and days_of(found, "vegan-2") == []


def test_one_habits_file_is_described_by_habits_csv_one_folder_up(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "export", household())

    found = loop_snapshot(load_loop(folder / "004 Run" / "Checkmarks.csv"), (), "UTC")

    (run,) = found.rituals
    assert run.name == "run"
    assert days_of(found, "run") == [(day(-2), ""), (day(-1), "")]  # the target came from Habits.csv


def test_an_older_backup_without_notes_or_targets_still_reads(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    stamp = int(datetime(2026, 11, 20, tzinfo=UTC).timestamp()) * 1000
    with sqlite3.connect(path) as db:
        db.executescript(
            "create table Habits (id integer primary key, archived integer, color integer,"
            " description text, freq_den integer, freq_num integer, highlight integer, name text,"
            " position integer, reminder_hour integer, reminder_min integer);"
            "create table Repetitions (id integer primary key, habit integer, timestamp integer);"
            "insert into Habits values (1, 0, 1, 'Hug in the morning', 7, 3, 0, 'Hug', 0, null, null);"
            f"insert into Repetitions values (1, 1, {stamp});"
        )
    db.close()

    found = loop_snapshot(load_loop(path), (), "UTC")

    (hug,) = found.rituals
    assert (hug.name, hug.table["description"], hug.table["every"], hug.table["times"]) == (
        "hug", "Hug in the morning", "week", 3,
    )  # fmt: skip
    assert days_of(found, "hug") == [(date(2026, 11, 20), "")]


# --- through the CLI ---------------------------------------------------------------------------------


@pytest.fixture
def lisbon(installed: RitualCli) -> RitualCli:
    """An installation whose ritual file says the household lives in Lisbon (settings: Berlin)."""
    ritual_file = installed.config / "rituals.toml"
    text = ritual_file.read_text(encoding="utf-8")
    ritual_file.write_text(
        re.sub(r'timezone = "[^"]+"', 'timezone = "Europe/Lisbon"', text, count=1), encoding="utf-8"
    )
    return installed


@pytest.mark.parametrize("fmt", ["zip", "backup-db"])
def test_loop_habits_come_in_visible_in_the_households_zone(
    lisbon: RitualCli, tmp_path: Path, fmt: str
) -> None:
    out = lisbon("import", "--loop", str(written(fmt, tmp_path, household()))).stdout

    assert out.splitlines()[0] == "added 6 rituals, 8 completions, 2 skips, 0 pauses"
    assert "  old-habit: Loop habit 'Old habit', a new ritual, retired (its history kept" in out
    assert lisbon.json("show", "run")["timezone"] == "Europe/Lisbon"
    assert "old-habit" not in [r["name"] for r in lisbon.json("list")]
    assert "old-habit" in [r["name"] for r in lisbon.json("list", "--all")]
    shown = lisbon("show", "old-habit").stdout
    assert "retired on" in shown and "skipped Mon 26 Oct 2026: skipped in Loop" in shown
    notes = rows(lisbon.database, "select note from completion where note != '' order by note")
    assert notes == [("a page, then another",), ("lentil soup",)]


def test_without_a_ritual_file_zone_the_settings_zone_is_used(ritual: RitualCli, tmp_path: Path) -> None:
    ritual("import", "--loop", str(written("zip", tmp_path, household()[:1])))
    assert ritual.json("show", "vegan")["timezone"] == "Europe/Berlin"


def test_a_dry_run_lists_every_merge_and_changes_nothing(installed: RitualCli, tmp_path: Path) -> None:
    installed("add", "vegan", "--at", "12:00")
    installed("done", "vegan", "--date", day(-10).isoformat())
    path = written("zip", tmp_path, household()[:3])
    before = snapshot(installed.database)

    out = installed("import", "--loop", str(path), "--dry-run").stdout

    assert snapshot(installed.database) == before
    assert out.splitlines() == [
        "would add 2 rituals, 4 completions, 1 skip, 0 pauses",
        "  vegan: Loop habit 'Vegan' (#1) goes into the ritual stored here: 2 completions",
        "  read-write: Loop habit 'Read, write', a new ritual: 1 completion",
        "  vegan-2: Loop habit 'Vegan' (#3), a new ritual: 1 completion, 1 skip",
    ]
    assert installed("import", "--loop", str(path)).stdout.splitlines()[1:] == out.splitlines()[1:]
    assert len(installed.json("show", "vegan")["completions"]) == 3


def test_the_backup_is_read_read_only(installed: RitualCli, tmp_path: Path) -> None:
    (tmp_path / "downloads").mkdir()
    path = written("backup-db", tmp_path / "downloads", household())
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    path.chmod(0o444)

    installed("import", "--loop", str(path))

    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no journal, no WAL beside it


def test_another_sqlite_file_is_refused_in_one_line(installed: RitualCli, tmp_path: Path) -> None:
    before = snapshot(installed.database)
    result = installed("import", "--loop", str(installed.database), code=1)
    assert result.stderr == (
        f"Error: {installed.database}: a SQLite database, but not a Loop Habit Tracker backup "
        "(it has no Habits and Repetitions tables)\n"
    )
    assert snapshot(installed.database) == before


def test_a_loop_backup_without_loop_says_to_add_it(installed: RitualCli, tmp_path: Path) -> None:
    path = written("backup-db", tmp_path, household())
    result = installed("import", str(path), code=1)
    assert result.stderr == (
        f"Error: {path}: a SQLite database, not a backup from `ritual export` (a Loop backup: --loop)\n"
    )


def test_the_readme_names_files_loop_really_writes(installed: RitualCli) -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    examples = re.findall(r"^ritual import --loop (?:--dry-run )?(.+?)(?:\s+#.*)?$", readme, re.M)
    assert len(examples) >= 3
    for example in examples:
        name = example.replace('"', "").rsplit("/", 1)[-1]
        assert re.fullmatch(
            r"Loop Habits (Backup \d{4}-\d{2}-\d{2} \d{6}\.db|CSV \d{4}-\d{2}-\d{2}\.zip)", name
        ), example


@pytest.mark.parametrize("fmt", ["zip", "backup-db"])
def test_importing_twice_adds_nothing_the_second_time(installed: RitualCli, tmp_path: Path, fmt: str) -> None:
    path = str(written(fmt, tmp_path, household()))
    installed("import", "--loop", path)
    before = snapshot(installed.database)
    again = installed("import", "--loop", path).stdout
    assert again == "added 0 rituals, 0 completions, 0 skips, 0 pauses; 10 already there\n"
    assert snapshot(installed.database) == before
