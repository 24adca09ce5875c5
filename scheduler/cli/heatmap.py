"""The terminal heatmap: a GitHub-style calendar of one ritual's last year.

Rich colours on a terminal, distinct plain characters when piped. A daily ritual
is drawn as a Monday..Sunday by week grid, a weekly or monthly one as a row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Literal, overload

from scheduler.domain.cadence import Every
from scheduler.domain.heatmap import Cell
from scheduler.domain.streaks import PeriodStatus

if TYPE_CHECKING:
    from rich.text import Text

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


@overload
def render_heatmap(name: str, cells: Sequence[Cell], period: Every, color: Literal[False]) -> str: ...
@overload
def render_heatmap(name: str, cells: Sequence[Cell], period: Every, color: Literal[True]) -> Text | str: ...
@overload
def render_heatmap(name: str, cells: Sequence[Cell], period: Every, color: bool) -> Text | str: ...


def render_heatmap(name: str, cells: Sequence[Cell], period: Every, color: bool) -> Text | str:
    """The calendar for one ritual: a rich Text when ``color``, else a plain str (for pipes).

    With no cells it is a one-line str either way; both print with ``rich.console.Console.print``.
    """
    if not cells:
        return f"{name}: nothing to show yet\n"
    grid = _daily_grid(cells) if period.kind.fixed_days == 1 else _period_grid(cells, period)
    first, last = cells[0].day, cells[-1].day
    header = f"{name} ({period.kind.adverb}), {first.isoformat()} to {last.isoformat()}"
    if color:
        return _rich(header, grid, 2 if grid.width == 1 else grid.width)
    return _plain(header, grid)


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


def _plain(header: str, grid: _Grid) -> str:
    lines = [header, _label_line(grid.labels, grid.width)]
    for label, row in grid.rows:
        body = "".join(PLAIN_CHARS[None if c is None else c.status].ljust(grid.width) for c in row)
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
