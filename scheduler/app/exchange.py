"""Moving a household's record in and out: JSON/CSV backups, an iCalendar feed, Loop imports.

Backups name rituals, never database ids, so one store's file merges into another. An
import only adds (a ritual that is already there is kept as it is), all in one transaction:
a bad file or a failure half-way changes nothing, and importing a file twice adds nothing
the second time.
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from icalendar import Calendar, Event, Timezone

from scheduler.adapters.store import SqlStore
from scheduler.app.stored import RitualSource, StoredRitual
from scheduler.domain import cadence as cad
from scheduler.domain.cadence import cadence_in_force
from scheduler.domain.definitions import (
    Ritual,
    cadence_from_table,
    cadence_to_table,
    default_title,
    ritual_from_table,
    ritual_to_table,
)
from scheduler.domain.errors import DefinitionError, RitualError
from scheduler.domain.reminders import NudgeKind

if TYPE_CHECKING:
    from scheduler.app.service import Upcoming

FORMAT = "ritual-scheduler"
VERSION = 1
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
IMPORT_SOURCE = "import"  # the source of a completion whose file does not say
EVENT_LENGTH = timedelta(minutes=30)  # how long a ritual blocks in a calendar: a guess, kept simple
DISCREET_SUMMARY = "Ritual time"

_SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,47}")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_T = TypeVar("_T")


class ImportFileError(RitualError):
    """An import file is broken: ``backup.csv:14: completion: not a date: '2026-13-01'``."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}" if where else message)
        self.where = where
        self.message = message


# --- the snapshot ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RitualEntry:
    """A ritual as a backup holds it: its normalized table and its cadence history."""

    table: dict[str, Any]  # ritual_to_table
    source: RitualSource = RitualSource.CLI
    removed: bool = False
    cadence_versions: tuple[tuple[date, dict[str, Any]], ...] = ()  # (effective_from, cadence_to_table)
    origin: str = field(default="", compare=False)  # where in the file, for error messages

    @property
    def name(self) -> str:
        return str(self.table["name"])


@dataclass(frozen=True, slots=True)
class CompletionEntry:
    ritual: str
    day: date
    at: datetime  # aware UTC
    by: str = ""
    note: str = ""
    source: str = IMPORT_SOURCE
    occurrence: str | None = None
    origin: str = field(default="", compare=False)


@dataclass(frozen=True, slots=True)
class SkipEntry:
    ritual: str
    day: date
    reason: str = ""
    origin: str = field(default="", compare=False)


@dataclass(frozen=True, slots=True)
class PauseEntry:
    ritual: str
    start: date
    until: date | None = None  # inclusive; None while open-ended
    reason: str = ""
    origin: str = field(default="", compare=False)


@dataclass(frozen=True, slots=True)
class Snapshot:
    rituals: tuple[RitualEntry, ...] = ()
    completions: tuple[CompletionEntry, ...] = ()
    skips: tuple[SkipEntry, ...] = ()
    pauses: tuple[PauseEntry, ...] = ()


def read_snapshot(store: SqlStore) -> Snapshot:
    """Everything the store holds, removed rituals included, in a stable order (ids never matter)."""
    rituals: list[RitualEntry] = []
    completions: list[CompletionEntry] = []
    skips: list[SkipEntry] = []
    pauses: list[PauseEntry] = []
    with store.transaction():  # one consistent read while the daemon may be recording
        for stored in store.list_rituals(include_removed=True):
            name = stored.name
            versions = tuple(
                (version.effective_from, cadence_to_table(version.cadence))
                for version in store.cadence_history(stored.id)
            )
            removed = stored.removed_at is not None
            rituals.append(RitualEntry(ritual_to_table(stored.ritual), stored.source, removed, versions))
            completions.extend(
                CompletionEntry(name, c.day, c.at, c.by, c.note, c.source, c.occurrence)
                for c in store.completions(stored.id)
            )
            skips.extend(SkipEntry(name, s.day, s.reason) for s in store.skips(stored.id))
            pauses.extend(PauseEntry(name, p.start, p.until, p.reason) for p in store.pauses(stored.id))
    rituals.sort(key=lambda r: r.name)
    completions.sort(key=lambda c: (c.ritual, c.day, c.at, c.by, c.source, c.note, c.occurrence or ""))
    skips.sort(key=lambda s: (s.ritual, s.day, s.reason))
    pauses.sort(key=lambda p: (p.ritual, p.start, p.until or date.max, p.reason))
    return Snapshot(tuple(rituals), tuple(completions), tuple(skips), tuple(pauses))


