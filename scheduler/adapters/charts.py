"""``ritual report --chart FILE.png|svg``: consistency over time and the balance, as a picture.

What it shows is ``scheduler.domain.trends`` (pure). ``write_chart``
draws it with matplotlib, an optional extra (``pip install 'ritual-scheduler[charts]'``),
imported only when a chart is asked for. It uses the Agg canvas and no pyplot state, and
writes no date into the file and a fixed SVG id salt, so the same data gives the same file.

The top panel plots, per ritual, the share of its periods kept over a rolling window
(four weeks, or its last four periods when those are longer): it puts daily, weekly and
monthly rituals on one 0..1 scale, where raw streak lengths would not be comparable.
The bottom panel shows the report window's completions per connection dimension.
"""

from __future__ import annotations

import io
import os
import secrets
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from scheduler.domain.errors import RitualError
from scheduler.domain.report import DimensionBalance
from scheduler.domain.trends import DAILY_SAMPLES_UP_TO, ROLLING_DAYS, ROLLING_PERIODS, ChartData

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

CHART_SUFFIXES = (".png", ".svg")
INSTALL_HINT = "pip install 'ritual-scheduler[charts]'"

_SVG_SALT = "ritual-scheduler"
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_DIMENSION_COLORS = {
    "emotional": "#d1495b",
    "physical": "#edae49",
    "intellectual": "#00798c",
    "experiential": "#30638e",
    "spiritual": "#8d6a9f",
}


# Ten colours that stay apart on screen and in print (matplotlib's "tab10"), then four line
# styles, then ten markers: every ritual's line is distinct up to 400 rituals.
_PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)  # fmt: skip
_LINE_STYLES = ("-", "--", ":", "-.")
_MARKERS = ("", "s", "^", "D", "v", "P", "X", "*", "<", ">")


def series_styles(count: int) -> list[tuple[str, str, str]]:
    """(colour, line style, marker) for ``count`` lines, each distinct from the others up to 400:
    colours first, a line style once they run out, a marker once both have."""
    styles = []
    for index in range(count):
        colour = _PALETTE[index % len(_PALETTE)]
        line = _LINE_STYLES[index // len(_PALETTE) % len(_LINE_STYLES)]
        marker = _MARKERS[index // (len(_PALETTE) * len(_LINE_STYLES)) % len(_MARKERS)]
        styles.append((colour, line, marker))
    return styles


class ChartsUnavailableError(RitualError):
    """matplotlib, the optional charts extra, is not installed."""


def check_chart_path(path: Path) -> str:
    """The image format a chart path asks for (png or svg); anything else is a ValueError."""
    suffix = path.suffix.lower()
    if suffix not in CHART_SUFFIXES:
        raise ValueError(f"chart file must end in .png or .svg: '{path.name}'")
    return suffix[1:]


def write_chart(data: ChartData, path: Path) -> Path:
    """Draw ``data`` into ``path`` (PNG or SVG by its suffix) and return the path.

    The picture shows a household's rituals and how they kept them, so, like an export, the
    file is its owner's alone (0600), from its first byte whatever the umask: it is written
    to a private file beside ``path`` and moved into place.
    """
    image_format = check_chart_path(path)
    matplotlib = _matplotlib()
    drawn = io.BytesIO()
    with matplotlib.rc_context({"svg.hashsalt": _SVG_SALT}):
        figure = _draw(data)
        figure.savefig(
            drawn, format=image_format, metadata={"Date": None} if image_format == "svg" else {}, dpi=100
        )
    _write_private(path, drawn.getvalue())  # an OSError is the caller's to word (`--chart X: ...`)
    return path


def _write_private(path: Path, content: bytes) -> None:
    """Replace ``path`` with ``content`` in a file only its owner can read."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(content)
        temporary.replace(path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _matplotlib() -> ModuleType:
    try:
        import matplotlib
    except ImportError:
        raise ChartsUnavailableError(f"charts need matplotlib: {INSTALL_HINT}") from None
    return matplotlib


def _draw(data: ChartData) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(10, 7.5), layout="constrained")
    FigureCanvasAgg(figure)  # the Agg canvas: no display, no pyplot state
    top, bottom = figure.subplots(2, 1, height_ratios=(3, 2))
    _draw_kept_share(top, data)
    _draw_balance(bottom, data)
    return figure


def _draw_kept_share(axes: Axes, data: ChartData) -> None:
    from matplotlib.ticker import PercentFormatter

    x = [(day - data.days[0]).days for day in data.days]
    short = len(x) <= 14
    for series, (color, linestyle, marker) in zip(data.series, series_styles(len(data.series)), strict=True):
        y = [float("nan") if share is None else share for share in series.kept_share]
        axes.plot(
            x,
            y,
            color=color,
            linestyle=linestyle,
            marker=marker or ("o" if short else ""),
            markevery=1 if short else max(1, len(x) // 8),
            markersize=4 if short or not marker else 6,
            linewidth=2,
            label=series.title,
        )
    axes.set_title(
        f"Share of periods kept (rolling {ROLLING_DAYS} days, or the last {ROLLING_PERIODS} periods)"
    )
    axes.set_ylim(-0.05, 1.05)
    axes.yaxis.set_major_formatter(PercentFormatter(1.0))
    ticks = _ticks(data.days)
    axes.set_xticks([(day - data.days[0]).days for day, _ in ticks], [label for _, label in ticks])
    axes.set_xlim(-0.5, max(x[-1], 1) + 0.5)
    axes.grid(True, alpha=0.3)
    if data.series:
        axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", frameon=False)
    else:
        axes.text(0.5, 0.5, "no rituals yet", ha="center", va="center", transform=axes.transAxes)


def _ticks(days: Sequence[date]) -> list[tuple[date, str]]:
    """Month starts for long windows, Mondays (or every day of a week) for short ones."""
    first, last = days[0], days[-1]
    span = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    if len(span) > DAILY_SAMPLES_UP_TO:
        starts = [day for day in span if day.day == 1]
        step = max(1, len(starts) // 12)
        return [(day, _month_label(day)) for day in starts[::step]]
    pick = span if len(span) <= 14 else [day for day in span if day.weekday() == 0]
    return [(day, f"{day.day} {_MONTHS[day.month - 1]}") for day in pick]


def _month_label(day: date) -> str:
    return f"{_MONTHS[day.month - 1]} {day.year}" if day.month == 1 else _MONTHS[day.month - 1]


def _draw_balance(axes: Axes, data: ChartData) -> None:
    from matplotlib.ticker import MaxNLocator

    names = [str(entry.dimension) for entry in data.balance]
    counts = [entry.completions for entry in data.balance]
    bars = axes.bar(names, counts, color=[_DIMENSION_COLORS.get(name, "#888888") for name in names])
    for bar, entry in zip(bars, data.balance, strict=True):
        axes.annotate(
            _bar_note(entry),
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            xytext=(0, 3),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize="small",
        )
    window = f"{data.first.isoformat()} to {data.last.isoformat()}"
    axes.set_title(f"Balance across the five kinds of connection, {window} (completions)")
    axes.set_ylim(0, max([*counts, 1]) * 1.2)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlabel(data.verdict[:1].upper() + data.verdict[1:])
    axes.spines[["top", "right"]].set_visible(False)


def _bar_note(entry: DimensionBalance) -> str:
    if entry.completions:
        return f"{entry.share:.0%}"
    return "no ritual" if not entry.rituals else ("neglected" if entry.neglected else "")
