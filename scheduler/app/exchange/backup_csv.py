"""The CSV backup: one row per ritual, cadence version, completion, skip and pause, and its reader."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import date
from typing import NoReturn, TypeVar

from scheduler.app.exchange.snapshot import (
    CompletionEntry,
    ImportFileError,
    PauseEntry,
    PendingRitual,
    SkipEntry,
    Snapshot,
    cadence_table,
    compact,
    finish_ritual,
    instant_text,
    read_completion_source,
    read_date,
    read_flag,
    read_instant,
    read_name,
    read_optional_date,
    read_optional_text,
    read_source,
    read_text,
    ritual_table,
    shown,
)
from scheduler.domain.definitions import RitualTable
from scheduler.domain.errors import DefinitionError

CSV_COLUMNS = (
    "record",
    "ritual",
    "day",
    "at",
    "by",
    "note",
    "source",
    "occurrence",
    "reason",
    "from",
    "until",
    "removed",
    "definition",
)
# The columns each kind of CSV row may fill, and those it must fill.
_RECORD_COLUMNS: dict[str, tuple[str, ...]] = {
    "ritual": ("ritual", "source", "removed", "definition"),
    "cadence": ("ritual", "from", "definition"),
    "completion": ("ritual", "day", "at", "by", "note", "source", "occurrence"),
    "skip": ("ritual", "day", "reason"),
    "pause": ("ritual", "from", "until", "reason"),
}
_REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "ritual": ("ritual", "definition"),
    "cadence": ("ritual", "from", "definition"),
    "completion": ("ritual", "day", "at"),
    "skip": ("ritual", "day"),
    "pause": ("ritual", "from"),
}

_T = TypeVar("_T")


def to_csv(snapshot: Snapshot) -> str:
    """One CSV: a ``record`` column says what each row is; a ritual's table is compact JSON.

    Each ritual row is followed by its ``cadence`` rows (the effective-dated history), then
    come the completions, skips and pauses.
    """
    out = io.StringIO()
    # RFC 4180's CRLF: the csv module quotes a field only for the characters of its line end,
    # so with "\n" alone a note holding a bare "\r" would be written unquoted and split the row.
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\r\n", restval="")
    writer.writeheader()
    for entry in snapshot.rituals:
        writer.writerow(
            {
                "record": "ritual",
                "ritual": entry.name,
                "source": str(entry.source),
                "removed": "true" if entry.removed else "false",
                "definition": compact(entry.table),
            }
        )
        for day, table in entry.cadence_versions:
            writer.writerow(
                {
                    "record": "cadence",
                    "ritual": entry.name,
                    "from": day.isoformat(),
                    "definition": compact(table),
                }
            )
    for c in snapshot.completions:
        writer.writerow(
            {
                "record": "completion",
                "ritual": c.ritual,
                "day": c.day.isoformat(),
                "at": instant_text(c.at),
                "by": c.by,
                "note": c.note,
                "source": c.source,
                "occurrence": c.occurrence or "",
            }
        )
    for s in snapshot.skips:
        writer.writerow({"record": "skip", "ritual": s.ritual, "day": s.day.isoformat(), "reason": s.reason})
    for p in snapshot.pauses:
        writer.writerow(
            {
                "record": "pause",
                "ritual": p.ritual,
                "from": p.start.isoformat(),
                "until": "" if p.until is None else p.until.isoformat(),
                "reason": p.reason,
            }
        )
    return out.getvalue()


def csv_rows(text: str, path: str) -> Iterator[tuple[int, list[str]]]:
    """Non-blank rows with the line each starts on (a quoted note may span lines)."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""), strict=True)
    previous = 0
    try:
        for row in reader:
            start, previous = previous + 1, reader.line_num
            if any(cell.strip() for cell in row):
                yield start, row
    except csv.Error as exc:
        message = str(exc)
        raise ImportFileError(
            f"{path}:{previous + 1}", f"not valid CSV: {message[:1].lower()}{message[1:]}"
        ) from None


def _csv_header(
    path: str, line: int, header: list[str], known: Iterable[str], required: Iterable[str]
) -> None:
    seen: set[str] = set()
    allowed = set(known)
    for column in header:
        if column not in allowed:
            raise ImportFileError(f"{path}:{line}", f"unknown column {shown(column)}")
        if column in seen:
            raise ImportFileError(f"{path}:{line}", f"column '{column}' appears twice")
        seen.add(column)
    for column in required:
        if column not in seen:
            raise ImportFileError(f"{path}:{line}", f"missing column '{column}'")


