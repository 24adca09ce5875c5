"""A household's record as plain values: what a backup holds, read from the store or from a file.

Backups name rituals, never database ids, so one store's file merges into another.
The readers here turn one field of a file into a value, or a one-line error naming where.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar

from scheduler.app.ports import Store
from scheduler.app.stored import RitualSource
from scheduler.domain.definitions import (
    RitualTable,
    cadence_from_table,
    cadence_to_table,
    ritual_from_table,
    ritual_to_table,
)
from scheduler.domain.errors import DefinitionError, RitualError

FORMAT = "ritual-scheduler"
VERSION = 1
IMPORT_SOURCE = "import"  # the source of a completion whose file does not say
SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,47}")
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_T = TypeVar("_T")
# Told how far a long export or import has got: (done, total) in steps of the caller's choosing.
Progress = Callable[[int, int], None]


class ImportFileError(RitualError):
    """An import file is broken: ``backup.csv:14: completion: not a date: '2026-13-01'``."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}" if where else message)
        self.where = where
        self.message = message


@dataclass(frozen=True, slots=True)
class RitualEntry:
    """A ritual as a backup holds it: its normalized table and its cadence history."""

    table: RitualTable  # ritual_to_table
    source: RitualSource = RitualSource.CLI
    removed: bool = False
    cadence_versions: tuple[tuple[date, RitualTable], ...] = ()  # (effective_from, cadence_to_table)
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
    labels: tuple[tuple[str, str], ...] = ()  # (ritual, where it came from): "Loop habit 'Vegan' (#4)"


def read_snapshot(store: Store, progress: Progress | None = None) -> Snapshot:
    """Everything the store holds, removed rituals included, in a stable order (ids never matter).

    ``progress`` hears (rituals read, rituals) as each ritual's record is read.
    """
    rituals: list[RitualEntry] = []
    completions: list[CompletionEntry] = []
    skips: list[SkipEntry] = []
    pauses: list[PauseEntry] = []
    with store.transaction():  # one consistent read while the daemon may be recording
        every = store.list_rituals(include_removed=True)
        for done, stored in enumerate(every, start=1):
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
            if progress is not None:
                progress(done, len(every))
    rituals.sort(key=lambda r: r.name)
    completions.sort(key=lambda c: (c.ritual, c.day, c.at, c.by, c.source, c.note, c.occurrence or ""))
    skips.sort(key=lambda s: (s.ritual, s.day, s.reason))
    pauses.sort(key=lambda p: (p.ritual, p.start, p.until or date.max, p.reason))
    return Snapshot(tuple(rituals), tuple(completions), tuple(skips), tuple(pauses))


def read_text_file(path: Path) -> str:
    """A file to import as text (UTF-8, a byte order mark allowed); one-line errors naming it."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ImportFileError(str(path), "no such file") from None
    except IsADirectoryError:
        raise ImportFileError(str(path), "is a folder, not a file") from None
    except OSError as exc:
        raise ImportFileError(str(path), f"cannot read ({exc.strerror or exc})") from None
    return decode(data, str(path))


def decode(data: bytes, shown: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ImportFileError(f"{shown}:{line}", "not UTF-8 text") from None


def compact(table: Mapping[str, Any]) -> str:
    return json.dumps(table, separators=(",", ":"), ensure_ascii=False)


def instant_text(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat()


def shown(value: object) -> str:
    if isinstance(value, str):
        shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in value)
        return f"'{shown}'" if len(shown) <= 40 else f"'{shown[:37]}...'"
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 40 else text[:37] + "..."


def read_date(value: object) -> date:
    if isinstance(value, str) and ISO_DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError(f"not a date: {shown(value)}")


def read_optional_date(value: object) -> date | None:
    return None if value is None or value == "" else read_date(value)


def read_instant(value: object) -> datetime:
    """An ISO date-time with an offset, as aware UTC (a naive one would be a guess)."""
    if isinstance(value, str) and ISO_DATE.match(value):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            if parsed.utcoffset() is None:
                raise ValueError(f"date-time without a time zone: {shown(value)}")
            return parsed.astimezone(UTC)
    raise ValueError(f"not a date-time: {shown(value)}")


def read_text(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"not text: {shown(value)}")
    return value


def read_optional_text(value: object) -> str | None:
    return None if value is None or value == "" else read_text(value)


def read_name(value: object) -> str:
    if value == "" or value is None:
        raise ValueError("missing ritual name")
    if not isinstance(value, str) or not SLUG.fullmatch(value):
        raise ValueError(f"not a ritual name: {shown(value)}")
    return value


def read_source(value: object) -> RitualSource:
    if value is None or value == "":
        return RitualSource.CLI
    if isinstance(value, str) and value in {str(s) for s in RitualSource}:
        return RitualSource(value)
    raise ValueError(f"not a ritual source: {shown(value)} (expected file or cli)")


def read_flag(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    if value == "":
        return False
    raise ValueError(f"not true or false: {shown(value)}")


def read_completion_source(value: object) -> str:
    return read_optional_text(value) or IMPORT_SOURCE


def ritual_table(raw: object, default_timezone: str) -> RitualTable:
    """Validate a ritual table (DefinitionError) and return it normalized."""
    if not isinstance(raw, dict):
        raise DefinitionError(None, f"the definition must be a table, not {shown(raw)}")
    return ritual_to_table(ritual_from_table(raw, fallback_timezone=default_timezone))


def cadence_table(raw: object) -> RitualTable:
    if not isinstance(raw, dict):
        raise DefinitionError(None, f"a cadence must be a table, not {shown(raw)}")
    return cadence_to_table(cadence_from_table(raw))


@dataclass
class PendingRitual:
    table: RitualTable
    source: RitualSource
    removed: bool
    origin: str
    versions: list[tuple[date, RitualTable, str]] = field(default_factory=list)


def finish_ritual(pending: PendingRitual) -> RitualEntry:
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
