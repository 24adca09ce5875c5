"""Loop Habit Tracker's files: its CSV export (a ZIP, or the folder it unpacks to), one of its CSV
files, or its backup, a SQLite database ("Loop Habits Backup 2026-11-20 101500.db").

What Loop writes, as these readers take it:

- ``Habits.csv``: a row per habit, properly quoted, with ``Position`` (001, 002, ...), ``Name``,
  ``Type`` (YES_NO or NUMERICAL), ``Question``, ``Description``, ``FrequencyNumerator`` and
  ``FrequencyDenominator`` (n times in d days), ``Target Type`` (AT_LEAST or AT_MOST) and
  ``Target Value`` for numerical habits, ``Archived?``. Older versions wrote ``NumRepetitions``
  and ``Interval`` and fewer columns.
- A folder per habit, ``NNN Name/`` (its position, and its name with everything but letters,
  digits, spaces and ``._-`` left out), holding ``Checkmarks.csv``: ``Date,Value,Notes``,
  properly quoted, newest first. This is the file that keeps notes, and the one that tells two
  habits of the same name apart, so a whole export is read through it.
- The top-level ``Checkmarks.csv``: ``Date,`` and the habits' names, written unquoted (a comma
  in a name splits it), then a row per day. Read only when there are no habit folders.
- Values: ``YES_MANUAL`` (2, done), ``YES_AUTO`` (1, not done but not due), ``NO`` (0),
  ``UNKNOWN`` (-1), ``SKIP`` (3); a numerical habit's amount times 1000 (0.5 miles is 500).
- The backup database: tables ``Habits`` (id, name, question, description, freq_num, freq_den,
  type, target_type, target_value, archived, position) and ``Repetitions`` (habit, timestamp
  in milliseconds at midnight UTC of the day, value as above, notes); older versions lack some
  of the columns. It is opened read-only.

A habit is done on a day when it was marked by hand (``YES_MANUAL``), or, for a numerical habit,
when the amount reaches its target (at most the target, for an AT_MOST habit); a skip is
excused, with its note as the reason.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
import unicodedata
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path, PurePosixPath
from typing import Protocol

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

LOOP_DONE = 2  # YES_MANUAL
LOOP_SKIP = 3  # SKIP
LOOP_UNKNOWN = -1
SQLITE_MAGIC = b"SQLite format 3\x00"
_LOOP_NAMES = {"YES_MANUAL": 2, "YES_AUTO": 1, "NO": 0, "UNKNOWN": -1, "SKIP": 3}
_LOOP_NOON = time(12, 0)
_LOOP_FOLDER = re.compile(r"(\d{3,})(?: (.*))?")
_EPOCH = date(1970, 1, 1)
_DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class LoopHabit:
    name: str
    question: str = ""
    description: str = ""
    numerator: int = 1  # target repetitions ...
    denominator: int = 1  # ... per this many days
    numerical: bool = False
    archived: bool = False
    position: int | None = None  # Loop's 1-based place in its list: what tells two of a name apart
    target: float = 0.0  # numerical: the amount a day needs ...
    at_most: bool = False  # ... at least (Loop's AT_LEAST), or at most (AT_MOST)

    def done(self, value: int) -> bool:
        """Whether a day's value counts as done (see the module docstring)."""
        if not self.numerical:
            return value == LOOP_DONE
        if value < 0 or value == LOOP_SKIP:
            return False
        amount = value / 1000
        if self.at_most:
            return amount <= self.target
        return amount >= self.target if self.target > 0 else amount > 0


@dataclass(frozen=True, slots=True)
class LoopMark:
    """One day's entry of one habit (``habit``: its index in ``LoopImport.habits``)."""

    habit: int
    day: date
    value: int
    note: str = ""
    origin: str = field(default="", compare=False)


@dataclass(frozen=True, slots=True)
class LoopImport:
    """What Loop's files say: the habits, in Loop's order, and their days."""

    habits: tuple[LoopHabit, ...] = ()
    marks: tuple[LoopMark, ...] = ()


# --- finding the files ---------------------------------------------------------------------------


def is_sqlite(path: Path) -> bool:
    """Whether ``path`` is a SQLite database file (by its first bytes; False when unreadable)."""
    try:
        with path.open("rb") as file:
            return file.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
    except OSError:
        return False


