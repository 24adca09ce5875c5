"""Loop Habit Tracker's exports: its CSV files (one habit, or all of them) and its ZIP."""

from __future__ import annotations

import re
import unicodedata
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path, PurePath

from scheduler.app.exchange.backup_csv import csv_rows
from scheduler.app.exchange.snapshot import (
    IMPORT_SOURCE,
    ISO_DATE,
    CompletionEntry,
    ImportFileError,
    RitualEntry,
    SkipEntry,
    Snapshot,
    decode,
    read_date,
    read_text_file,
    shown,
)
from scheduler.app.stored import RitualSource
from scheduler.domain.definitions import (
    Ritual,
    RitualTable,
    cadence_to_table,
    default_title,
    ritual_from_table,
    ritual_to_table,
)

LOOP_DONE = 2
LOOP_SKIP = 3
_LOOP_NAMES = {"YES_MANUAL": 2, "YES_AUTO": 1, "NO": 0, "UNKNOWN": -1, "SKIP": 3}
_LOOP_NOON = time(12, 0)
_LOOP_FOLDER = re.compile(r"\d{3} (.+)")


@dataclass(frozen=True, slots=True)
class LoopHabit:
    name: str
    question: str = ""
    description: str = ""
    numerator: int = 1  # target repetitions ...
    denominator: int = 1  # ... per this many days
    numerical: bool = False
    archived: bool = False


@dataclass(frozen=True, slots=True)
class LoopMark:
    """One day's entry of one habit; only entries that can become something are kept."""

    habit: str
    day: date
    value: int
    note: str = ""
    origin: str = field(default="", compare=False)


@dataclass(frozen=True, slots=True)
class LoopImport:
    """What one or more of Loop's files say: the habits (in order) and their marked days."""

    habits: tuple[LoopHabit, ...] = ()  # from Habits.csv, or bare names from a Checkmarks.csv
    marks: tuple[LoopMark, ...] = ()  # from Checkmarks.csv

    def described_by(self, details: LoopImport, *, add_missing: bool = True) -> LoopImport:
        """These marks, with Habits.csv's word on each habit (how often it is due).

        With ``add_missing``, habits that Habits.csv lists but this file has no column for
        come too (a whole export); without, only this file's habits do (one habit's file).
        """
        described = {habit.name: habit for habit in details.habits}
        if add_missing:
            habits = [*details.habits, *(h for h in self.habits if h.name not in described)]
        else:
            habits = [described.get(habit.name, habit) for habit in self.habits]
        return LoopImport(tuple(habits), self.marks)


def parse_loop_csv(text: str, path: str, *, name: str | None = None) -> LoopImport:
    """Read one of Loop's CSV files: Habits.csv, the top-level Checkmarks.csv, or one habit's.

    A single habit's Checkmarks.csv does not name its habit: ``name`` does, or else its
    folder (``001 Meditate/Checkmarks.csv``).
    """
    rows = list(csv_rows(text, path))
    kind = _loop_kind(path, rows)
    if kind == "habits":
        return LoopImport(habits=_loop_habits(path, rows))
    if kind == "table":
        return _loop_table(path, rows)
    habit = _loop_habit_name(path, name)
    body = rows if ISO_DATE.fullmatch(rows[0][1][0].strip()) else rows[1:]
    return LoopImport((LoopHabit(habit),), _loop_single(path, body, habit))


def _loop_kind(path: str, rows: Sequence[tuple[int, list[str]]]) -> str:
    """``habits`` (Habits.csv), ``table`` (the top-level Checkmarks.csv) or ``single`` (one habit's)."""
    if not rows:
        raise ImportFileError(path, "empty file")
    line, header = rows[0]
    first = header[0].strip()
    if first == "Position":
        return "habits"
    if first == "Date" and [cell.strip() for cell in header[1:]] in (["Value"], ["Value", "Notes"]):
        return "single"
    if first == "Date":
        return "table"
    if ISO_DATE.fullmatch(first):
        return "single"
    raise ImportFileError(
        f"{path}:{line}", "not a Loop Habit Tracker CSV file (expected Habits.csv or Checkmarks.csv)"
    )


def load_loop(path: Path, *, name: str | None = None) -> LoopImport:
    """Read Loop's export: its ZIP, or a CSV file from it, with the files it belongs with.

    Habits.csv says how often each habit is due, Checkmarks.csv what was done; given one,
    the other is read from beside it when it is there (for one habit's Checkmarks.csv, the
    Habits.csv one folder up).
    """
    if not path.exists():
        raise ImportFileError(str(path), "no such file")
    if path.suffix.lower() == ".zip":
        return _load_loop_zip(path)
    text = read_text_file(path)
    kind = _loop_kind(str(path), list(csv_rows(text, str(path))))
    found = parse_loop_csv(text, str(path), name=name)
    if kind == "habits":
        beside = path.parent / "Checkmarks.csv"
        if not beside.is_file():
            return found
        return parse_loop_csv(read_text_file(beside), str(beside)).described_by(found)
    habits_file = path.parent / ("Habits.csv" if kind == "table" else "../Habits.csv")
    if not habits_file.is_file():
        return found
    details = parse_loop_csv(read_text_file(habits_file), str(habits_file))
    return found.described_by(details, add_missing=kind == "table")


