"""Printing for people and for pipes: tables, and the views' JSON.

Rich tables on a terminal, plain aligned columns when piped, so the output of
`ritual list | grep` stays greppable. The JSON shapes are ``scheduler.adapters.encoding``'s,
the same the API answers with.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from scheduler.app.stored import PauseRecord

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


def print_json(value: object, out: IO[str] | None = None) -> None:
    """JSON made from the views by ``scheduler.adapters.encoding``, indented for people."""
    from scheduler.adapters.encoding import dumps

    print(dumps(value, indent=2), file=out or sys.stdout)


def pause_words(pause: PauseRecord) -> str:
    """``paused from Sun 20 Dec 2026 until Wed 6 Jan 2027 (travelling)``."""
    from scheduler.domain.wording import human_day

    until = f" until {human_day(pause.until)}" if pause.until else " until resumed"
    why = f" ({pause.reason})" if pause.reason else ""
    return f"paused from {human_day(pause.start)}{until}{why}"