def load_loop(path: Path, *, name: str | None = None) -> LoopImport:
    """Read whatever of Loop's a person has: the export's ZIP or folder, one of its CSV files
    (with the files it belongs with, when they are beside it), or the backup database."""
    if not path.exists():
        raise ImportFileError(str(path), "no such file")
    if path.is_dir():
        return _load_export(_Folder(path), str(path))
    if is_sqlite(path):
        return load_loop_db(path)
    if path.suffix.lower() == ".zip" or zipfile.is_zipfile(path):
        return _load_zip(path)
    text = read_text_file(path)
    kind = _loop_kind(str(path), list(csv_rows(text, str(path))))
    folder = path.parent
    if kind == "habits" or (kind == "table" and (folder / "Habits.csv").is_file()):
        return _load_export(_Folder(folder), str(folder))
    if kind == "table":
        return parse_loop_csv(text, str(path))
    return _load_one_habit(path, text, name)


def _load_one_habit(path: Path, text: str, name: str | None) -> LoopImport:
    """One habit's Checkmarks.csv: the habit named by ``name`` or its folder (``001 Meditate``),
    described by the Habits.csv one folder up when there is one."""
    found = parse_loop_csv(text, str(path), name=name)
    folder = _LOOP_FOLDER.fullmatch(path.parent.name)
    habits_file = path.parent.parent / "Habits.csv"
    if name or folder is None or not habits_file.is_file():
        return found
    position = int(folder.group(1))
    listed = _loop_habits(str(habits_file), list(csv_rows(read_text_file(habits_file), str(habits_file))))
    described = next((habit for habit in listed if habit.position == position), None)
    return found if described is None else LoopImport((described,), found.marks)


class _Files(Protocol):
    """The files of an export, by their path inside it ("Habits.csv", "001 Meditate/Checkmarks.csv")."""

    def names(self) -> list[str]: ...

    def read(self, name: str) -> str: ...

    def shown(self, name: str) -> str: ...


class _Folder:
    def __init__(self, root: Path) -> None:
        self.root = root

    def names(self) -> list[str]:
        try:
            found = [p for p in self.root.glob("*.csv") if p.is_file()]
            found += [p for p in self.root.glob("*/Checkmarks.csv") if p.is_file()]
        except OSError as exc:
            raise ImportFileError(str(self.root), f"cannot read ({exc.strerror or exc})") from None
        return sorted(p.relative_to(self.root).as_posix() for p in found)

    def read(self, name: str) -> str:
        return read_text_file(self.root / name)

    def shown(self, name: str) -> str:
        return str(self.root / name)


class _Zip:
    def __init__(self, path: Path, archive: zipfile.ZipFile) -> None:
        self.path = path
        self.archive = archive

    def names(self) -> list[str]:
        return sorted(name for name in self.archive.namelist() if not name.endswith("/"))

    def read(self, name: str) -> str:
        try:
            data = self.archive.read(name)
        except (OSError, zipfile.BadZipFile, KeyError) as exc:
            raise ImportFileError(self.shown(name), f"cannot read it from the ZIP ({exc})") from None
        return decode(data, self.shown(name))

    def shown(self, name: str) -> str:
        return f"{self.path}/{name}"


def _load_zip(path: Path) -> LoopImport:
    try:
        with zipfile.ZipFile(path) as archive:
            return _load_export(_Zip(path, archive), str(path))
    except (OSError, zipfile.BadZipFile) as exc:
        raise ImportFileError(str(path), f"cannot read the ZIP ({exc})") from None


def _load_export(files: _Files, where: str) -> LoopImport:
    """A whole CSV export: Habits.csv for what the habits are, each habit's folder for its days."""
    names = files.names()
    habits: list[LoopHabit] = []
    if "Habits.csv" in names:
        habits = list(_loop_habits(files.shown("Habits.csv"), list(_rows(files, "Habits.csv"))))
    folders: list[tuple[int, str, str]] = []  # (position, name from the folder, file)
    for name in names:
        parts = PurePosixPath(name).parts
        if len(parts) == 2 and parts[1] == "Checkmarks.csv" and (match := _LOOP_FOLDER.fullmatch(parts[0])):
            folders.append((int(match.group(1)), (match.group(2) or "").strip(), name))
    if folders:
        at = {habit.position: index for index, habit in enumerate(habits) if habit.position is not None}
        marks: list[LoopMark] = []
        for position, folder_name, name in sorted(folders):
            if position not in at:  # no Habits.csv (or a habit it does not list): the folder says
                at[position] = len(habits)
                habits.append(LoopHabit(folder_name or f"habit {position}", position=position))
            rows = list(_rows(files, name))
            body = rows[1:] if rows and not ISO_DATE.fullmatch(rows[0][1][0].strip()) else rows
            marks += _loop_single(files.shown(name), body, at[position])
        return LoopImport(tuple(habits), tuple(marks))
    if "Checkmarks.csv" in names:
        return _loop_table(files.shown("Checkmarks.csv"), files.read("Checkmarks.csv"), habits)
    if habits:
        return LoopImport(tuple(habits))
    raise ImportFileError(where, "no Habits.csv or Checkmarks.csv in it (is it Loop's CSV export?)")


