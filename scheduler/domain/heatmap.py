"""The terminal heatmap: a GitHub-style calendar of one ritual's last year, period by period.

``heatmap_cells`` is pure (a history and a day in, cells out); ``render_heatmap``
draws them, with rich colours on a terminal or distinct plain characters when
piped. A daily ritual gets one cell per day in a Monday..Sunday by week grid;
a weekly ritual one row of week cells; a monthly ritual one row of month cells.
Every cell shows the status of the period that holds it, so a weekly ritual's
kept week is kept on each of its days alike.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Literal, overload

from scheduler.domain.cadence import Every, Period, periods
from scheduler.domain.streaks import History, PeriodOutcome, PeriodStatus, outcomes

if TYPE_CHECKING:
    from rich.text import Text

DEFAULT_DAYS = 365

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
_ADVERB = {Every.DAY: "daily", Every.WEEK: "weekly", Every.MONTH: "monthly"}
_INDENT = 4  # room for the weekday labels


@dataclass(frozen=True, slots=True)
class Cell:
    """One square: a ritual day (daily) or the first day of a period (weekly, monthly)."""

    day: date
    status: PeriodStatus | None  # None: before the ritual's start or after its end
    done: int = 0


def heatmap_cells(history: History, today: date, days: int = DEFAULT_DAYS) -> list[Cell]:
    """The cells of the last ``days`` ritual days up to ``today``, oldest first.

    Daily cadences get a cell per day; weekly and monthly ones a cell per period
    overlapping those days (at most ~53 weeks or 12 months for a year).
    """
    if days < 1:
        raise ValueError(f"a heatmap needs at least one day, not '{days}'")
    listed = outcomes(history, today)
    first = today - timedelta(days=days - 1)
    newest = max(history.versions, key=lambda version: version[0])[1]
    if newest.every is Every.DAY:
        return [_cell(listed, first + timedelta(days=n), history.start) for n in range(days)]
    spans = list(periods(newest, first, today))
    cap = days // 7 + 1 if newest.every is Every.WEEK else max(1, days * 12 // DEFAULT_DAYS)
    return [_period_cell(listed, span, history.start) for span in spans[-cap:]]


def _holding(listed: Sequence[PeriodOutcome], day: date) -> PeriodOutcome | None:
    index = bisect_right([o.period.start for o in listed], day) - 1
    if index >= 0 and day < listed[index].period.end:
        return listed[index]
    return None


def _cell(listed: Sequence[PeriodOutcome], day: date, start: date) -> Cell:
    outcome = _holding(listed, day) if day >= start else None
    return Cell(day, None, 0) if outcome is None else Cell(day, outcome.status, outcome.done)


def _period_cell(listed: Sequence[PeriodOutcome], span: Period, start: date) -> Cell:
    if span.end <= start:
        return Cell(span.start, None, 0)
    outcome = _holding(listed, max(span.start, start))
    return Cell(span.start, None, 0) if outcome is None else Cell(span.start, outcome.status, outcome.done)


# --- drawing --------------------------------------------------------------------------------------


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
    grid = _daily_grid(cells) if period is Every.DAY else _period_grid(cells, period)
    first, last = cells[0].day, cells[-1].day
    header = f"{name} ({_ADVERB[period]}), {first.isoformat()} to {last.isoformat()}"
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
    if period is Every.MONTH:
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