def _load_loop_zip(path: Path) -> LoopImport:
    shown = str(path)
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if "Checkmarks.csv" not in names:
                raise ImportFileError(shown, "no Checkmarks.csv in this ZIP (is it Loop's CSV export?)")
            checks_text = decode(archive.read("Checkmarks.csv"), f"{shown}/Checkmarks.csv")
            habits_text = (
                decode(archive.read("Habits.csv"), f"{shown}/Habits.csv") if "Habits.csv" in names else None
            )
    except (OSError, zipfile.BadZipFile) as exc:
        raise ImportFileError(shown, f"cannot read the ZIP ({exc})") from None
    checks = parse_loop_csv(checks_text, f"{shown}/Checkmarks.csv")
    if habits_text is None:
        return checks
    return checks.described_by(parse_loop_csv(habits_text, f"{shown}/Habits.csv"))


def _loop_habit_name(path: str, name: str | None) -> str:
    if name:
        return name
    folder = _LOOP_FOLDER.fullmatch(PurePath(path).parent.name)
    if folder is None:
        raise ImportFileError(path, "one habit's Checkmarks.csv does not say which habit; give its name")
    return folder.group(1)


def _loop_value(text: str) -> int:
    cell = text.strip()
    if cell in _LOOP_NAMES:
        return _LOOP_NAMES[cell]
    try:
        value = int(cell)
    except ValueError:
        raise ValueError(f"not a Loop checkmark value: {shown(cell)}") from None
    if value < -1:
        raise ValueError(f"not a Loop checkmark value: {shown(cell)}")
    return value


def _loop_mark(
    path: str, line: int, habit: str, day_text: str, value_text: str, note: str
) -> LoopMark | None:
    """The mark of one cell, or None when it records nothing (not done, unknown)."""
    where = f"{path}:{line}"
    try:
        day = read_date(day_text.strip())
        value = _loop_value(value_text)
    except ValueError as exc:
        raise ImportFileError(where, str(exc)) from None
    return LoopMark(habit, day, value, note, where) if value > 0 else None


def _loop_single(path: str, rows: Iterable[tuple[int, list[str]]], habit: str) -> tuple[LoopMark, ...]:
    marks: list[LoopMark] = []
    for line, cells in rows:
        if len(cells) not in (2, 3):
            raise ImportFileError(f"{path}:{line}", f"expected date,value[,notes], found {len(cells)} fields")
        mark = _loop_mark(path, line, habit, cells[0], cells[1], cells[2] if len(cells) == 3 else "")
        if mark is not None:
            marks.append(mark)
    return tuple(marks)


def _loop_table(path: str, rows: Sequence[tuple[int, list[str]]]) -> LoopImport:
    header_line, header = rows[0]
    trailing = header[-1] == ""  # Loop ends every line with a comma; a file saved elsewhere may not
    names = header[1:-1] if trailing else header[1:]
    seen: set[str] = set()
    for habit in names:
        if not habit.strip():
            raise ImportFileError(f"{path}:{header_line}", "a habit column without a name")
        if habit in seen:
            raise ImportFileError(f"{path}:{header_line}", f"habit {shown(habit)} appears twice")
        seen.add(habit)
    marks: list[LoopMark] = []
    for line, cells in rows[1:]:
        values = cells[:-1] if trailing and cells[-1] == "" else cells
        if len(values) != len(names) + 1:
            found = len(values) - 1
            raise ImportFileError(f"{path}:{line}", f"expected a date and {len(names)} values, found {found}")
        for habit, value in zip(names, values[1:], strict=True):
            mark = _loop_mark(path, line, habit, values[0], value, "")
            if mark is not None:
                marks.append(mark)
    return LoopImport(tuple(LoopHabit(habit) for habit in names), tuple(marks))


def _loop_habits(path: str, rows: Sequence[tuple[int, list[str]]]) -> tuple[LoopHabit, ...]:
    header_line, header = rows[0]
    header = [column.strip() for column in header]
    if "Name" not in header:  # other columns may come and go between Loop versions
        raise ImportFileError(f"{path}:{header_line}", "missing column 'Name'")
    habits: list[LoopHabit] = []
    for line, cells in rows[1:]:
        if len(cells) != len(header):
            raise ImportFileError(f"{path}:{line}", f"expected {len(header)} fields, found {len(cells)}")
        values = dict(zip(header, cells, strict=True))
        habit_name = values["Name"]
        if not habit_name.strip():
            raise ImportFileError(f"{path}:{line}", "a habit without a name")
        numerator = values.get("FrequencyNumerator", values.get("NumRepetitions", "1"))
        denominator = values.get("FrequencyDenominator", values.get("Interval", "1"))
        habits.append(
            LoopHabit(
                name=habit_name,
                question=values.get("Question", ""),
                description=values.get("Description", ""),
                numerator=_loop_count(path, line, numerator),
                denominator=_loop_count(path, line, denominator),
                numerical=values.get("Type", "").strip().upper() == "NUMERICAL",
                archived=values.get("Archived?", "").strip().lower() == "true",
            )
        )
    return tuple(habits)


