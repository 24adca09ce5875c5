"""The JSON backup: everything the store holds about the rituals, and its reader."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, NoReturn, TypeVar

from scheduler.app.exchange.snapshot import (
    FORMAT,
    IMPORT_SOURCE,
    VERSION,
    CompletionEntry,
    ImportFileError,
    PauseEntry,
    PendingRitual,
    SkipEntry,
    Snapshot,
    cadence_table,
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
from scheduler.app.stored import RitualSource
from scheduler.domain.definitions import RitualTable
from scheduler.domain.errors import DefinitionError

_T = TypeVar("_T")


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
                "at": instant_text(c.at),
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


class _JsonReader:
    """Reads the document with a path into it for every message: ``completions[3].day``."""

    def __init__(self, path: str, default_timezone: str) -> None:
        self.path = path
        self.default_timezone = default_timezone

    def fail(self, where: str, message: str) -> NoReturn:
        raise ImportFileError(f"{self.path}: {where}" if where else self.path, message)

    def fields(
        self, value: object, where: str, required: tuple[str, ...], optional: tuple[str, ...] = ()
    ) -> RitualTable:
        if not isinstance(value, dict):
            self.fail(where, f"must be an object, not {shown(value)}")
        for key in value:
            if key not in required and key not in optional:
                self.fail(where, f"unknown key {shown(key)}")
        for key in required:
            if key not in value:
                self.fail(where, f"missing '{key}'")
        return value

    def items(self, document: Mapping[str, Any], key: str) -> list[Any]:
        value = document.get(key, [])
        if not isinstance(value, list):
            self.fail(key, f"must be a list, not {shown(value)}")
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

    def ritual(self, raw: object, where: str) -> PendingRitual:
        obj = self.fields(raw, where, ("definition",), ("source", "removed", "cadence"))
        try:
            table = ritual_table(obj["definition"], self.default_timezone)
        except DefinitionError as exc:
            self.fail(f"{where}.definition", exc.message)
        pending = PendingRitual(
            table,
            self.get(obj, "source", where, read_source, RitualSource.CLI),
            self.get(obj, "removed", where, read_flag, False),
            f"{self.path}: {where}",
        )
        versions = obj.get("cadence", [])
        if not isinstance(versions, list):
            self.fail(f"{where}.cadence", f"must be a list, not {shown(versions)}")
        for index, version in enumerate(versions):
            at = f"{where}.cadence[{index}]"
            fields = self.fields(version, at, ("from", "cadence"))
            day = self.need(fields, "from", at, read_date)
            try:
                cadence = cadence_table(fields["cadence"])
            except DefinitionError as exc:
                self.fail(f"{at}.cadence", exc.message)
            pending.versions.append((day, cadence, f"{self.path}: {at}"))
        return pending

    def completion(self, raw: object, where: str) -> CompletionEntry:
        obj = self.fields(raw, where, ("ritual", "day", "at"), ("by", "note", "source", "occurrence"))
        return CompletionEntry(
            ritual=self.need(obj, "ritual", where, read_name),
            day=self.need(obj, "day", where, read_date),
            at=self.need(obj, "at", where, read_instant),
            by=self.get(obj, "by", where, read_text, ""),
            note=self.get(obj, "note", where, read_text, ""),
            source=self.get(obj, "source", where, read_completion_source, IMPORT_SOURCE),
            occurrence=self.get(obj, "occurrence", where, read_optional_text, None),
            origin=f"{self.path}: {where}",
        )

    def skip(self, raw: object, where: str) -> SkipEntry:
        obj = self.fields(raw, where, ("ritual", "day"), ("reason",))
        return SkipEntry(
            ritual=self.need(obj, "ritual", where, read_name),
            day=self.need(obj, "day", where, read_date),
            reason=self.get(obj, "reason", where, read_text, ""),
            origin=f"{self.path}: {where}",
        )

    def pause(self, raw: object, where: str) -> PauseEntry:
        obj = self.fields(raw, where, ("ritual", "from"), ("until", "reason"))
        start = self.need(obj, "from", where, read_date)
        until = self.get(obj, "until", where, read_optional_date, None)
        if until is not None and until < start:
            self.fail(where, f"ends {until.isoformat()}, before it starts {start.isoformat()}")
        return PauseEntry(
            ritual=self.need(obj, "ritual", where, read_name),
            start=start,
            until=until,
            reason=self.get(obj, "reason", where, read_text, ""),
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
    except RecursionError:  # arrays or objects nested hundreds deep; a backup nests four
        raise ImportFileError(path, "not a backup: arrays or objects nested too deep to read") from None
    reader = _JsonReader(path, default_timezone)
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        reader.fail("", f'not a {FORMAT} export (no "format": "{FORMAT}")')
    reader.fields(document, "", ("format", "version"), ("rituals", "completions", "skips", "pauses"))
    if document["version"] != VERSION or isinstance(document["version"], bool):
        reader.fail(
            "version", f"unsupported version {shown(document['version'])} (this program reads {VERSION})"
        )
    pending: dict[str, PendingRitual] = {}
    first_at: dict[str, str] = {}
    for index, raw in enumerate(reader.items(document, "rituals")):
        where = f"rituals[{index}]"
        ritual = reader.ritual(raw, where)
        name = str(ritual.table["name"])
        if name in pending:
            reader.fail(where, f"ritual '{name}' is listed twice (first at {first_at[name]})")
        pending[name], first_at[name] = ritual, where
    return Snapshot(
        rituals=tuple(finish_ritual(p) for p in pending.values()),
        completions=tuple(
            reader.completion(raw, f"completions[{i}]")
            for i, raw in enumerate(reader.items(document, "completions"))
        ),
        skips=tuple(reader.skip(raw, f"skips[{i}]") for i, raw in enumerate(reader.items(document, "skips"))),
        pauses=tuple(
            reader.pause(raw, f"pauses[{i}]") for i, raw in enumerate(reader.items(document, "pauses"))
        ),
    )
