"""Printing for people and for pipes: tables, and the views' JSON.

Rich tables on a terminal, plain aligned columns when piped, so the output of
`ritual list | grep` stays greppable. The JSON shapes are ``scheduler.adapters.encoding``'s,
the same the API answers with.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scheduler.app.exchange import Progress
    from scheduler.app.stored import PauseRecord

Cell = str | int | float | None
# Columns holding what a person types back (a ritual's name): never shortened or wrapped.
NAME_COLUMNS = frozenset({"name", "ritual"})


def print_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[Cell]],
    *,
    title: str | None = None,
    out: IO[str] | None = None,
) -> None:
    """A rich table on a terminal; two-space aligned plain text otherwise.

    On a terminal the table fits its width and never cuts a word: columns wrap between
    words, and a name column (``NAME_COLUMNS``, what a person types back) never wraps. When
    even that is too wide, each row becomes a short block instead (its name, then a line per
    column). A column with neither a header nor a value is left out.
    """
    stream = out or sys.stdout
    cells = [["" if c is None else str(c) for c in row] for row in rows]
    if stream.isatty():
        _print_rich_table(headers, cells, title, stream)
        return
    if title:
        print(title, file=stream)
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    for row in [list(headers), *cells]:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip(), file=stream)


def _print_rich_table(
    headers: Sequence[str], cells: list[list[str]], title: str | None, stream: IO[str]
) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Column, Table

    console = Console(file=stream)
    shown = [i for i, header in enumerate(headers) if header or any(row[i] for row in cells)]
    headers = [headers[i] for i in shown]
    cells = [[row[i] for i in shown] for row in cells]
    narrowest, natural = [], []  # each column's width wrapped between words (a name: unwrapped), and not
    for index, header in enumerate(headers):
        texts = [header, *(row[index] for row in cells)]
        natural.append(max(map(len, texts)))
        words = [len(word) for text in texts for word in text.split()]
        narrowest.append(natural[-1] if header in NAME_COLUMNS else max(words, default=1))
    room = console.width - _GAP * (len(headers) - 1)
    if sum(narrowest) > room:
        _print_blocks(console, headers, cells, title)
        return
    widths = _fit(narrowest, natural, room)
    columns = [
        Column(header, no_wrap=header in NAME_COLUMNS, width=width)
        for header, width in zip(headers, widths, strict=True)
    ]
    table = Table(
        *columns,
        title=title,
        title_justify="left",
        header_style="bold",
        box=box.SIMPLE_HEAD,  # no side borders: the room goes to the words
        show_edge=False,
        padding=(0, 1, 0, 0),  # with the box's one-space separator: two spaces between columns
        pad_edge=False,
    )
    for row in cells:
        table.add_row(*row)
    console.print(table)


_GAP = 2  # between two columns: one space of padding and the box's one-space separator


def _fit(narrowest: Sequence[int], natural: Sequence[int], room: int) -> list[int]:
    """Column widths within ``room``: each column's natural width when all fit; else the widest
    column gives way first, one character at a time, none below its narrowest."""
    widths = list(natural)
    excess = sum(widths) - room
    while excess > 0:
        index = max((i for i, width in enumerate(widths) if width > narrowest[i]), key=lambda i: widths[i])
        widths[index] -= 1
        excess -= 1
    return widths


def _print_blocks(console: Any, headers: Sequence[str], cells: list[list[str]], title: str | None) -> None:
    """The compact form for a narrow terminal: per row its first column, then the rest wrapped below."""
    from rich.padding import Padding
    from rich.text import Text

    if title:
        console.print(Text(title, style="bold"))
    for row in cells:
        console.print(Text(row[0], style="bold"), no_wrap=True, overflow="ignore", crop=False)
        details = Text()
        for header, value in zip(headers[1:], row[1:], strict=True):
            if value:
                if details:
                    details.append("; ")
                details.append(f"{header} " if header else "", style="dim")
                details.append(value)
        console.print(Padding(details, (0, 0, 0, 2)))


# Work that is over sooner shows no bar at all: a bar that flashes by says nothing.
PROGRESS_AFTER = 0.5  # seconds


@contextmanager
def progress_bar(what: str, out: IO[str] | None = None) -> Iterator[Progress | None]:
    """A progress callback that draws a rich bar on stderr once the work has taken a while: on a
    terminal only (None when stderr is piped or redirected). The bar is gone when it finishes."""
    stream = out or sys.stderr
    if not stream.isatty():
        yield None
        return
    bar = _LazyBar(what, stream)
    try:
        yield bar
    finally:
        bar.close()


class _LazyBar:
    def __init__(self, what: str, stream: IO[str]) -> None:
        self.what = what
        self.stream = stream
        self.started = time.monotonic()
        self.bar: Any = None
        self.task: Any = None

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            if done >= total or time.monotonic() - self.started < PROGRESS_AFTER:
                return
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(
                TextColumn(self.what),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=Console(file=self.stream),
                transient=True,
            )
            self.bar.start()
            self.task = self.bar.add_task(self.what, total=total, completed=done)
        self.bar.update(self.task, completed=done, total=total)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


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