def _rows(files: _Files, name: str) -> list[tuple[int, list[str]]]:
    return list(csv_rows(files.read(name), files.shown(name)))


# --- the CSV files ---------------------------------------------------------------------------------


def parse_loop_csv(text: str, path: str, *, name: str | None = None) -> LoopImport:
    """Read one of Loop's CSV files on its own: Habits.csv, the top-level Checkmarks.csv, or one
    habit's (named by ``name``, or else by its folder, ``001 Meditate/Checkmarks.csv``)."""
    rows = list(csv_rows(text, path))
    kind = _loop_kind(path, rows)
    if kind == "habits":
        return LoopImport(habits=_loop_habits(path, rows))
    if kind == "table":
        return _loop_table(path, text, [])
    habit = LoopHabit(_loop_habit_name(path, name))
    body = rows if ISO_DATE.fullmatch(rows[0][1][0].strip()) else rows[1:]
    return LoopImport((habit,), tuple(_loop_single(path, body, 0)))


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


def _loop_habit_name(path: str, name: str | None) -> str:
    if name:
        return name
    folder = _LOOP_FOLDER.fullmatch(PurePosixPath(path.replace("\\", "/")).parent.name)
    if folder is None or not folder.group(2):
        raise ImportFileError(path, "one habit's Checkmarks.csv does not say which habit; give its name")
    return folder.group(2)


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


def _loop_mark(path: str, line: int, habit: int, day_text: str, value_text: str, note: str) -> LoopMark:
    where = f"{path}:{line}"
    try:
        return LoopMark(habit, read_date(day_text.strip()), _loop_value(value_text), note, where)
    except ValueError as exc:
        raise ImportFileError(where, str(exc)) from None


def _loop_single(path: str, rows: Iterable[tuple[int, list[str]]], habit: int) -> list[LoopMark]:
    """One habit's days: ``date,value[,notes]`` rows."""
    marks: list[LoopMark] = []
    for line, cells in rows:
        if len(cells) not in (2, 3):
            raise ImportFileError(f"{path}:{line}", f"expected date,value[,notes], found {len(cells)} fields")
        marks.append(_loop_mark(path, line, habit, cells[0], cells[1], cells[2] if len(cells) == 3 else ""))
    return marks


def _loop_table(path: str, text: str, known: Sequence[LoopHabit]) -> LoopImport:
    """The top-level Checkmarks.csv: ``Date,`` and the habits' names (unquoted, so a comma in a
    name splits it; the names Habits.csv gives put it together again), then a row per day."""
    lines = [(number, raw) for number, raw in enumerate(text.removeprefix("\ufeff").splitlines(), 1)]
    lines = [(number, raw.rstrip("\r")) for number, raw in lines if raw.strip()]
    if not lines:
        raise ImportFileError(path, "empty file")
    header_line, header = lines[0]
    trailing = header.endswith(",")  # Loop ends every line with a comma; a file saved elsewhere may not
    title = header[len("Date,") : -1 if trailing else None]
    rows = [(number, raw.split(",")) for number, raw in lines[1:]]
    widths = {len(cells) - 1 - (trailing and cells[-1] == "") for _, cells in rows}
    columns = _names_of(title, known, widths.pop() if len(widths) == 1 else None)
    if columns is None:  # no Habits.csv to go by, or its names do not make up the header
        names = next(csv_rows(header, path))[1][1:]
        names = names[:-1] if trailing and names and names[-1] == "" else names
        if any(not n.strip() for n in names):
            raise ImportFileError(f"{path}:{header_line}", "a habit column without a name")
        unused = list(known)
        columns = []
        for name in names:  # a habit Habits.csv lists by this name, else one the header alone names
            match = next((habit for habit in unused if habit.name == name), None)
            columns.append(match or LoopHabit(name))
            if match is not None:
                unused.remove(match)
    habits = [*known, *(habit for habit in columns if not any(habit is k for k in known))]
    place = [next(i for i, habit in enumerate(habits) if habit is column) for column in columns]
    marks: list[LoopMark] = []
    for line, cells in rows:
        values = cells[:-1] if trailing and cells[-1] == "" else cells
        if len(values) != len(columns) + 1:
            found = len(values) - 1
            hint = "" if known else "; a comma in a habit name? Import the whole export (its ZIP or folder)"
            raise ImportFileError(
                f"{path}:{line}", f"expected a date and {len(columns)} values, found {found}{hint}"
            )
        for index, value in zip(place, values[1:], strict=True):
            marks.append(_loop_mark(path, line, index, values[0], value, ""))
    return LoopImport(tuple(habits), tuple(marks))