def _loop_count(path: str, line: int, text: str) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        value = 0
    if value < 1:
        raise ImportFileError(f"{path}:{line}", f"not a frequency (a whole number from 1): {shown(text)}")
    return value


def slugify(name: str) -> str:
    """``Morning Hug`` -> ``morning-hug``: a ritual name made from a free-form habit name."""
    ascii_only = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_only.lower()).strip("-")
    return slug[:48].rstrip("-") or "habit"


def loop_cadence(habit: LoopHabit) -> RitualTable:
    """Loop's "n times in d days" as cadence keys; some are approximations, said so here.

    Loop judges a sliding window; our periods are fixed calendar blocks. Exact in spirit: every
    day (1/1), n per week (n/7), n per d weeks (n/7k), n per month (n/30 or n/31). Otherwise
    "n per d days" becomes n per block of d days (every = day, interval = d), counted from the
    default anchor; d beyond 52 days becomes whole months (d/30, rounded).
    """
    n, d = habit.numerator, habit.denominator
    times = min(n, 100)
    if d == 1:
        return {"every": "day", "times": times}
    if d % 7 == 0 and d // 7 <= 52:
        return {"every": "week", "interval": d // 7, "times": times}
    if d in (30, 31):
        return {"every": "month", "times": times}
    if d <= 52:
        return {"every": "day", "interval": d, "times": times}
    return {"every": "month", "interval": min(52, max(1, round(d / 30))), "times": times}


def loop_snapshot(loop_import: LoopImport, existing_names: Iterable[str], default_timezone: str) -> Snapshot:
    """Rituals for Loop habits that are new here, and completions (and skips) for every habit.

    A habit maps to the ritual named by its slug; when that name is already taken, its days
    go to that ritual. Completions are stamped at noon UTC of their day, by nobody in
    particular. A numerical habit counts any positive amount as done (Loop's target is not
    carried over). Archived habits come in as removed rituals.
    """
    existing = set(existing_names)
    habits = {habit.name: habit for habit in loop_import.habits}
    for mark in loop_import.marks:
        habits.setdefault(mark.habit, LoopHabit(mark.habit))
    slugs = _loop_slugs(list(habits))
    rituals: list[RitualEntry] = []
    completions: list[CompletionEntry] = []
    skips: list[SkipEntry] = []
    for mark in loop_import.marks:
        habit, name = habits[mark.habit], slugs[mark.habit]
        if mark.value == LOOP_SKIP:
            skips.append(SkipEntry(name, mark.day, "skipped in Loop", mark.origin))
        elif mark.value == LOOP_DONE or (habit.numerical and mark.value > 0):
            at = datetime.combine(mark.day, _LOOP_NOON, tzinfo=UTC)
            completions.append(
                CompletionEntry(name, mark.day, at, "", mark.note, IMPORT_SOURCE, None, mark.origin)
            )
    for habit_name, habit in habits.items():
        name = slugs[habit_name]
        if name in existing:
            continue
        days = [c.day for c in completions if c.ritual == name] + [s.day for s in skips if s.ritual == name]
        rituals.append(_loop_ritual(habit, name, default_timezone, min(days, default=None)))
    return Snapshot(tuple(rituals), tuple(completions), tuple(skips))


def _loop_slugs(habit_names: Sequence[str]) -> dict[str, str]:
    """A distinct ritual name per habit; a second habit with the same slug gets ``-2``."""
    taken: set[str] = set()
    slugs: dict[str, str] = {}
    for habit in habit_names:
        base = slugify(habit)
        slug, number = base, 1
        while slug in taken:
            number += 1
            suffix = f"-{number}"
            slug = base[: 48 - len(suffix)].rstrip("-") + suffix
        taken.add(slug)
        slugs[habit] = slug
    return slugs


def _loop_ritual(habit: LoopHabit, name: str, default_timezone: str, first_day: date | None) -> RitualEntry:
    title = habit.name.strip()
    table: RitualTable = {
        "name": name,
        "title": title if title.isprintable() and title else default_title(name),
        "description": habit.question.strip() or habit.description.strip(),
        "timezone": default_timezone,
        **loop_cadence(habit),
    }
    ritual: Ritual = ritual_from_table(table)
    versions = () if first_day is None else ((first_day, cadence_to_table(ritual.cadence)),)
    return RitualEntry(ritual_to_table(ritual), RitualSource.CLI, habit.archived, versions)