# --- writing --------------------------------------------------------------------------------------


def to_json(snapshot: Snapshot) -> str:
    """A versioned, indented JSON document; the same snapshot always gives the same text."""
    document = {
        "format": FORMAT,
        "version": VERSION,
        "rituals": [
            {
                "definition": entry.table,
                "source": str(entry.source),
                "removed": entry.removed,
                "cadence": [
                    {"from": day.isoformat(), "cadence": table} for day, table in entry.cadence_versions
                ],
            }
            for entry in snapshot.rituals
        ],
        "completions": [
            {
                "ritual": c.ritual,
                "day": c.day.isoformat(),
                "at": _instant_text(c.at),
                "by": c.by,
                "note": c.note,
                "source": c.source,
                "occurrence": c.occurrence,
            }
            for c in snapshot.completions
        ],
        "skips": [{"ritual": s.ritual, "day": s.day.isoformat(), "reason": s.reason} for s in snapshot.skips],
        "pauses": [
            {
                "ritual": p.ritual,
                "from": p.start.isoformat(),
                "until": None if p.until is None else p.until.isoformat(),
                "reason": p.reason,
            }
            for p in snapshot.pauses
        ],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


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
                "definition": _compact(entry.table),
            }
        )
        for day, table in entry.cadence_versions:
            writer.writerow(
                {
                    "record": "cadence",
                    "ritual": entry.name,
                    "from": day.isoformat(),
                    "definition": _compact(table),
                }
            )
    for c in snapshot.completions:
        writer.writerow(
            {
                "record": "completion",
                "ritual": c.ritual,
                "day": c.day.isoformat(),
                "at": _instant_text(c.at),
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


def _compact(table: Mapping[str, Any]) -> str:
    return json.dumps(table, separators=(",", ":"), ensure_ascii=False)


def _instant_text(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat()


# --- reading values -------------------------------------------------------------------------------
# Each reader takes a raw value (a JSON value or a CSV cell) and returns it checked, or raises
# ValueError with a message that names the value but not the field: the caller says where.


def _shown(value: object) -> str:
    if isinstance(value, str):
        shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in value)
        return f"'{shown}'" if len(shown) <= 40 else f"'{shown[:37]}...'"
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 40 else text[:37] + "..."


def _read_date(value: object) -> date:
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError(f"not a date: {_shown(value)}")


def _read_optional_date(value: object) -> date | None:
    return None if value is None or value == "" else _read_date(value)


def _read_instant(value: object) -> datetime:
    """An ISO date-time with an offset, as aware UTC (a naive one would be a guess)."""
    if isinstance(value, str) and _ISO_DATE.match(value):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            if parsed.utcoffset() is None:
                raise ValueError(f"date-time without a time zone: {_shown(value)}")
            return parsed.astimezone(UTC)
    raise ValueError(f"not a date-time: {_shown(value)}")


def _read_text(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"not text: {_shown(value)}")
    return value


def _read_optional_text(value: object) -> str | None:
    return None if value is None or value == "" else _read_text(value)


def _read_name(value: object) -> str:
    if value == "" or value is None:
        raise ValueError("missing ritual name")
    if not isinstance(value, str) or not _SLUG.fullmatch(value):
        raise ValueError(f"not a ritual name: {_shown(value)}")
    return value


def _read_source(value: object) -> RitualSource:
    if value is None or value == "":
        return RitualSource.CLI
    if isinstance(value, str) and value in {str(s) for s in RitualSource}:
        return RitualSource(value)
    raise ValueError(f"not a ritual source: {_shown(value)} (expected file or cli)")


def _read_flag(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    if value == "":
        return False
    raise ValueError(f"not true or false: {_shown(value)}")


def _read_completion_source(value: object) -> str:
    return _read_optional_text(value) or IMPORT_SOURCE


def _ritual_table(raw: object, default_timezone: str) -> dict[str, Any]:
    """Validate a ritual table (DefinitionError) and return it normalized."""
    if not isinstance(raw, dict):
        raise DefinitionError(None, f"the definition must be a table, not {_shown(raw)}")
    return ritual_to_table(ritual_from_table(raw, fallback_timezone=default_timezone))


def _cadence_table(raw: object) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise DefinitionError(None, f"a cadence must be a table, not {_shown(raw)}")
    return cadence_to_table(cadence_from_table(raw))


@dataclass
class _PendingRitual:
    table: dict[str, Any]
    source: RitualSource
    removed: bool
    origin: str
    versions: list[tuple[date, dict[str, Any], str]] = field(default_factory=list)


def _finish_ritual(pending: _PendingRitual) -> RitualEntry:
    """Order the cadence history and check it ends where the definition stands."""
    ordered = sorted(pending.versions, key=lambda v: v[0])
    seen: dict[date, str] = {}
    for day, _table, origin in ordered:
        if day in seen:
            raise ImportFileError(origin, f"a second cadence version from {day.isoformat()}")
        seen[day] = origin
    ritual = ritual_from_table(pending.table)
    if ordered and cadence_from_table(ordered[-1][1]) != ritual.cadence:
        raise ImportFileError(
            ordered[-1][2], f"the newest cadence of '{ritual.name}' does not match its definition"
        )
    versions = tuple((day, table) for day, table, _origin in ordered)
    return RitualEntry(pending.table, pending.source, pending.removed, versions, pending.origin)


# --- parsing JSON ---------------------------------------------------------------------------------


class _JsonReader:
    """Reads the document with a path into it for every message: ``completions[3].day``."""

    def __init__(self, path: str, default_timezone: str) -> None:
        self.path = path
        self.default_timezone = default_timezone

    def fail(self, where: str, message: str) -> NoReturn:
        raise ImportFileError(f"{self.path}: {where}" if where else self.path, message)

    def fields(
        self, value: object, where: str, required: tuple[str, ...], optional: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(where, f"must be an object, not {_shown(value)}")
        for key in value:
            if key not in required and key not in optional:
                self.fail(where, f"unknown key {_shown(key)}")
        for key in required:
            if key not in value:
                self.fail(where, f"missing '{key}'")
        return value

    def items(self, document: Mapping[str, Any], key: str) -> list[Any]:
        value = document.get(key, [])
        if not isinstance(value, list):
            self.fail(key, f"must be a list, not {_shown(value)}")
        return value

    def get(
        self, obj: Mapping[str, Any], key: str, where: str, reader: Callable[[object], _T], default: _T
    ) -> _T:
        return self.need(obj, key, where, reader) if key in obj else default

    def need(self, obj: Mapping[str, Any], key: str, where: str, reader: Callable[[object], _T]) -> _T:
        """A key ``fields`` already found present."""
        try:
            return reader(obj[key])
        except ValueError as exc:
            self.fail(f"{where}.{key}", str(exc))

    def ritual(self, raw: object, where: str) -> _PendingRitual:
        obj = self.fields(raw, where, ("definition",), ("source", "removed", "cadence"))
        try:
            table = _ritual_table(obj["definition"], self.default_timezone)
        except DefinitionError as exc:
            self.fail(f"{where}.definition", exc.message)
        pending = _PendingRitual(
            table,
            self.get(obj, "source", where, _read_source, RitualSource.CLI),
            self.get(obj, "removed", where, _read_flag, False),
            f"{self.path}: {where}",
        )
        versions = obj.get("cadence", [])
        if not isinstance(versions, list):
            self.fail(f"{where}.cadence", f"must be a list, not {_shown(versions)}")
        for index, version in enumerate(versions):
            at = f"{where}.cadence[{index}]"
            fields = self.fields(version, at, ("from", "cadence"))
            day = self.need(fields, "from", at, _read_date)
            try:
                cadence = _cadence_table(fields["cadence"])
            except DefinitionError as exc:
                self.fail(f"{at}.cadence", exc.message)
            pending.versions.append((day, cadence, f"{self.path}: {at}"))
        return pending

    def completion(self, raw: object, where: str) -> CompletionEntry:
        obj = self.fields(raw, where, ("ritual", "day", "at"), ("by", "note", "source", "occurrence"))
        return CompletionEntry(
            ritual=self.need(obj, "ritual", where, _read_name),
            day=self.need(obj, "day", where, _read_date),
            at=self.need(obj, "at", where, _read_instant),
            by=self.get(obj, "by", where, _read_text, ""),
            note=self.get(obj, "note", where, _read_text, ""),
            source=self.get(obj, "source", where, _read_completion_source, IMPORT_SOURCE),
            occurrence=self.get(obj, "occurrence", where, _read_optional_text, None),
            origin=f"{self.path}: {where}",
        )

    def skip(self, raw: object, where: str) -> SkipEntry:
        obj = self.fields(raw, where, ("ritual", "day"), ("reason",))
        return SkipEntry(
            ritual=self.need(obj, "ritual", where, _read_name),
            day=self.need(obj, "day", where, _read_date),
            reason=self.get(obj, "reason", where, _read_text, ""),
            origin=f"{self.path}: {where}",
        )

    def pause(self, raw: object, where: str) -> PauseEntry:
        obj = self.fields(raw, where, ("ritual", "from"), ("until", "reason"))
        start = self.need(obj, "from", where, _read_date)
        until = self.get(obj, "until", where, _read_optional_date, None)
        if until is not None and until < start:
            self.fail(where, f"ends {until.isoformat()}, before it starts {start.isoformat()}")
        return PauseEntry(
            ritual=self.need(obj, "ritual", where, _read_name),
            start=start,
            until=until,
            reason=self.get(obj, "reason", where, _read_text, ""),
            origin=f"{self.path}: {where}",
        )


def parse_json(text: str, path: str, *, default_timezone: str = "UTC") -> Snapshot:
    """Read and validate a ``to_json`` document; raise ImportFileError naming the place in it."""
    try:
        document = json.loads(text.removeprefix("\ufeff"))
    except json.JSONDecodeError as exc:
        raise ImportFileError(
            f"{path}:{exc.lineno}", f"not valid JSON: {exc.msg[:1].lower()}{exc.msg[1:]}"
        ) from None
    reader = _JsonReader(path, default_timezone)
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        reader.fail("", f'not a {FORMAT} export (no "format": "{FORMAT}")')
    reader.fields(document, "", ("format", "version"), ("rituals", "completions", "skips", "pauses"))
    if document["version"] != VERSION or isinstance(document["version"], bool):
        reader.fail(
            "version", f"unsupported version {_shown(document['version'])} (this program reads {VERSION})"
        )
    pending: dict[str, _PendingRitual] = {}
    first_at: dict[str, str] = {}
    for index, raw in enumerate(reader.items(document, "rituals")):
        where = f"rituals[{index}]"
        ritual = reader.ritual(raw, where)
        name = str(ritual.table["name"])
        if name in pending:
            reader.fail(where, f"ritual '{name}' is listed twice (first at {first_at[name]})")
        pending[name], first_at[name] = ritual, where
    return Snapshot(
        rituals=tuple(_finish_ritual(p) for p in pending.values()),
        completions=tuple(
            reader.completion(raw, f"completions[{i}]")
            for i, raw in enumerate(reader.items(document, "completions"))
        ),
        skips=tuple(reader.skip(raw, f"skips[{i}]") for i, raw in enumerate(reader.items(document, "skips"))),
        pauses=tuple(
            reader.pause(raw, f"pauses[{i}]") for i, raw in enumerate(reader.items(document, "pauses"))
        ),
    )


# --- parsing CSV ----------------------------------------------------------------------------------


def _csv_rows(text: str, path: str) -> Iterator[tuple[int, list[str]]]:
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
            raise ImportFileError(f"{path}:{line}", f"unknown column {_shown(column)}")
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
    rows = _csv_rows(text, path)
    first = next(rows, None)
    if first is None:
        raise ImportFileError(path, "empty file (expected a header line first)")
    header_line, header = first
    _csv_header(path, header_line, header, CSV_COLUMNS, ("record", "ritual"))
    pending: dict[str, _PendingRitual] = {}
    first_line: dict[str, int] = {}
    versions: list[tuple[str, date, dict[str, Any], _CsvRow]] = []
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
            raise ImportFileError(f"{path}:{line}", f"unknown record {_shown(record)} (expected {listed})")
        row = _CsvRow(path, line, record, values)
        row.check_columns()
        name = row.get("ritual", _read_name)
        if record == "ritual":
            ritual = _csv_ritual(row, name, default_timezone)
            if name in pending:
                where = f"{row.where}: ritual '{name}'"
                raise ImportFileError(where, f"listed twice (first at line {first_line[name]})")
            pending[name], first_line[name] = ritual, line
        elif record == "cadence":
            day = row.get("from", _read_date)
            try:
                table = _cadence_table(row.json_table())
            except DefinitionError as exc:
                row.fail(exc.message)
            versions.append((name, day, table, row))
        elif record == "completion":
            completions.append(
                CompletionEntry(
                    ritual=name,
                    day=row.get("day", _read_date),
                    at=row.get("at", _read_instant),
                    by=row.get("by", _read_text),
                    note=row.get("note", _read_text),
                    source=row.get("source", _read_completion_source),
                    occurrence=row.get("occurrence", _read_optional_text),
                    origin=row.origin,
                )
            )
        elif record == "skip":
            skips.append(
                SkipEntry(name, row.get("day", _read_date), row.get("reason", _read_text), row.origin)
            )
        else:
            start = row.get("from", _read_date)
            until = row.get("until", _read_optional_date)
            if until is not None and until < start:
                row.fail(f"ends {until.isoformat()}, before it starts {start.isoformat()}")
            pauses.append(PauseEntry(name, start, until, row.get("reason", _read_text), row.origin))
    for name, day, table, row in versions:
        if name not in pending:
            row.fail(f"no ritual row for '{name}' in this file")
        pending[name].versions.append((day, table, row.origin))
    return Snapshot(
        tuple(_finish_ritual(p) for p in pending.values()), tuple(completions), tuple(skips), tuple(pauses)
    )


def _csv_ritual(row: _CsvRow, name: str, default_timezone: str) -> _PendingRitual:
    raw = row.json_table()
    if isinstance(raw, dict):
        written = raw.setdefault("name", name)
        if written != name:
            row.fail(f"the definition names {_shown(written)}, the row '{name}'")
    try:
        table = _ritual_table(raw, default_timezone)
    except DefinitionError as exc:
        raise ImportFileError(f"{row.where}: ritual '{name}'", exc.message) from None
    return _PendingRitual(table, row.get("source", _read_source), row.get("removed", _read_flag), row.origin)


# --- importing ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What an import did (or, for a dry run, would do)."""

    rituals_added: tuple[str, ...] = ()
    rituals_kept: tuple[str, ...] = ()  # already in the store with the same definition
    rituals_conflicting: tuple[str, ...] = ()  # already in the store, defined differently: kept as they are
    completions_added: int = 0
    completions_present: int = 0
    skips_added: int = 0
    skips_present: int = 0
    pauses_added: int = 0
    pauses_present: int = 0
    dry_run: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.rituals_added or self.completions_added or self.skips_added or self.pauses_added)

    def summary(self) -> str:
        """One short line for the CLI: ``added 2 rituals, 40 completions; 3 already there``."""
        verb = "would add" if self.dry_run else "added"
        added = [
            _count(len(self.rituals_added), "ritual"),
            _count(self.completions_added, "completion"),
            _count(self.skips_added, "skip"),
            _count(self.pauses_added, "pause"),
        ]
        text = f"{verb} {', '.join(added)}"
        present = self.completions_present + self.skips_present + self.pauses_present + len(self.rituals_kept)
        if present:
            text += f"; {present} already there"
        if self.rituals_conflicting:
            names = ", ".join(f"'{name}'" for name in self.rituals_conflicting)
            text += f"; kept {names} as stored (defined differently in the file)"
        return text


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


class _DryRunDone(Exception):
    """Raised inside the import's transaction to roll a dry run back after counting."""

    def __init__(self, result: ImportResult) -> None:
        super().__init__("dry run")
        self.result = result


def apply_import(
    store: SqlStore, snapshot: Snapshot, *, now: datetime, dry_run: bool = False
) -> ImportResult:
    """Merge a snapshot into the store, never overwriting: all of it in one transaction, or nothing.

    A ritual whose name is taken is kept as it is (a differing definition is reported as a
    conflict); its completions, skips and pauses are still added. A completion is already
    there when the store holds one with the same ritual, day, time and person: each stored
    one matches one in the file, so re-importing adds nothing and real repeats (two back-filled
    completions on one day) survive a round trip. A dry run does the same work inside the
    transaction and rolls it back, so its counts are exact. Do not call it with dry_run inside
    an open ``store.transaction()``: the rollback would have to undo the caller's work too.
    """
    if now.utcoffset() is None:
        raise ValueError(f"now must be an aware datetime, got naive '{now.isoformat()}'")
    try:
        with store.transaction():
            result = _merge(store, snapshot, now, dry_run=dry_run)
            if dry_run:
                raise _DryRunDone(result)
    except _DryRunDone as done:
        return done.result
    return result


def _merge(store: SqlStore, snapshot: Snapshot, now: datetime, *, dry_run: bool) -> ImportResult:
    stored = {s.name: s for s in store.list_rituals(include_removed=True)}
    added: list[str] = []
    kept: list[str] = []
    conflicting: list[str] = []
    for entry in snapshot.rituals:
        existing = stored.get(entry.name)
        if existing is None:
            stored[entry.name] = _create_ritual(store, entry, snapshot, now)
            added.append(entry.name)
        elif existing.ritual == ritual_from_table(entry.table):
            kept.append(entry.name)
        else:
            conflicting.append(entry.name)
    completions = _add_completions(store, stored, snapshot.completions, now)
    skips = _add_skips(store, stored, snapshot.skips, now)
    pauses = _add_pauses(store, stored, snapshot.pauses, now)
    return ImportResult(
        rituals_added=tuple(added),
        rituals_kept=tuple(kept),
        rituals_conflicting=tuple(conflicting),
        completions_added=completions[0],
        completions_present=completions[1],
        skips_added=skips[0],
        skips_present=skips[1],
        pauses_added=pauses[0],
        pauses_present=pauses[1],
        dry_run=dry_run,
    )


def _create_ritual(store: SqlStore, entry: RitualEntry, snapshot: Snapshot, now: datetime) -> StoredRitual:
    """Save a new ritual so its cadence history reads as in the file: oldest version first."""
    ritual = ritual_from_table(entry.table)
    for day, table in entry.cadence_versions:
        earlier = replace(ritual, cadence=cadence_from_table(table))
        store.save_ritual(earlier, entry.source, now=now, effective_from=day)
    if entry.cadence_versions:
        effective_from = entry.cadence_versions[-1][0]
    else:
        # A hand-written file without a history: the cadence counts from the start, or from
        # the oldest completion in the file, or from today.
        days = [c.day for c in snapshot.completions if c.ritual == entry.name]
        effective_from = ritual.start or min(days, default=cad.ritual_date(ritual.cadence, now))
    saved = store.save_ritual(ritual, entry.source, now=now, effective_from=effective_from)
    if not entry.removed:
        return saved
    store.remove_ritual(entry.name, now=now)
    return replace(saved, removed_at=now)


def _target(stored: Mapping[str, StoredRitual], name: str, origin: str) -> StoredRitual:
    target = stored.get(name)
    if target is None:
        raise ImportFileError(origin, f"no ritual named '{name}' in the file or in the store")
    return target


def _by_ritual(entries: Iterable[_T], name: Callable[[_T], str]) -> dict[str, list[_T]]:
    grouped: dict[str, list[_T]] = {}
    for entry in entries:
        grouped.setdefault(name(entry), []).append(entry)
    return grouped


def _add_completions(
    store: SqlStore, stored: Mapping[str, StoredRitual], entries: Iterable[CompletionEntry], now: datetime
) -> tuple[int, int]:
    added = present = 0
    for name, group in _by_ritual(entries, lambda c: c.ritual).items():
        target = _target(stored, name, group[0].origin)
        there = Counter((c.day, c.at, c.by) for c in store.completions(target.id))
        versions = store.cadence_history(target.id)
        for entry in group:
            key = (entry.day, entry.at, entry.by)
            if there[key]:
                there[key] -= 1
                present += 1
                continue
            cadence = cadence_in_force(versions, entry.day, target.ritual.cadence)
            _record, created = store.add_completion(
                target.id,
                day=entry.day,
                at=entry.at,
                period_key=cad.period_of(cadence, entry.day).key,
                by=entry.by,
                note=entry.note,
                source=entry.source,
                occurrence=entry.occurrence,
                now=now,
            )
            # An occurrence key the same person already used is a repeat of that completion.
            added, present = (added + 1, present) if created else (added, present + 1)
    return added, present


def _add_skips(
    store: SqlStore, stored: Mapping[str, StoredRitual], entries: Iterable[SkipEntry], now: datetime
) -> tuple[int, int]:
    added = present = 0
    for name, group in _by_ritual(entries, lambda s: s.ritual).items():
        target = _target(stored, name, group[0].origin)
        there = Counter(s.day for s in store.skips(target.id))
        for entry in group:
            if there[entry.day]:
                there[entry.day] -= 1
                present += 1
            else:
                store.add_skip(target.id, day=entry.day, reason=entry.reason, now=now)
                added += 1
    return added, present


def _add_pauses(
    store: SqlStore, stored: Mapping[str, StoredRitual], entries: Iterable[PauseEntry], now: datetime
) -> tuple[int, int]:
    added = present = 0
    for name, group in _by_ritual(entries, lambda p: p.ritual).items():
        target = _target(stored, name, group[0].origin)
        there = Counter((p.start, p.until) for p in store.pauses(target.id))
        for entry in group:
            key = (entry.start, entry.until)
            if there[key]:
                there[key] -= 1
                present += 1
            else:
                store.add_pause(target.id, start=entry.start, until=entry.until, reason=entry.reason, now=now)
                added += 1
    return added, present


# --- iCalendar ------------------------------------------------------------------------------------


def ics_feed(upcoming: Sequence[Upcoming], *, generated_at: datetime) -> bytes:
    """The upcoming ritual times as an iCalendar feed, one event per DUE nudge.

    UIDs are the occurrence keys, so a calendar that re-subscribes updates events instead of
    duplicating them; the same input gives the same bytes. Discreet rituals show neither their
    title, description nor dimension.
    """
    if generated_at.utcoffset() is None:
        raise ValueError(f"generated_at must be an aware datetime, got naive '{generated_at.isoformat()}'")
    stamp = generated_at.astimezone(UTC)
    due = sorted(
        (u for u in upcoming if u.nudge.kind is NudgeKind.DUE),
        key=lambda u: (u.nudge.due, u.ritual.name, u.nudge.slot),
    )
    calendar = Calendar()
    calendar.add("prodid", "-//ritual-scheduler//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", "Rituals")
    for zone in _zones(due):
        calendar.add_component(zone)
    for item in due:
        calendar.add_component(_event(item, stamp))
    return bytes(calendar.to_ical())


def _zones(due: Sequence[Upcoming]) -> list[Timezone]:
    """VTIMEZONE components for the zones in use, sorted, covering whole years around the events."""
    if not due:
        return []
    first = date(min(u.nudge.due for u in due).year - 1, 12, 1)
    last = date(max(u.nudge.due for u in due).year + 1, 1, 31)
    zones: list[Timezone] = []
    for name in sorted({u.ritual.cadence.timezone for u in due} - {"UTC"}):
        try:
            zones.append(Timezone.from_tzid(name, first_date=first, last_date=last))
        except ValueError:  # a zone icalendar cannot describe: the TZID alone still names it
            continue
    return zones


def _event(item: Upcoming, stamp: datetime) -> Event:
    ritual, nudge = item.ritual, item.nudge
    event = Event()
    event.add("uid", f"{ritual.name}/{nudge.day.isoformat()}/{nudge.slot}@ritual-scheduler")
    event.add("dtstamp", stamp)
    event.add("dtstart", nudge.due.astimezone(ritual.cadence.zone))
    event.add("duration", EVENT_LENGTH)
    event.add("summary", DISCREET_SUMMARY if ritual.discreet else ritual.title)
    if not ritual.discreet:
        if ritual.description:
            event.add("description", ritual.description)
        event.add("categories", [str(ritual.dimension)])
    return event


# --- Loop Habit Tracker ---------------------------------------------------------------------------
# Facts about Loop's CSV export (its HabitsCSVExporter, a ZIP): Habits.csv lists the habits
# (Position, Name, Type, Question, Description, FrequencyNumerator, FrequencyDenominator, Color,
# Unit, Target Type, Target Value, Archived?; older versions say NumRepetitions and Interval and
# have fewer columns). The top-level Checkmarks.csv has a ``Date`` column and one column per
# habit, named by the habit's name, each line ending in a comma. Each habit's folder
# (``001 Meditate/``) holds its own Checkmarks.csv: ``Date,Value,Notes`` in newer versions, bare
# ``date,value`` lines in older ones. Values are 2 (done), 1 (not done but not expected, from
# the frequency), 0 (not done), -1 (unknown), 3 (skipped), written as numbers or, in newer
# versions, as YES_MANUAL, YES_AUTO, NO, UNKNOWN, SKIP; numerical habits write amounts x1000.

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
    rows = list(_csv_rows(text, path))
    kind = _loop_kind(path, rows)
    if kind == "habits":
        return LoopImport(habits=_loop_habits(path, rows))
    if kind == "table":
        return _loop_table(path, rows)
    habit = _loop_habit_name(path, name)
    body = rows if _ISO_DATE.fullmatch(rows[0][1][0].strip()) else rows[1:]
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
    if _ISO_DATE.fullmatch(first):
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
    if path.suffix.lower() == ".zip":
        return _load_loop_zip(path)
    text = _read_text_file(path)
    kind = _loop_kind(str(path), list(_csv_rows(text, str(path))))
    found = parse_loop_csv(text, str(path), name=name)
    if kind == "habits":
        beside = path.parent / "Checkmarks.csv"
        if not beside.is_file():
            return found
        return parse_loop_csv(_read_text_file(beside), str(beside)).described_by(found)
    habits_file = path.parent / ("Habits.csv" if kind == "table" else "../Habits.csv")
    if not habits_file.is_file():
        return found
    details = parse_loop_csv(_read_text_file(habits_file), str(habits_file))
    return found.described_by(details, add_missing=kind == "table")


def _load_loop_zip(path: Path) -> LoopImport:
    shown = str(path)
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if "Checkmarks.csv" not in names:
                raise ImportFileError(shown, "no Checkmarks.csv in this ZIP (is it Loop's CSV export?)")
            checks_text = _decode(archive.read("Checkmarks.csv"), f"{shown}/Checkmarks.csv")
            habits_text = (
                _decode(archive.read("Habits.csv"), f"{shown}/Habits.csv") if "Habits.csv" in names else None
            )
    except (OSError, zipfile.BadZipFile) as exc:
        raise ImportFileError(shown, f"cannot read the ZIP ({exc})") from None
    checks = parse_loop_csv(checks_text, f"{shown}/Checkmarks.csv")
    if habits_text is None:
        return checks
    return checks.described_by(parse_loop_csv(habits_text, f"{shown}/Habits.csv"))


def _read_text_file(path: Path) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ImportFileError(str(path), "no such file") from None
    except OSError as exc:
        raise ImportFileError(str(path), f"cannot read ({exc.strerror or exc})") from None
    return _decode(data, str(path))


def _decode(data: bytes, shown: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ImportFileError(f"{shown}:{line}", "not UTF-8 text") from None


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
        raise ValueError(f"not a Loop checkmark value: {_shown(cell)}") from None
    if value < -1:
        raise ValueError(f"not a Loop checkmark value: {_shown(cell)}")
    return value


def _loop_mark(
    path: str, line: int, habit: str, day_text: str, value_text: str, note: str
) -> LoopMark | None:
    """The mark of one cell, or None when it records nothing (not done, unknown)."""
    where = f"{path}:{line}"
    try:
        day = _read_date(day_text.strip())
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
            raise ImportFileError(f"{path}:{header_line}", f"habit {_shown(habit)} appears twice")
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
        raise ImportFileError(f"{path}:{line}", f"not a frequency (a whole number from 1): {_shown(text)}")
    return value


def slugify(name: str) -> str:
    """``Morning Hug`` -> ``morning-hug``: a ritual name made from a free-form habit name."""
    ascii_only = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_only.lower()).strip("-")
    return slug[:48].rstrip("-") or "habit"


def loop_cadence(habit: LoopHabit) -> dict[str, Any]:
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
    table: dict[str, Any] = {
        "name": name,
        "title": title if title.isprintable() and title else default_title(name),
        "description": habit.question.strip() or habit.description.strip(),
        "timezone": default_timezone,
        **loop_cadence(habit),
    }
    ritual: Ritual = ritual_from_table(table)
    versions = () if first_day is None else ((first_day, cadence_to_table(ritual.cadence)),)
    return RitualEntry(ritual_to_table(ritual), RitualSource.CLI, habit.archived, versions)