class _CsvRow:
    """One row of a backup CSV, with the helpers that put its place in front of every message."""

    def __init__(self, path: str, line: int, record: str, cells: Mapping[str, str]) -> None:
        self.where = f"{path}:{line}"
        self.record = record
        self.cells = cells
        self.origin = f"{self.where}: {record}"

    def fail(self, message: str) -> NoReturn:
        raise ImportFileError(self.origin, message)

    def check_columns(self) -> None:
        allowed = _RECORD_COLUMNS[self.record]
        for column, value in self.cells.items():
            if value and column != "record" and column not in allowed:
                self.fail(f"column '{column}' does not apply to a {self.record}")
        for column in _REQUIRED_COLUMNS[self.record]:
            if not self.cells.get(column):
                self.fail(f"missing '{column}'")

    def get(self, column: str, reader: Callable[[object], _T]) -> _T:
        try:
            return reader(self.cells.get(column, ""))
        except ValueError as exc:
            self.fail(str(exc))

    def json_table(self) -> object:
        try:
            return json.loads(self.cells["definition"])
        except json.JSONDecodeError as exc:
            self.fail(f"definition is not valid JSON: {exc.msg[:1].lower()}{exc.msg[1:]}")


def parse_csv(text: str, path: str, *, default_timezone: str = "UTC") -> Snapshot:
    """Read and validate a ``to_csv`` file; raise ImportFileError naming the file and line."""
    rows = csv_rows(text, path)
    first = next(rows, None)
    if first is None:
        raise ImportFileError(path, "empty file (expected a header line first)")
    header_line, header = first
    _csv_header(path, header_line, header, CSV_COLUMNS, ("record", "ritual"))
    pending: dict[str, PendingRitual] = {}
    first_line: dict[str, int] = {}
    versions: list[tuple[str, date, RitualTable, _CsvRow]] = []
    completions: list[CompletionEntry] = []
    skips: list[SkipEntry] = []
    pauses: list[PauseEntry] = []
    for line, cells in rows:
        if len(cells) != len(header):
            raise ImportFileError(f"{path}:{line}", f"expected {len(header)} fields, found {len(cells)}")
        values = dict(zip(header, cells, strict=True))
        record = values["record"]
        if record not in _RECORD_COLUMNS:
            listed = ", ".join(list(_RECORD_COLUMNS)[:-1]) + " or " + list(_RECORD_COLUMNS)[-1]
            raise ImportFileError(f"{path}:{line}", f"unknown record {shown(record)} (expected {listed})")
        row = _CsvRow(path, line, record, values)
        row.check_columns()
        name = row.get("ritual", read_name)
        if record == "ritual":
            ritual = _csv_ritual(row, name, default_timezone)
            if name in pending:
                where = f"{row.where}: ritual '{name}'"
                raise ImportFileError(where, f"listed twice (first at line {first_line[name]})")
            pending[name], first_line[name] = ritual, line
        elif record == "cadence":
            day = row.get("from", read_date)
            try:
                table = cadence_table(row.json_table())
            except DefinitionError as exc:
                row.fail(exc.message)
            versions.append((name, day, table, row))
        elif record == "completion":
            completions.append(
                CompletionEntry(
                    ritual=name,
                    day=row.get("day", read_date),
                    at=row.get("at", read_instant),
                    by=row.get("by", read_text),
                    note=row.get("note", read_text),
                    source=row.get("source", read_completion_source),
                    occurrence=row.get("occurrence", read_optional_text),
                    origin=row.origin,
                )
            )
        elif record == "skip":
            skips.append(SkipEntry(name, row.get("day", read_date), row.get("reason", read_text), row.origin))
        else:
            start = row.get("from", read_date)
            until = row.get("until", read_optional_date)
            if until is not None and until < start:
                row.fail(f"ends {until.isoformat()}, before it starts {start.isoformat()}")
            pauses.append(PauseEntry(name, start, until, row.get("reason", read_text), row.origin))
    for name, day, table, row in versions:
        if name not in pending:
            row.fail(f"no ritual row for '{name}' in this file")
        pending[name].versions.append((day, table, row.origin))
    return Snapshot(
        tuple(finish_ritual(p) for p in pending.values()), tuple(completions), tuple(skips), tuple(pauses)
    )


def _csv_ritual(row: _CsvRow, name: str, default_timezone: str) -> PendingRitual:
    raw = row.json_table()
    if isinstance(raw, dict):
        written = raw.setdefault("name", name)
        if written != name:
            row.fail(f"the definition names {shown(written)}, the row '{name}'")
    try:
        table = ritual_table(raw, default_timezone)
    except DefinitionError as exc:
        raise ImportFileError(f"{row.where}: ritual '{name}'", exc.message) from None
    return PendingRitual(table, row.get("source", read_source), row.get("removed", read_flag), row.origin)
