"""The terminal heatmap: a GitHub-style calendar of one ritual's last year.

Rich colours on a terminal, distinct plain characters when piped. A daily ritual
is drawn as a Monday..Sunday by week grid, a weekly or monthly one as a row.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import IO, TYPE_CHECKING, Literal, overload

from scheduler.domain.cadence import Every
from scheduler.domain.heatmap import Cell
from scheduler.domain.streaks import PeriodStatus

if TYPE_CHECKING:
    from rich.text import Text

    from scheduler.app.views import HeatmapView

# Plain characters, one per status; None is a day before the ritual started (or after it ended).
PLAIN_CHARS: dict[PeriodStatus | None, str] = {
    PeriodStatus.KEPT: "#",
    PeriodStatus.MISSED: "x",
    PeriodStatus.EXCUSED: "-",
    PeriodStatus.OPEN: "o",
    PeriodStatus.REST: ".",
    None: " ",
}
_GLYPHS: dict[PeriodStatus | None, tuple[str, str]] = {
    PeriodStatus.KEPT: ("■", "green"),
    PeriodStatus.MISSED: ("■", "red"),
    PeriodStatus.EXCUSED: ("■", "blue"),
    PeriodStatus.OPEN: ("□", "bold"),
    PeriodStatus.REST: ("·", "dim"),
    None: (" ", ""),
}
_LEGEND_ORDER = (
    PeriodStatus.KEPT,
    PeriodStatus.MISSED,
    PeriodStatus.EXCUSED,
    PeriodStatus.OPEN,
    PeriodStatus.REST,
)
_ROW_LABELS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_INDENT = 4  # room for the weekday labels


@dataclass(frozen=True, slots=True)
class _Grid:
    """What to draw, independent of how: month labels by column, labelled rows of cells."""

    labels: list[tuple[int, str]]  # (column, text)
    rows: list[tuple[str, list[Cell | None]]]  # (row label, cell per column; None: no cell)
    width: int  # characters per column in plain text (months need room for their label)


def print_heatmaps(views: Sequence[HeatmapView], out: IO[str] | None = None) -> None:
    """Each ritual's calendar: coloured and fitted to the terminal's width on a terminal, the
    whole year in plain characters when piped."""
    stream = out or sys.stdout
    console = None
    if stream.isatty():
        from rich.console import Console

        console = Console(file=stream)
    for view in views:
        name, cells, every = view.ritual.name, view.cells, view.every
        if console is None:
            print(render_heatmap(name, cells, every, False), file=stream)
        else:
            console.print(render_heatmap(name, cells, every, True, console.width))


@overload
def render_heatmap(
    name: str, cells: Sequence[Cell], period: Every, color: Literal[False], width: int | None = None
) -> str: ...
@overload
def render_heatmap(
    name: str, cells: Sequence[Cell], period: Every, color: Literal[True], width: int | None = None
) -> Text | str: ...
@overload
def render_heatmap(
    name: str, cells: Sequence[Cell], period: Every, color: bool, width: int | None = None
) -> Text | str: ...


def render_heatmap(
    name: str, cells: Sequence[Cell], period: Every, color: bool, width: int | None = None
) -> Text | str:
    """The calendar for one ritual: a rich Text when ``color``, else a plain str (for pipes).

    With no cells it is a one-line str either way; both print with ``rich.console.Console.print``.
    ``width`` (the terminal's columns) is what the calendar must fit in: the squares move
    together first (a compact form), then the oldest weeks (or months) are left out, and the
    header says which days are shown. The name is never shortened.
    """
    if not cells:
        return f"{name}: nothing to show yet\n"
    grid = _grid(cells, period)
    spacing = 2 if color and grid.width == 1 else grid.width  # coloured squares read best apart
    if width is not None:
        columns = max(len(row) for _, row in grid.rows)
        if _INDENT + columns * spacing > width and grid.width == 1:
            spacing = 1  # compact: the squares side by side
        fit = max(1, (width - _INDENT) // spacing)
        if columns > fit:
            cells = _last_columns(cells, period, fit)
            grid = _grid(cells, period)
    first, last = cells[0].day, cells[-1].day
    header = f"{name} ({period.kind.adverb}), {first.isoformat()} to {last.isoformat()}"
    if color:
        return _rich(header, grid, spacing)
    return _plain(header, grid, spacing)


def _grid(cells: Sequence[Cell], period: Every) -> _Grid:
    return _daily_grid(cells) if period.kind.fixed_days == 1 else _period_grid(cells, period)


def _last_columns(cells: Sequence[Cell], period: Every, columns: int) -> Sequence[Cell]:
    """The newest cells that fill ``columns`` columns: whole weeks of a daily ritual, else periods."""
    if period.kind.fixed_days != 1:
        return cells[-columns:]
    newest = cells[-1].day
    first_monday = newest - timedelta(days=newest.weekday()) - timedelta(weeks=columns - 1)
    return [cell for cell in cells if cell.day >= first_monday]


def _daily_grid(cells: Sequence[Cell]) -> _Grid:
    """Seven rows (Monday first) by one column per week, labelled where a month begins."""
    origin = cells[0].day - timedelta(days=cells[0].day.weekday())
    columns = (cells[-1].day - origin).days // 7 + 1
    table: list[list[Cell | None]] = [[None] * columns for _ in range(7)]
    for cell in cells:
        offset = (cell.day - origin).days
        table[offset % 7][offset // 7] = cell
    starts: list[tuple[int, str]] = []
    for column in range(columns):
        monday = origin + timedelta(days=7 * column)
        firsts = [monday + timedelta(days=n) for n in range(7) if (monday + timedelta(days=n)).day == 1]
        if firsts:
            starts.append((column, _MONTHS[firsts[0].month - 1]))
    labels = _with_leading_label(starts, (0, _MONTHS[cells[0].day.month - 1]), width=1)
    return _Grid(labels, list(zip(_ROW_LABELS, table, strict=True)), 1)


def _period_grid(cells: Sequence[Cell], period: Every) -> _Grid:
    """One row, one column per period: weeks labelled where a month begins, months by name."""
    if period.kind.fixed_days is None:  # months: a column each, labelled by name
        return _Grid([(n, _MONTHS[c.day.month - 1]) for n, c in enumerate(cells)], [("", list(cells))], 4)
    starts = [
        (n, _MONTHS[c.day.month - 1])
        for n, c in enumerate(cells)
        if n and c.day.month != cells[n - 1].day.month
    ]
    labels = _with_leading_label(starts, (0, _MONTHS[cells[0].day.month - 1]), width=1)
    return _Grid(labels, [("", list(cells))], 1)


def _with_leading_label(
    starts: list[tuple[int, str]], leading: tuple[int, str], width: int
) -> list[tuple[int, str]]:
    """Add a label for the first, partial month when it fits before the first real month start."""
    if starts and starts[0][0] == 0:
        return starts
    room = starts[0][0] * width if starts else len(leading[1]) + 1
    return [leading, *starts] if room >= len(leading[1]) + 1 else starts


def _label_line(labels: Sequence[tuple[int, str]], width: int) -> str:
    """Month labels at their columns, dropping one that would run into the one before."""
    line = ""
    for column, text in labels:
        position = _INDENT + column * width
        if position < len(line) + (1 if line.strip() else 0):
            continue
        line = line.ljust(position) + text
    return line


def _legend_plain() -> str:
    entries = [f"{PLAIN_CHARS[status]} {status}" for status in _LEGEND_ORDER]
    return "legend: " + "  ".join(entries) + "  (blank) before start"


def _plain(header: str, grid: _Grid, width: int) -> str:
    lines = [header, _label_line(grid.labels, width)]
    for label, row in grid.rows:
        body = "".join(PLAIN_CHARS[None if c is None else c.status].ljust(width) for c in row)
        lines.append((label.ljust(_INDENT) + body).rstrip())
    lines.append(_legend_plain())
    return "\n".join(lines) + "\n"


def _rich(header: str, grid: _Grid, width: int) -> Text:
    from rich.text import Text

    text = Text()
    text.append(header + "\n", style="bold")
    text.append(_label_line(grid.labels, width) + "\n", style="dim")
    for label, row in grid.rows:
        text.append(label.ljust(_INDENT), style="dim")
        for cell in row:
            glyph, style = _GLYPHS[None if cell is None else cell.status]
            text.append(glyph.ljust(width), style=style)
        text.append("\n")
    for status in _LEGEND_ORDER:
        glyph, style = _GLYPHS[status]
        text.append(glyph, style=style)
        text.append(f" {status}  ")
    text.append("(blank) before start\n", style="dim")
    return text
