"""Turning records into what people read: tables, one-line summaries and JSON objects.

Rich tables on a terminal, plain aligned columns when piped, so the output of
`ritual list | grep` stays greppable. Nothing here touches the store or clock.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, time
from typing import IO, TYPE_CHECKING, Any

from scheduler.app.stored import CompletionRecord, PauseRecord, SkipRecord, StoredRitual
from scheduler.domain.definitions import cadence_to_table, ritual_to_table
from scheduler.domain.reminders import NudgeKind

if TYPE_CHECKING:
    from scheduler.app.service import RitualDetail, Upcoming

Cell = str | int | float | None


def print_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[Cell]],
    *,
    title: str | None = None,
    out: IO[str] | None = None,
) -> None:
    """A rich table on a terminal; two-space aligned plain text otherwise."""
    stream = out or sys.stdout
    cells = [["" if c is None else str(c) for c in row] for row in rows]
    if stream.isatty():
        from rich.console import Console
        from rich.table import Table

        table = Table(*headers, title=title, title_justify="left", header_style="bold")
        for row in cells:
            table.add_row(*row)
        Console(file=stream).print(table)
        return
    if title:
        print(title, file=stream)
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    for row in [list(headers), *cells]:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip(), file=stream)


def print_json(value: Any, out: IO[str] | None = None) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False, default=_json_default), file=out or sys.stdout)


def _json_default(value: object) -> object:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def ritual_json(
    stored: StoredRitual, *, paused: bool, extra: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = dict(ritual_to_table(stored.ritual))
    body["source"] = stored.source.value
    body["paused"] = paused
    body["created_at"] = stored.created_at
    body["updated_at"] = stored.updated_at
    if extra:
        body.update(extra)
    return body


def next_due_times(upcoming: Iterable[Upcoming]) -> dict[str, datetime]:
    """Each ritual's next due time (heads-ups and nags left out), from ``service.upcoming``.

    ``ritual list --json`` and ``GET /api/v1/rituals`` put it in ``next_due`` (None when absent).
    """
    found: dict[str, datetime] = {}
    for item in upcoming:
        if item.nudge.kind is NudgeKind.DUE:
            found.setdefault(item.ritual.name, item.nudge.due)
    return found


def ritual_detail_json(detail: RitualDetail, *, paused: bool, streak: Mapping[str, Any]) -> dict[str, Any]:
    """The object of ``ritual show --json`` and ``GET /api/v1/rituals/{name}``."""
    return ritual_json(
        detail.stored,
        paused=paused,
        extra={
            "completions": [completion_json(c) for c in detail.completions],
            "skips": [skip_json(s) for s in detail.skips],
            "pauses": [pause_json(p) for p in detail.pauses],
            "streak": streak,
            "cadence_versions": [
                {"effective_from": v.effective_from, "cadence": cadence_to_table(v.cadence)}
                for v in detail.versions
            ],
        },
    )


def completion_json(record: CompletionRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "day": record.day,
        "at": record.at,
        "period": record.period_key,
        "by": record.by or None,
        "note": record.note or None,
        "source": record.source,
        "occurrence": record.occurrence,
    }


def skip_json(record: SkipRecord) -> dict[str, Any]:
    return {"id": record.id, "day": record.day, "reason": record.reason or None}


def pause_json(record: PauseRecord) -> dict[str, Any]:
    return {"id": record.id, "from": record.start, "until": record.until, "reason": record.reason or None}