def _names_of(title: str, known: Sequence[LoopHabit], columns: int | None) -> list[LoopHabit] | None:
    """The habits the header names, in its order, when Habits.csv's names make it up exactly
    (a name may hold a comma); a name that two habits share is taken in Habits.csv's order."""
    if not known or columns is None:
        return None
    left = list(known)

    def split(rest: str, found: list[LoopHabit]) -> list[LoopHabit] | None:
        if not rest:
            return found if len(found) == columns else None
        if len(found) >= columns:
            return None
        for habit in left:
            if habit in found:
                continue
            if rest == habit.name or rest.startswith(habit.name + ","):
                done = split(rest[len(habit.name) + 1 :], [*found, habit])
                if done is not None:
                    return done
        return None

    return split(title, [])


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
        position = values.get("Position", "").strip()
        habits.append(
            LoopHabit(
                name=habit_name,
                question=values.get("Question", ""),
                description=values.get("Description", ""),
                numerator=_loop_count(path, line, numerator),
                denominator=_loop_count(path, line, denominator),
                numerical=values.get("Type", "").strip().upper() == "NUMERICAL",
                archived=values.get("Archived?", "").strip().lower() == "true",
                position=int(position) if position.isdigit() else len(habits) + 1,
                target=_loop_target(path, line, values.get("Target Value", "")),
                at_most=values.get("Target Type", "").strip().upper() == "AT_MOST",
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


def _loop_target(path: str, line: int, text: str) -> float:
    if not text.strip():
        return 0.0
    try:
        return float(text.strip())
    except ValueError:
        raise ImportFileError(f"{path}:{line}", f"not a target value: {shown(text)}") from None


# --- the backup database ---------------------------------------------------------------------------


def load_loop_db(path: Path) -> LoopImport:
    """Loop's backup, a SQLite database, read-only; any other SQLite database is refused."""
    where = str(path)
    uri = f"{path.resolve().as_uri()}?mode=ro"
    try:
        with contextlib.closing(sqlite3.connect(uri, uri=True)) as db:
            tables = {str(name).lower() for (name,) in db.execute("select name from sqlite_master")}
            if not {"habits", "repetitions"} <= tables:
                raise ImportFileError(
                    where,
                    "a SQLite database, but not a Loop Habit Tracker backup (it has no Habits and "
                    "Repetitions tables)",
                )
            return _read_loop_db(db, where)
    except sqlite3.Error as exc:
        raise ImportFileError(where, f"cannot read this SQLite database ({exc})") from None


def _columns(db: sqlite3.Connection, table: str) -> set[str]:
    return {str(row[1]).lower() for row in db.execute(f"pragma table_info({table})")}


def _read_loop_db(db: sqlite3.Connection, where: str) -> LoopImport:
    have = _columns(db, "Habits")
    if not {"id", "name"} <= have:
        raise ImportFileError(where, "Loop's Habits table has no id and name columns")

    def column(name: str, default: str = "null") -> str:
        return name if name in have else f"{default} as {name}"

    query = ", ".join(
        [
            "id",
            "name",
            column("question"),
            column("description"),
            column("freq_num", "1"),
            column("freq_den", "1"),
            column("type", "0"),
            column("target_type", "0"),
            column("target_value", "0"),
            column("archived", "0"),
            column("position"),
        ]
    )
    rows = db.execute(f"select {query} from Habits order by position, id").fetchall()
    habits: list[LoopHabit] = []
    index: dict[int, int] = {}
    for number, row in enumerate(rows, start=1):
        habit_id, name, question, description, num, den, kind, target_type, target, archived, position = row
        index[int(habit_id)] = len(habits)
        habits.append(
            LoopHabit(
                name=str(name or f"habit {number}"),
                question=str(question or ""),
                description=str(description or ""),
                numerator=max(1, int(num or 1)),
                denominator=max(1, int(den or 1)),
                numerical=int(kind or 0) == 1,
                archived=bool(archived),
                position=int(position) + 1 if position is not None else number,
                target=float(target or 0),
                at_most=int(target_type or 0) == 1,
            )
        )
    have = _columns(db, "Repetitions")
    if not {"habit", "timestamp"} <= have:
        raise ImportFileError(where, "Loop's Repetitions table has no habit and timestamp columns")
    value = "value" if "value" in have else f"{LOOP_DONE} as value"
    notes = "notes" if "notes" in have else "'' as notes"
    marks: list[LoopMark] = []
    reps = db.execute(f"select habit, timestamp, {value}, {notes} from Repetitions order by habit, timestamp")
    for habit_id, stamp, amount, note in reps:
        if habit_id is None or stamp is None or int(habit_id) not in index:
            continue
        habit = index[int(habit_id)]
        origin = f"{where}: habit {shown(habits[habit].name)}"
        day = _EPOCH + timedelta(days=int(stamp) // _DAY_MS)
        marks.append(
            LoopMark(habit, day, int(LOOP_DONE if amount is None else amount), str(note or ""), origin)
        )
    return LoopImport(tuple(habits), tuple(marks))


# --- into rituals ------------------------------------------------------------------------------------


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

    Each habit is its own ritual, named by its slug (a second habit with the same slug gets
    ``-2``, in Loop's order); when that name is already taken here, its days go to that ritual.
    Completions are stamped at noon UTC of their day, by nobody in particular, with the day's
    note; a skip keeps its note as the reason. Archived habits come in retired (their history
    kept: `ritual show`, `ritual list --all`). New rituals live in ``default_timezone``.
    """
    existing = set(existing_names)
    habits = list(loop_import.habits)
    slugs = _loop_slugs(habits)
    rituals: list[RitualEntry] = []
    completions: list[CompletionEntry] = []
    skips: list[SkipEntry] = []
    for mark in loop_import.marks:
        habit, name = habits[mark.habit], slugs[mark.habit]
        if mark.value == LOOP_SKIP:
            skips.append(SkipEntry(name, mark.day, mark.note.strip() or "skipped in Loop", mark.origin))
        elif habit.done(mark.value):
            at = datetime.combine(mark.day, _LOOP_NOON, tzinfo=UTC)
            completions.append(
                CompletionEntry(name, mark.day, at, "", mark.note.strip(), IMPORT_SOURCE, None, mark.origin)
            )
    first_days: dict[str, date] = {}
    for ritual, day in [*((c.ritual, c.day) for c in completions), *((s.ritual, s.day) for s in skips)]:
        first_days[ritual] = min(day, first_days.get(ritual, day))
    for habit, name in zip(habits, slugs, strict=True):
        if name not in existing:
            rituals.append(_loop_ritual(habit, name, default_timezone, first_days.get(name)))
    labels = tuple((name, _label(habit, habits)) for habit, name in zip(habits, slugs, strict=True))
    return Snapshot(tuple(rituals), tuple(completions), tuple(skips), labels=labels)


def _label(habit: LoopHabit, habits: Sequence[LoopHabit]) -> str:
    """How the summary names a habit: ``Loop habit 'Vegan'``, with its position when two share a name."""
    twins = sum(1 for other in habits if other.name == habit.name)
    place = f" (#{habit.position})" if twins > 1 and habit.position is not None else ""
    return f"Loop habit {shown(habit.name)}{place}"


def _loop_slugs(habits: Sequence[LoopHabit]) -> list[str]:
    """A distinct ritual name per habit, in order; a later habit with a taken slug gets ``-2``."""
    taken: set[str] = set()
    slugs: list[str] = []
    for habit in habits:
        base = slugify(habit.name)
        slug, number = base, 1
        while slug in taken:
            number += 1
            suffix = f"-{number}"
            slug = base[: 48 - len(suffix)].rstrip("-") + suffix
        taken.add(slug)
        slugs.append(slug)
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
